// What every tracer CLI shares: option parsing with usage text, `--json` output, `--duration`, a clean
// stop on SIGINT/SIGTERM, and the lost-event report. Tracer CLIs stay a page long by leaning on it.

import { parseArgs } from "node:util";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  /** Shown in the usage line for string options, e.g. "PID". */
  value?: string;
  multiple?: boolean;
}

export interface CliSpec {
  name: string;
  summary: string;
  options: Readonly<Record<string, OptionSpec>>;
  examples?: readonly string[];
}

/** Options every tracer CLI takes. */
export const commonOptions: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print one JSON object per line instead of text" },
  duration: { type: "string", short: "d", value: "SECONDS", description: "stop after this many seconds (default: until Ctrl-C)" },
  // Served by ./metrics.ts (startMetrics); a tracer that declares no metric refuses them.
  metrics: { type: "string", value: "ADDR:PORT", description: "serve Prometheus metrics at http://ADDR:PORT/metrics" },
  otlp: { type: "string", value: "URL", description: "push metrics over OTLP/HTTP (e.g. http://127.0.0.1:4318; OTEL_* env honoured)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

export class UsageError extends Error {
  override name = "UsageError";
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

export function usage(spec: CliSpec): string {
  const all = { ...spec.options, ...commonOptions };
  const rows = Object.entries(all).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${k}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    return `  ${flag.padEnd(28)} ${o.description}`;
  });
  const ex = spec.examples?.length ? `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}\n` : "";
  return `Usage: ${spec.name} [options]\n\n${spec.summary}\n\nOptions:\n${rows.join("\n")}\n${ex}`;
}

/**
 * Parses argv against the spec. `--help` prints usage and exits 0; a bad option prints the problem
 * and usage to stderr and exits 2 (the bpf2ts exit-code convention).
 */
export function parseCli(spec: CliSpec, argv: string[] = process.argv.slice(2)): ParsedValues {
  const all = { ...spec.options, ...commonOptions };
  const options = Object.fromEntries(
    Object.entries(all).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  let values: ParsedValues;
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as ParsedValues;
  } catch (e) {
    process.stderr.write(`${spec.name}: ${(e as Error).message}\n\n${usage(spec)}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage(spec));
    process.exit(0);
  }
  return values;
}

/** Reads an integer option; undefined when absent. Throws UsageError on junk. */
export function intOption(values: ParsedValues, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Reads a non-negative number option (fractions allowed), e.g. seconds or milliseconds. */
export function numberOption(values: ParsedValues, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name}: expected a non-negative number, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Reads a string option; when `maxBytes` is given it must fit (e.g. a 16-byte comm with its NUL). */
export function stringOption(values: ParsedValues, name: string, maxBytes?: number): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new UsageError(`--${name}: expected a value`);
  if (maxBytes !== undefined && Buffer.byteLength(v) > maxBytes) throw new UsageError(`--${name}: at most ${maxBytes} bytes, got ${JSON.stringify(v)}`);
  return v;
}

// SIGINT/SIGTERM are listened for from main()'s start: a signal that arrives while the tracer is still
// loading (an OTLP exporter starting, a slow verifier) ends it through its normal cleanup once set-up
// is done, instead of killing it with its links half made. A second signal kills as usual.
let stopSignalled = false;
const stopWaiters = new Set<() => void>();
function onStopSignal(sig: NodeJS.Signals): void {
  if (stopSignalled) {
    process.off("SIGINT", onStopSignal);
    process.off("SIGTERM", onStopSignal);
    process.kill(process.pid, sig);
    return;
  }
  stopSignalled = true;
  for (const wake of stopWaiters) wake();
}
function listenForStop(): void {
  if (process.listeners("SIGINT").includes(onStopSignal)) return;
  process.on("SIGINT", onStopSignal);
  process.on("SIGTERM", onStopSignal);
}

/**
 * Resolves when the tracer should stop: after `durationSec` (if given), on SIGINT/SIGTERM (also one
 * that came before this call), or when `signal` aborts. A second Ctrl-C during cleanup kills as usual.
 */
export function untilStopped(durationSec?: number, signal?: AbortSignal): Promise<"duration" | "signal" | "aborted"> {
  listenForStop();
  return new Promise((resolve) => {
    const done = (why: "duration" | "signal" | "aborted") => {
      clearTimeout(timer);
      clearInterval(keepAlive);
      stopWaiters.delete(onSignal);
      signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onSignal = () => done("signal");
    const onAbort = () => done("aborted");
    const timer = durationSec !== undefined ? setTimeout(() => done("duration"), durationSec * 1000) : undefined;
    // Signal handlers do not keep Node running: without this, a tracer that only reads maps at the end
    // (no ring buffer reader, no --duration) would exit at once with nothing printed.
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    stopWaiters.add(onSignal);
    if (stopSignalled) onSignal();
    else if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** JSON with bigints as numbers when exact, else strings; typed arrays as arrays. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? Number(x) : x));
    return v;
  });
}

/** Writes a line to stdout. Kept in one place so a closed pipe (`| head`) ends the tracer quietly. */
export function out(line: string): void {
  process.stdout.write(line + "\n");
}


/** The lost-events line printed when a tracer stops (to stderr, so `--json` output stays clean). */
export function reportLost(what: string, lost: bigint | number): void {
  if (BigInt(lost) > 0n) process.stderr.write(`${lost} ${what} lost in total (ring buffer full or map full)\n`);
}

/**
 * Reports lost events as they happen: every `everyMs` the kernel-side counter (a `.bss` variable the
 * BPF program increments when its ring buffer or map is full) is read, and growth is printed to stderr.
 * Returns a function that stops watching and prints the total.
 */
export function watchLost(read: () => bigint, what: string, everyMs = 1000): () => void {
  let last = 0n;
  const check = () => {
    const now = read();
    if (now > last) process.stderr.write(`${now - last} ${what} lost (ring buffer full)\n`);
    last = now;
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    reportLost(what, read());
  };
}

/** Runs a CLI's main, mapping UsageError to exit code 2 and other errors to 1 with "name: message". */
export function main(name: string, body: () => Promise<void>): void {
  listenForStop();
  // `tracer | head`: a closed pipe stops the tracer through the normal SIGTERM path (links detached).
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.kill(process.pid, "SIGTERM");
  });
  body().then(
    () => process.exit(0),
    (e: unknown) => {
      const err = e as Error;
      if (err instanceof UsageError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name}: ${err?.message ?? String(e)}\n`);
      if (process.env.BPF2TS_DEBUG && err?.stack) process.stderr.write(err.stack + "\n");
      process.exit(1);
    },
  );
}

/** A reader that can stop its callbacks and hand over what is left (the runtime's RingBuf, PerfEventArray). */
export interface DrainableReader<E> {
  stop(): void;
  consume(cb: (event: E) => void): number;
}

/** Stops callbacks and prints the events that arrived before the stop, so none are silently dropped. */
export function drain<E>(reader: DrainableReader<E>, handle: (event: E) => void): void {
  reader.stop();
  reader.consume(handle);
}
