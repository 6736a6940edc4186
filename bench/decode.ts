// Decode benchmark: how many 64-byte events per second the generated decoder turns into objects.
// The event is the bench fixture's `struct event` (u64 seq, u64 ts, u32 pid, u32 cpu, char comm[16],
// u64 pad[3]); the decoder is the golden module's `BenchEvent.decode`, exactly as generated. Events
// sit back to back in one big buffer, as a ring buffer batch delivers them.
//
// Run: node dist/bench/decode.js [--seconds 2] [--compare] [--json] [--decoder generated|dataview|interpreted|view]
// (target ≥ 14 M events/s on the 2-core dev machine). `--compare` also runs the alternatives: the
// generated code as it was before 64-bit words (every field through the DataView), a table-interpreted
// decoder (the style straight-line code was chosen against) and the lazy view. Each runs in its own
// process: decoders sharing one loop make its call site polymorphic, which measures the mix, not them.

import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { codecs, LE } from "@bpf2ts/runtime";
import { runPinned } from "./util.js";
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

/** The generated decoder before 64-bit words: u64 fields by `getBigUint64`, arrays by `codecs.typedArray`. */
function dataViewDecode(v: DataView, o: number): Event {
  return {
    seq: v.getBigUint64(o, LE),
    ts: v.getBigUint64(o + 8, LE),
    pid: v.getUint32(o + 16, LE),
    cpu: v.getUint32(o + 20, LE),
    comm: codecs.cstring(v, o + 24, 16),
    pad: codecs.typedArray(BigUint64Array, v, o + 40, 3),
  };
}

type Decoder = "generated" | "dataview" | "interpreted" | "view";
const decoders: readonly Decoder[] = ["generated", "dataview", "interpreted", "view"];

/** Decodes the batch in a loop for about `seconds` seconds; returns events/s. */
export function runDecodeBench(opts: { seconds?: number; batch?: number; decoder?: Decoder } = {}): DecodeBenchResult {
  const seconds = opts.seconds ?? 2;
  const batch = opts.batch ?? 4096;
  const view = makeBatch(batch);
  const size = BenchEvent.size;
  // "view": the lazy zero-copy view, its getters reading the same fields.
  const decode = opts.decoder === "interpreted" ? interpretedDecode : opts.decoder === "dataview" ? dataViewDecode : opts.decoder === "view" ? BenchEvent.view : BenchEvent.decode;
  let sink = 0;
  // The sum stays in a local: a captured one outgrows a small integer and then boxes a heap number
  // on every add, an allocation per event that is the loop's, not the decoder's.
  const pass = (): number => {
    let sum = 0;
    for (let i = 0, o = 0; i < batch; i++, o += size) {
      const e = decode(view, o);
      // Every field is read (as the ring-buffer benchmark's consumer does): fields nobody reads
      // let the JIT drop their decoding, which measures less than a consumer does.
      sum += e.pid + e.cpu + e.comm.length + e.pad.length + (e.seq === e.ts ? 1 : 0);
    }
    return sum;
  };
  // Warm up so the measured loop runs optimised code.
  for (let i = 0; i < 50; i++) sink += pass();
  let events = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 20; i++) sink += pass();
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
      : opts.decoder === "dataview"
        ? "decode 64-byte event (generated before 64-bit words: DataView reads)"
        : opts.decoder === "view"
        ? "view 64-byte event, read every field (generated BenchEvent.view)"
        : "decode 64-byte event (generated BenchEvent.decode)";
  return { name, events, seconds: secs, eventsPerSecond: events / secs, eventsPerCpuSecond: events / cpuSecs };
}

/**
 * `runs` fresh processes pinned to one CPU (DECODE_CPU, default 0), each decoding for `seconds`:
 * the median run. A decoder's speed depends on what the JIT made of it in that process, and in
 * the bench's own process on whatever ran before, so one in-process run is a poor sample.
 */
export function runDecodeBenchPinned(opts: { runs?: number; seconds?: number } = {}): DecodeBenchResult & { runs: number; minEventsPerCpuSecond: number; maxEventsPerCpuSecond: number } {
  const self = fileURLToPath(import.meta.url);
  const argv = [self, "--seconds", String(opts.seconds ?? 2), "--json"];
  const results: DecodeBenchResult[] = [];
  for (let i = 0; i < (opts.runs ?? 5); i++) results.push(JSON.parse(runPinned(process.env.DECODE_CPU ?? "0", process.execPath, argv)) as DecodeBenchResult);
  results.sort((a, b) => a.eventsPerCpuSecond - b.eventsPerCpuSecond);
  const mid = results[Math.floor(results.length / 2)]!;
  return { ...mid, runs: results.length, minEventsPerCpuSecond: results[0]!.eventsPerCpuSecond, maxEventsPerCpuSecond: results.at(-1)!.eventsPerCpuSecond };
}

export function formatDecodeBench(r: DecodeBenchResult): string {
  return `${r.name}: ${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s wall, ${(r.eventsPerCpuSecond / 1e6).toFixed(2)} M events/s of CPU time (${r.events} events in ${r.seconds.toFixed(2)} s)`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const seconds = Number(arg("--seconds") ?? 2);
  const decoder = (arg("--decoder") ?? "generated") as Decoder;
  if (!decoders.includes(decoder)) throw new Error(`decode bench: unknown decoder ${decoder} (one of ${decoders.join(", ")})`);
  if (process.argv.includes("--compare")) {
    // Twice round, alternating, so a neighbour's load shows up as disagreement between rounds.
    const self = fileURLToPath(import.meta.url);
    for (const d of [...decoders, ...decoders]) {
      process.stdout.write(execFileSync(process.execPath, [self, "--seconds", String(seconds), "--decoder", d], { encoding: "utf8" }));
    }
  } else if (process.argv.includes("--json")) {
    console.log(JSON.stringify(runDecodeBench({ seconds, decoder })));
  } else {
    console.log(formatDecodeBench(runDecodeBench({ seconds, decoder })));
  }
}
