// Metrics costs: one Prometheus scrape of a 10,000-entry hash map (batch read, labels, text), and
// per-event metric updates (a counter by comm and a log2 histogram) against the rate at which events
// are decoded without metrics, measured in the same process.

import { performance } from "node:perf_hooks";
import { createMap, type Codec, type HashMap } from "@bpf2ts/runtime";
import { defineMetrics, MetricsRegistry, promRegistry } from "@bpf2ts/runtime/metrics";
import { median } from "./util.js";

const u32: Codec<number> = { size: 4, align: 4, decode: (v, o = 0) => v.getUint32(o, true), encode: (x, v, o = 0) => v.setUint32(o, x, true) };
const u64: Codec<bigint> = { size: 8, align: 8, decode: (v, o = 0) => v.getBigUint64(o, true), encode: (x, v, o = 0) => v.setBigUint64(o, x, true) };

interface Event { ns: bigint; pid: number; comm: string }
const decoder = new TextDecoder("latin1");
function decode(v: DataView, o: number): Event {
  const bytes = new Uint8Array(v.buffer, v.byteOffset + o + 16, 16);
  const end = bytes.indexOf(0);
  return { ns: v.getBigUint64(o, true), pid: v.getUint32(o + 8, true), comm: decoder.decode(end < 0 ? bytes : bytes.subarray(0, end)) };
}

export interface MetricsBenchResult {
  entries: number;
  scrapeMs: number;
  collectMs: number;
  bytes: number;
  decodePerSec: number;
  decodeObservePerSec: number;
}

export async function runMetricsBench(): Promise<MetricsBenchResult> {
  const entries = 10_000;
  const map = createMap<HashMap<number, bigint>>({ type: "hash", keySize: 4, valueSize: 8, maxEntries: entries }, { key: u32, value: u64 });
  try {
    for (let i = 0; i < entries; i++) map.set(i, BigInt(i * 3));
    const specs = defineMetrics([{ name: "bench_calls_total", kind: "counter", help: "calls", map: "calls", source: "map", labels: [{ name: "id", field: [], format: "number" }] }]);
    const registry = new MetricsRegistry({ calls: map }, specs, { labelLimit: 20_000 });
    const prom = promRegistry(registry);
    let bytes = 0;
    const scrapes: number[] = [], collects: number[] = [];
    for (let r = 0; r < 9; r++) {
      let t0 = performance.now();
      bytes = (await prom.metrics()).length;
      scrapes.push(performance.now() - t0);
      t0 = performance.now();
      registry.collect();
      collects.push(performance.now() - t0);
    }

    // 4096 64-byte records with 16 comms; decoded in a loop, with and without metric updates.
    const buf = new DataView(new ArrayBuffer(64 * 4096));
    for (let i = 0; i < 4096; i++) {
      buf.setBigUint64(i * 64, BigInt(1000 + ((i * 7919) % 1_000_000)), true);
      buf.setUint32(i * 64 + 8, i, true);
      new Uint8Array(buf.buffer, i * 64 + 16, 16).set(Buffer.from(`comm${i % 16}`));
    }
    const events = new MetricsRegistry({ events: {} }, defineMetrics([
      { name: "bench_events_total", kind: "counter", help: "events", map: "events", source: "event", labels: [{ name: "comm", field: ["comm"], format: "string" }] },
      { name: "bench_latency_seconds", kind: "histogram", help: "latency", map: "events", source: "event", value: ["ns"], labels: [{ name: "comm", field: ["comm"], format: "string" }], buckets: { type: "log2" }, unit: "ns", exportUnit: "seconds" },
    ]));
    const observe = events.observer("events")!;
    const rate = (withMetrics: boolean): number => {
      const rounds: number[] = [];
      for (let r = 0; r < 7; r++) {
        const n = 1_000_000;
        let sink = 0;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const e = decode(buf, (i & 4095) * 64);
          if (withMetrics) observe(e);
          sink += e.pid;
        }
        rounds.push(n / ((performance.now() - t0) / 1000));
        if (sink < 0) throw new Error("unreachable");
      }
      return median(rounds);
    };
    rate(false);
    rate(true);
    return { entries, scrapeMs: median(scrapes), collectMs: median(collects), bytes, decodePerSec: rate(false), decodeObservePerSec: rate(true) };
  } finally {
    map.close();
  }
}

export function formatMetricsBench(r: MetricsBenchResult): string {
  const m = (x: number) => `${(x / 1e6).toFixed(2)} M/s`;
  return [
    `scrape of a ${r.entries}-entry hash map (counter per key): ${r.scrapeMs.toFixed(1)} ms (map read + labels: ${r.collectMs.toFixed(1)} ms; ${(r.bytes / 1024).toFixed(0)} KiB of text), median of 9`,
    `events decoded: ${m(r.decodePerSec)} without metrics, ${m(r.decodeObservePerSec)} with a counter by comm and a log2 histogram (${((1e9 / r.decodeObservePerSec) - (1e9 / r.decodePerSec)).toFixed(0)} ns per event)`,
  ].join("\n");
}
