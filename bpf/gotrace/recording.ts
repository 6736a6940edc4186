// `--record FILE` and `--replay FILE`: the event stream as JSON lines. The first line says what was
// traced (a RecordingHeader), then come the records in the order they were read, the reader's own
// counters every tick ({"event":"reader",…}) and process exits ({"event":"exit",…}). A replay plays
// them back at the recorded pace (long idle gaps shortened to a second) into the same sinks.

import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { ReaderStats } from "./live.js";
import type { GoRecord } from "./probes.js";

export interface RecordingHeader {
  gotrace: 1;
  binary: string;
  goVersion?: string;
  pid?: number;
  groups: string[];
  mallocSampling: number;
  /** Kernel monotonic time (ns) when tracing started: time 0 of the live view. */
  startNs: number;
  /** Wall-clock start, ISO 8601. */
  time: string;
}

export type RecordedLine = GoRecord | ReaderStats;

export class RecordingError extends Error {
  override name = "RecordingError";
}

/** Opens FILE for a new recording; refuses to replace an existing file. */
export async function createRecording(file: string, header: RecordingHeader): Promise<WriteStream> {
  const out = createWriteStream(file, { flags: "wx" });
  await new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", (e: NodeJS.ErrnoException) =>
      reject(new RecordingError(e.code === "EEXIST" ? `--record ${file}: the file exists; refusing to overwrite it (remove it or pick another name)` : `--record ${file}: ${e.message}`)),
    );
  });
  out.write(JSON.stringify(header) + "\n");
  return out;
}

/** Reads a recording: its header, then its lines (errors name the file and line). */
export async function openRecording(file: string): Promise<{ header: RecordingHeader; lines: AsyncGenerator<RecordedLine> }> {
  const input = createReadStream(file, { encoding: "utf8" });
  const opened = new Promise<void>((resolve, reject) => {
    input.once("ready", () => resolve());
    input.once("error", (e) => reject(new RecordingError(`--replay ${file}: ${e.message}`)));
  });
  await opened;
  const it = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  let n = 0;
  const parse = (text: string): Record<string, unknown> => {
    try {
      const v: unknown = JSON.parse(text);
      if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw new RecordingError(`${file}:${n}: not a JSON object: ${text.slice(0, 80)}`);
  };
  const first = await it.next();
  n = 1;
  const header = first.done ? undefined : parse(first.value);
  if (!header || header.gotrace !== 1 || typeof header.startNs !== "number") {
    input.destroy();
    throw new RecordingError(`${file}:1: not a gotrace recording (its first line must be the {"gotrace":1,…} header written by --record)`);
  }
  async function* lines(): AsyncGenerator<RecordedLine> {
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        n++;
        if (r.value.trim() === "") continue;
        const v = parse(r.value);
        if (typeof v.event !== "string" || typeof v.tsNs !== "number") throw new RecordingError(`${file}:${n}: a record needs "event" and "tsNs"`);
        yield v as unknown as RecordedLine;
      }
    } finally {
      input.destroy();
    }
  }
  return { header: header as unknown as RecordingHeader, lines: lines() };
}

/** Plays lines back at their recorded pace (times `speed`), from the header's start. */
export class Replayer {
  readonly #startNs: number;
  readonly #speed: number;
  /** performance.now() at recorded time startNs (moves forward when an idle gap is cut short). */
  #wallStart = 0;
  #lastNs: number;
  #done = false;

  constructor(startNs: number, speed = 1) {
    this.#startNs = startNs;
    this.#lastNs = startNs;
    this.#speed = speed;
  }

  /** The recorded time being replayed now (ns): it advances with the wall clock, and stops at the end. */
  get nowNs(): number {
    if (this.#done) return this.#lastNs;
    return Math.max(this.#lastNs, this.#startNs + (performance.now() - this.#wallStart) * this.#speed * 1e6);
  }

  async play(lines: AsyncIterable<RecordedLine>, sink: (line: RecordedLine) => void, signal?: AbortSignal): Promise<number> {
    this.#wallStart = performance.now();
    let count = 0;
    for await (const line of lines) {
      if (signal?.aborted) break;
      const dueMs = (line.tsNs - this.#startNs) / 1e6 / this.#speed;
      let waitMs = dueMs - (performance.now() - this.#wallStart);
      if (waitMs > 1000) {
        this.#wallStart -= waitMs - 1000; // an idle gap: shorten it to a second
        waitMs = 1000;
      }
      if (waitMs > 1) await sleep(waitMs, undefined, { signal }).catch(() => undefined);
      if (signal?.aborted) break;
      this.#lastNs = Math.max(this.#lastNs, line.tsNs);
      sink(line);
      count++;
    }
    this.#done = true;
    return count;
  }
}
