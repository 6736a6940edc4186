// {{name}}: loads {{name}}.bpf.c, attaches its tracepoint and prints one line per event until Ctrl-C.
// Options: --pid N (only this process), --duration S (stop after S seconds), --count N (stop after N
// events). Scaffolded by `bpf2ts init`; src/{{name}}.ts is generated from the C source.

import { {{load}}, type {{Event}} } from "./{{name}}.js";

const args = process.argv.slice(2);
const option = (name: string): number | undefined => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${args[i + 1]}`);
  return n;
};
const pid = option("pid");
const duration = option("duration");
const count = option("count");

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
