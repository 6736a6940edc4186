// The metrics runtime against real kernel maps: per-CPU values summed, histograms made cumulative
// with `le` bounds in the exported unit, the label limit and its dropped counter, event metrics;
// and the OTLP/HTTP exporter's payloads decoded at the protocol level by a local HTTP server (this
// is not a test against an OpenTelemetry collector: none is packaged here).

import test from "ava";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createMap, possibleCpuCount, type Codec, type PerCpuHashMap } from "@bpf2ts/runtime";
import { defineMetrics, formatIpv4, formatIpv6, MetricsRegistry, promRegistry } from "@bpf2ts/runtime/metrics";
import { pushMetrics } from "@bpf2ts/runtime/otlp";
import { requireFeature } from "./helpers/kernel.js";

interface Stat { count: bigint; slots: Uint32Array }
const Stat: Codec<Stat> = {
  size: 24,
  align: 8,
  decode: (v, o = 0) => ({ count: v.getBigUint64(o, true), slots: new Uint32Array(v.buffer.slice(v.byteOffset + o + 8, v.byteOffset + o + 24)) }),
  encode: (x, v, o = 0) => {
    v.setBigUint64(o, x.count, true);
    x.slots.forEach((s, i) => v.setUint32(o + 8 + 4 * i, s, true));
  },
};
const u32: Codec<number> = { size: 4, align: 4, decode: (v, o = 0) => v.getUint32(o, true), encode: (x, v, o = 0) => v.setUint32(o, x, true) };

const specs = defineMetrics([
  { name: "t_calls_total", kind: "counter", help: "calls", map: "stats", source: "map", value: ["count"], labels: [{ name: "id", field: [], format: "number" }] },
  { name: "t_lat_seconds", kind: "histogram", help: "latency", map: "stats", source: "map", value: ["slots"], labels: [{ name: "id", field: [], format: "number" }], buckets: { type: "log2" }, unit: "us", exportUnit: "seconds" },
  { name: "t_events_total", kind: "counter", help: "events", map: "events", source: "event", labels: [{ name: "comm", field: ["comm"], format: "string" }] },
  { name: "t_event_ms", kind: "histogram", help: "event latency", map: "events", source: "event", value: ["ns"], labels: [], buckets: { type: "linear", min: 0, step: 1_000_000, count: 3 }, unit: "ns", exportUnit: "ms" },
]);

function withMap(t: import("ava").ExecutionContext): PerCpuHashMap<number, Stat> {
  const map = createMap<PerCpuHashMap<number, Stat>>({ type: "percpu_hash", keySize: 4, valueSize: Stat.size, maxEntries: 16 }, { key: u32, value: Stat });
  t.teardown(() => map.close());
  const cpus = possibleCpuCount();
  // Key 1: every CPU holds count 2 and one observation in slots 0 and 2; key 2: only CPU 0.
  map.set(1, Array.from({ length: cpus }, () => ({ count: 2n, slots: Uint32Array.of(1, 0, 1, 0) })));
  map.set(2, Array.from({ length: cpus }, (_, c) => ({ count: c === 0 ? 5n : 0n, slots: Uint32Array.of(0, 0, 0, c === 0 ? 3 : 0) })));
  return map;
}

