// Decode benchmark: how many 64-byte events per second the generated decoder turns into objects.
// The event is the bench fixture's `struct event` (u64 seq, u64 ts, u32 pid, u32 cpu, char comm[16],
// u64 pad[3]); the decoder is the golden module's `BenchEvent.decode`, exactly as generated. Events
// sit back to back in one big buffer, as a ring buffer batch delivers them.
//
// Run: node dist/bench/decode.js [--seconds 2]   (target ≥ 14 M events/s on the 2-core dev machine)

import { pathToFileURL } from "node:url";
import { BenchEvent } from "../fixtures/golden/bench/bench.js";

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

/** Decodes the batch in a loop for about `seconds` seconds; returns events/s. */
export function runDecodeBench(opts: { seconds?: number; batch?: number } = {}): DecodeBenchResult {
  const seconds = opts.seconds ?? 2;
  const batch = opts.batch ?? 4096;
  const view = makeBatch(batch);
  const size = BenchEvent.size;
  let sink = 0;
  const pass = (): void => {
    for (let i = 0, o = 0; i < batch; i++, o += size) {
      const e = BenchEvent.decode(view, o);
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
  return { name: "decode 64-byte event (generated BenchEvent.decode)", events, seconds: secs, eventsPerSecond: events / secs, eventsPerCpuSecond: events / cpuSecs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--seconds");
  const r = runDecodeBench({ seconds: i > 0 ? Number(process.argv[i + 1]) : 2 });
  console.log(`${r.name}: ${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s wall, ${(r.eventsPerCpuSecond / 1e6).toFixed(2)} M events/s of CPU time (${r.events} events in ${r.seconds.toFixed(2)} s)`);
}
