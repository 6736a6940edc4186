// Decode benchmark: how many 64-byte events per second the generated decoder turns into objects.
// The event is the bench fixture's `struct event` (u64 seq, u64 ts, u32 pid, u32 cpu, char comm[16],
// u64 pad[3]); the decoder is the golden module's `BenchEvent.decode`, exactly as generated. Events
// sit back to back in one big buffer, as a ring buffer batch delivers them.
//
// Run: node dist/bench/decode.js [--seconds 2] [--compare]   (target ≥ 14 M events/s on the 2-core
// dev machine). `--compare` also runs a table-interpreted decoder over the same fields, the style the
// generated straight-line code was chosen against.

import { pathToFileURL } from "node:url";
import { codecs, LE } from "@bpf2ts/runtime";
import { BenchEvent, type BenchEvent as Event } from "../fixtures/golden/bench/bench.js";

export interface DecodeBenchResult {
  readonly name: string;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Events per second of this process's CPU time: steadier than wall time on a shared machine. */
  readonly eventsPerCpuSecond: number;
}

const comms = ["bash", "node", "systemd-journal", "kworker/0:1H", "sshd", "containerd-shim", "sleep", "git"];

/** A buffer of `count` events, filled through the generated encoder. */
function makeBatch(count: number): DataView {
  const view = new DataView(new ArrayBuffer(count * BenchEvent.size));
  for (let i = 0; i < count; i++) {
    BenchEvent.encode(
      { seq: BigInt(i), ts: 1_000_000_000n + BigInt(i) * 997n, pid: 1000 + (i % 64), cpu: i & 1, comm: comms[i % comms.length]!, pad: new BigUint64Array(3) },
      view,
      i * BenchEvent.size,
    );
  }
  return view;
}

/**
 * The alternative the generated style was chosen against: one generic decoder interpreting a field
 * table (what a runtime-compiled, descriptor-driven codec does), over the same fields.
 */
type FieldKind = "u64" | "u32" | "cstring" | "u64s";
const table: readonly { name: keyof Event; kind: FieldKind; offset: number; count: number }[] = [
  { name: "seq", kind: "u64", offset: 0, count: 1 },
  { name: "ts", kind: "u64", offset: 8, count: 1 },
  { name: "pid", kind: "u32", offset: 16, count: 1 },
  { name: "cpu", kind: "u32", offset: 20, count: 1 },
  { name: "comm", kind: "cstring", offset: 24, count: 16 },
  { name: "pad", kind: "u64s", offset: 40, count: 3 },
];
function interpretedDecode(v: DataView, o: number): Event {
  const out: Record<string, unknown> = {};
  for (const f of table) {
    switch (f.kind) {
      case "u64":
        out[f.name] = v.getBigUint64(o + f.offset, LE);
        break;
      case "u32":
        out[f.name] = v.getUint32(o + f.offset, LE);
        break;
      case "cstring":
        out[f.name] = codecs.cstring(v, o + f.offset, f.count);
        break;
      case "u64s":
        out[f.name] = codecs.typedArray(BigUint64Array, v, o + f.offset, f.count);
        break;
    }
  }
  return out as unknown as Event;
}

/** Decodes the batch in a loop for about `seconds` seconds; returns events/s. */
export function runDecodeBench(opts: { seconds?: number; batch?: number; decoder?: "generated" | "interpreted" | "view" } = {}): DecodeBenchResult {
  const seconds = opts.seconds ?? 2;
  const batch = opts.batch ?? 4096;
  const view = makeBatch(batch);
  const size = BenchEvent.size;
  // "view": the lazy zero-copy view, reading only the fields the loop uses (pid, comm).
  const decode = opts.decoder === "interpreted" ? interpretedDecode : opts.decoder === "view" ? BenchEvent.view : BenchEvent.decode;
  let sink = 0;
  const pass = (): void => {
    for (let i = 0, o = 0; i < batch; i++, o += size) {
      const e = decode(view, o);
      sink += e.pid + e.comm.length;
    }
  };
  // Warm up so the measured loop runs optimised code.
  for (let i = 0; i < 50; i++) pass();
  let events = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 20; i++) pass();
    events += 20 * batch;
    elapsed = process.hrtime.bigint() - start;
  }
  if (sink === -1) console.log(sink); // keep the results observable
  const cpu = process.cpuUsage(cpu0);
  const secs = Number(elapsed) / 1e9;
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  const name =
    opts.decoder === "interpreted"
      ? "decode 64-byte event (table-interpreted, for comparison)"
      : opts.decoder === "view"
        ? "view 64-byte event, read pid + comm (generated BenchEvent.view)"
        : "decode 64-byte event (generated BenchEvent.decode)";
  return { name, events, seconds: secs, eventsPerSecond: events / secs, eventsPerCpuSecond: events / cpuSecs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--seconds");
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 2;
  const compare = process.argv.includes("--compare");
  for (const decoder of compare ? (["generated", "interpreted", "view", "generated", "interpreted", "view"] as const) : (["generated"] as const)) {
    const r = runDecodeBench({ seconds, decoder });
    console.log(`${r.name}: ${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s wall, ${(r.eventsPerCpuSecond / 1e6).toFixed(2)} M events/s of CPU time (${r.events} events in ${r.seconds.toFixed(2)} s)`);
  }
}