test("a registry over a real per-CPU hash map: CPUs summed, log2 buckets cumulative in seconds, event metrics, label limit", async (t) => {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  const cpus = possibleCpuCount();
  const stats = withMap(t);
  const events = { type: "ringbuf" };
  const registry = new MetricsRegistry({ stats, events }, specs);
  for (const e of [{ comm: "sh", ns: 500_000 }, { comm: "sh", ns: 1_500_000 }, { comm: "ls", ns: 9_000_000 }]) registry.observe("events", e);
  const text = await promRegistry(registry).metrics();
  t.regex(text, /^t_calls_total\{id="1"\} (\d+)$/m);
  t.is(Number(/^t_calls_total\{id="1"\} (\d+)$/m.exec(text)![1]), 2 * cpus);
  t.is(Number(/^t_calls_total\{id="2"\} (\d+)$/m.exec(text)![1]), 5);
  // Slot i holds [2^i, 2^(i+1)) µs: inclusive bounds 1, 3, 7 µs; the last slot is open (+Inf).
  const bucket = (id: number, le: string) => Number(new RegExp(`^t_lat_seconds_bucket\\{id="${id}",le="${le.replace(/[+.]/g, "\\$&")}"\\} (\\d+)$`, "m").exec(text)?.[1]);
  t.is(bucket(1, "0.000001"), cpus);
  t.is(bucket(1, "0.000003"), cpus);
  t.is(bucket(1, "0.000007"), 2 * cpus);
  t.is(bucket(1, "+Inf"), 2 * cpus);
  t.is(bucket(2, "0.000007"), 0);
  t.is(bucket(2, "+Inf"), 3);
  t.regex(text, /^t_lat_seconds_count\{id="2"\} 3$/m);
  // No sum field: estimated from bucket midpoints (slot 3 is [8, 15] µs, midpoint 11.5 µs).
  t.is(Number(/^t_lat_seconds_sum\{id="2"\} (\S+)$/m.exec(text)![1]), 3 * 11.5e-6);
  t.regex(text, /^t_events_total\{comm="sh"\} 2$/m);
  t.regex(text, /^t_events_total\{comm="ls"\} 1$/m);
  t.regex(text, /^t_event_ms_bucket\{le="0\.999999"\} 1$/m);
  t.regex(text, /^t_event_ms_bucket\{le="1\.999999"\} 2$/m);
  t.regex(text, /^t_event_ms_bucket\{le="\+Inf"\} 3$/m);
  t.regex(text, /^t_event_ms_sum 11$/m);
  t.regex(text, /^# TYPE t_lat_seconds histogram$/m);

  // The label limit: one label set per metric; the rest are dropped and counted.
  const small = new MetricsRegistry({ stats, events }, specs, { labelLimit: 1 });
  small.observe("events", { comm: "a", ns: 1 });
  small.observe("events", { comm: "b", ns: 1 });
  const limited = await promRegistry(small).metrics();
  t.is(limited.match(/^t_calls_total\{/gm)?.length, 1);
  t.regex(limited, /^bpf2ts_metrics_dropped_total\{metric="t_calls_total"\} 1$/m);
  t.regex(limited, /^bpf2ts_metrics_dropped_total\{metric="t_events_total"\} 1$/m);

  // Bad specs are refused with the metric's name.
  t.throws(() => new MetricsRegistry({ stats }, [{ ...specs[0]!, map: "nope" }]), { message: /metric "t_calls_total": the object has no map "nope"/ });
  t.throws(() => defineMetrics([{ ...specs[0]!, unit: "ns", exportUnit: "bytes" }]), { message: /cannot export ns as bytes/ });
});

test("label formats: IPv4 from a host-order __u32 and from bytes, IPv6 compressed and IPv4-mapped", (t) => {
  const b = Uint8Array.of(10, 0, 0, 7);
  t.is(formatIpv4(new DataView(b.buffer).getUint32(0, true)), "10.0.0.7");
  t.is(formatIpv4(b), "10.0.0.7");
  t.is(formatIpv6(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), "2001:db8::1");
  t.is(formatIpv6(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1)), "::ffff:127.0.0.1");
  t.is(formatIpv6(new Uint8Array(16)), "::");
});

test("OTLP/HTTP exporter payloads (decoded at the protocol level, no collector): sums, histograms, resource from OTEL_* env", async (t) => {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  const cpus = possibleCpuCount();
  const stats = withMap(t);
  const registry = new MetricsRegistry({ stats, events: {} }, specs);
  registry.observe("events", { comm: "sh", ns: 1_500_000 });
  const bodies: Array<{ path: string; type: string; body: unknown }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", type: req.headers["content-type"] ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  process.env.OTEL_SERVICE_NAME = "otlp-protocol-test";
  process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment=test";
  t.teardown(() => {
    delete process.env.OTEL_SERVICE_NAME;
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  });
  const pusher = pushMetrics(registry, { serviceName: "tracer", url: `http://127.0.0.1:${port}`, intervalMillis: 60_000 });
  await pusher.shutdown(); // exports once more on shutdown
  t.true(bodies.length >= 1);
  const { path, type, body } = bodies.at(-1)!;
  t.is(path, "/v1/metrics");
  t.is(type, "application/json");
  type Attr = { key: string; value: { stringValue?: string; intValue?: string | number } };
  const rm = (body as { resourceMetrics: Array<{ resource: { attributes: Attr[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: Array<Record<string, any>> }> }> }).resourceMetrics[0]!;
  const attr = (k: string) => rm.resource.attributes.find((a) => a.key === k)?.value;
  t.is(attr("service.name")?.stringValue, "otlp-protocol-test");
  t.is(attr("deployment.environment")?.stringValue, "test");
  t.is(Number(attr("process.pid")?.intValue), process.pid);
  t.truthy(attr("host.name")?.stringValue);
  const metrics = rm.scopeMetrics.find((s) => s.scope.name === "bpf2ts")!.metrics;
  const byName = (n: string) => metrics.find((m) => m.name === n)!;
  const calls = byName("t_calls_total");
  t.true(calls.sum.isMonotonic);
  t.is(calls.sum.aggregationTemporality, 2); // CUMULATIVE
  const point = (m: Record<string, any>, id: string) => (m.sum ?? m.histogram).dataPoints.find((p: { attributes: Attr[] }) => p.attributes.some((a) => a.key === "id" && a.value.stringValue === id));
  t.is(point(calls, "1").asDouble, 2 * cpus);
  const lat = byName("t_lat_seconds");
  t.is(lat.unit, "s");
  const h = point(lat, "1");
  t.deepEqual(h.explicitBounds, [0.000001, 0.000003, 0.000007]);
  t.deepEqual(h.bucketCounts.map(Number), [cpus, 0, cpus, 0]);
  t.is(Number(h.count), 2 * cpus);
  const ev = byName("t_events_total").sum.dataPoints[0];
  t.deepEqual(ev.attributes, [{ key: "comm", value: { stringValue: "sh" } }]);
  t.is(ev.asDouble, 1);
});

test("event metrics: a relabel mapping several raw values to one label keeps one series; metrics with the same labels share a key; the label limit holds", (t) => {
  const registry = new MetricsRegistry({ events: {} }, defineMetrics([
    { name: "t_calls_total", kind: "counter", help: "h", map: "events", source: "event", labels: [{ name: "fn", field: ["addr"], format: "number" }, { name: "comm", field: ["comm"], format: "string" }] },
    { name: "t_bytes_total", kind: "counter", help: "h", map: "events", source: "event", value: ["len"], labels: [{ name: "fn", field: ["addr"], format: "number" }, { name: "comm", field: ["comm"], format: "string" }] },
    { name: "t_by_pid_total", kind: "counter", help: "h", map: "events", source: "event", labels: [{ name: "pid", field: ["pid"], format: "number" }] },
  ]), { labelLimit: 3, relabel: { fn: (raw) => (Number(raw) < 100 ? "low" : "high") } });
  const observe = registry.observer("events")!;
  t.is(registry.observer("events"), observe, "one callback per map");
  for (let i = 0; i < 10; i++) observe({ addr: i * 30, comm: "a", len: 2, pid: i });
  const byName = new Map(registry.collect().map((f) => [f.spec.name, f.samples as Array<{ labels: Record<string, string>; value: number }>]));
  t.deepEqual(byName.get("t_calls_total")!.map((s) => [s.labels, s.value]), [[{ fn: "low", comm: "a" }, 4], [{ fn: "high", comm: "a" }, 6]], "addresses 0..90 are one series, 120..270 another");
  t.deepEqual(byName.get("t_bytes_total")!.map((s) => s.value), [8, 12]);
  t.deepEqual(byName.get("t_by_pid_total")!.map((s) => s.labels.pid), ["0", "1", "2"], "a plain number label keyed by its value, formatted once");
  t.deepEqual(byName.get("bpf2ts_metrics_dropped_total")!.map((s) => [s.labels.metric, s.value]), [["t_by_pid_total", 7]]);
});
