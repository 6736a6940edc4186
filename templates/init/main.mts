// {{name}}: loads {{name}}.bpf.c, attaches its tracepoint and prints one line per event until Ctrl-C.
// Options: --pid N (only this process), --duration S (stop after S seconds), --count N (stop after N
// events). Scaffolded by `bpf2ts init`; src/{{name}}.ts is generated from the C source.

import { parseArgs } from "node:util";
import { {{load}}, type {{Event}} } from "./{{name}}.js";

const usage = `usage: {{name}} [--pid N] [--duration S] [--count N]
Prints one line per execve() until Ctrl-C. Needs root (or CAP_BPF and CAP_PERFMON).`;
const { pid, duration, count } = options();

const objs = await {{load}}({ constants: pid !== undefined ? { targetPid: pid } : {} });
try {
  await objs.attach();
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  if (duration !== undefined) setTimeout(() => stop.abort(), duration * 1000).unref();
  // `… | head`: the reader is gone, so stop as a shell tool does, without a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    stop.abort();
  });
  console.error("{{name}}: tracing execve(); Ctrl-C stops");
  console.log(["PID", "UID", "COMM", "FILENAME"].join("\t"));
  let seen = 0;
  for await (const e of objs.maps.events.events({ signal: stop.signal })) {
    print(e);
    if (count !== undefined && ++seen >= count) break;
  }
  const dropped = objs.variables.dropped.get();
  if (dropped > 0n) console.error(`{{name}}: ${dropped} events dropped (ring buffer full)`);
} finally {
  objs.close();
}

function print(e: {{Event}}): void {
  console.log([e.pid, e.uid, e.comm, e.filename].join("\t"));
}

/** The command line, checked: --help prints the usage; a bad option prints it too, exit 2. */
function options(): { pid: number | undefined; duration: number | undefined; count: number | undefined } {
  try {
    const { values } = parseArgs({
      options: { pid: { type: "string" }, duration: { type: "string" }, count: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    const integer = (name: "pid" | "duration" | "count"): number | undefined => {
      const text = values[name];
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${text}`);
      return n;
    };
    return { pid: integer("pid"), duration: integer("duration"), count: integer("count") };
  } catch (e) {
    console.error(`{{name}}: ${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
}
