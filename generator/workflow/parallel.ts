// Running independent jobs (one per configured program) at most `concurrency` at a time, with a
// progress display: on a terminal, one live line per job redrawn in place; elsewhere (CI, pipes,
// tests), one plain line per finished job, so logs stay readable and diffable.

import { availableParallelism } from "node:os";

export interface Job<T> {
  readonly name: string;
  /** `status` updates the job's progress line ("compiling", …). */
  run(status: (text: string) => void): Promise<T>;
}

export type Outcome<T> =
  | { readonly name: string; readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly name: string; readonly ok: false; readonly error: unknown; readonly ms: number };

export interface Progress {
  start(name: string): void;
  status(name: string, text: string): void;
  /** The job's last line: what it did, or why it failed. */
  finish(name: string, line: string, ok: boolean): void;
  /** A message that is not a status (warnings, clang's diagnostics), printed above any live display. */
  log(text: string): void;
  close(): void;
}

export interface RunOptions {
  /** Default: os.availableParallelism(). */
  readonly concurrency?: number;
  readonly progress?: Progress;
  /** Turns a finished job into its final line. */
  readonly describe?: (outcome: Outcome<unknown>) => string;
}

/** Runs every job; never rejects (failures are outcomes). Outcomes come back in the jobs' order. */
export async function runParallel<T>(jobs: ReadonlyArray<Job<T>>, opts: RunOptions = {}): Promise<Array<Outcome<T>>> {
  const limit = Math.max(1, Math.min(opts.concurrency ?? availableParallelism(), jobs.length || 1));
  const outcomes = new Array<Outcome<T>>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      const t0 = performance.now();
      opts.progress?.start(job.name);
      let outcome: Outcome<T>;
      try {
        const value = await job.run((text) => opts.progress?.status(job.name, text));
        outcome = { name: job.name, ok: true, value, ms: performance.now() - t0 };
      } catch (error) {
        outcome = { name: job.name, ok: false, error, ms: performance.now() - t0 };
      }
      outcomes[i] = outcome;
      opts.progress?.finish(job.name, opts.describe?.(outcome) ?? (outcome.ok ? "done" : `failed: ${(outcome.error as Error)?.message ?? String(outcome.error)}`), outcome.ok);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return outcomes;
}

/** One line per finished job (`[2/11] execsnoop: wrote …`) on `write`; logs (diagnostics) on `log`. */
export function plainProgress(write: (s: string) => void, total: number, logTo: (s: string) => void = write): Progress {
  let done = 0;
  return {
    start() {},
    status() {},
    finish(name, line) {
      done++;
      write(`[${done}/${total}] ${name}: ${line}\n`);
    },
    log(text) {
      logTo(text.endsWith("\n") ? text : text + "\n");
    },
    close() {},
  };
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A live block with one line per job (waiting, running with a spinner and elapsed time, done, failed),
 * redrawn in place with ANSI cursor movement. `names` fixes the order of the lines.
 */
export function ttyProgress(write: (s: string) => void, names: readonly string[], columns = 100): Progress {
  type Line = { state: "waiting" | "running" | "ok" | "failed"; text: string; t0: number };
  const lines = new Map<string, Line>(names.map((n) => [n, { state: "waiting", text: "waiting", t0: 0 }]));
  const width = Math.max(...names.map((n) => n.length));
  let drawn = 0;
  let frame = 0;
  const render = () => {
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const [name, l] of lines) {
      const mark = l.state === "running" ? SPINNER[frame % SPINNER.length] : l.state === "ok" ? "✓" : l.state === "failed" ? "✗" : "·";
      const time = l.state === "running" ? ` ${((performance.now() - l.t0) / 1000).toFixed(1)}s` : "";
      const row = `${mark} ${name.padEnd(width)}  ${l.text}${time}`;
      out += `\r\x1b[2K${row.length > columns - 1 ? row.slice(0, columns - 2) + "…" : row}\n`;
    }
    drawn = lines.size;
    write(out);
  };
  const timer = setInterval(() => {
    frame++;
    render();
  }, 100);
  timer.unref();
  render();
  const set = (name: string, patch: Partial<Line>) => {
    const l = lines.get(name);
    if (l) Object.assign(l, patch);
    render();
  };
  return {
    start: (name) => set(name, { state: "running", text: "generating", t0: performance.now() }),
    status: (name, text) => set(name, { text }),
    finish: (name, line, ok) => set(name, { state: ok ? "ok" : "failed", text: line }),
    log(text) {
      // Clear the block, print the message, draw the block again below it.
      write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J${text.endsWith("\n") ? text : text + "\n"}`);
      drawn = 0;
      render();
    },
    close() {
      clearInterval(timer);
      render();
    },
  };
}
