// A real Prometheus server (Debian's `prometheus`) scrapes live tracers: runqlat loaded in this
// process (so the test can read the same map and compare every bucket) and the execsnoop CLI with
// `--metrics`; kernel activity is caused and Prometheus's HTTP API queried for the series.

import test from "ava";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { MetricsRegistry, serveMetrics } from "@bpf2ts/runtime/metrics";
import { loadRunqlat, runqlatMetrics } from "../bpf/runqlat/runqlat.js";
import { requireFeature } from "./helpers/kernel.js";
import { makeTempDir, removeDir } from "./helpers/temp-dir.js";
import { repoRoot } from "./tracers-support.js";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function query(prom: string, q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== "success") throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

test("a real Prometheus scrapes runqlat (buckets equal to the map's) and the execsnoop CLI's --metrics", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "tracepoint", "ringbuf"))) return;
  if (spawnSync("prometheus", ["--version"]).error) return t.fail("prometheus is not installed: apt-get install prometheus (scripts/setup.sh does)");
  const dir = makeTempDir("bpf2ts-metrics-prom-");
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill("SIGTERM");
    removeDir(dir);
  });

  const objs = await loadRunqlat();
  t.teardown(() => objs.close());
  const links = await objs.attach();
  const served = await serveMetrics(new MetricsRegistry(objs.maps, runqlatMetrics), "127.0.0.1:0");
  t.teardown(() => served.close());

  const execPort = await freePort();
  const exec = spawn(process.execPath, [join(repoRoot, "dist/bpf/execsnoop/cli.js"), "--metrics", `127.0.0.1:${execPort}`], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(exec);
  let execErr = "";
  exec.stderr!.on("data", (d: Buffer) => (execErr += d.toString()));
  await until("execsnoop to serve", async () => (execErr.includes("serving metrics") ? true : undefined));

  const promPort = await freePort();
  writeFileSync(join(dir, "prometheus.yml"), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: runqlat\n    static_configs: [{ targets: ["${served.address}"] }]\n  - job_name: execsnoop\n    static_configs: [{ targets: ["127.0.0.1:${execPort}"] }]\n`);
  const prom = spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: "ignore" });
  children.push(prom);
  const api = `http://127.0.0.1:${promPort}`;
  await until("both targets up", async () => ((await query(api, "sum(up)"))[0]?.value[1] === "2" ? true : undefined));

  // Kernel activity: processes that exec and sleep (wakeups go through the run queue).
  for (let i = 0; i < 5; i++) spawnSync("/bin/sh", ["-c", "sleep 0.01; /bin/true"]);
  // Stop counting, then wait for a scrape of the final map.
  links.close();
  await sleep(200);
  const slots = objs.maps.hists.get(0)!.slots;
  let cumulative = 0;
  const expected = Array.from(slots, (n) => (cumulative += n));
  t.true(cumulative > 0, "runqlat saw wakeups");
  const buckets = await until("Prometheus to hold the final histogram", async () => {
    const r = await query(api, 'runqlat_latency_seconds_bucket{job="runqlat",pid="0"}');
    const inf = r.find((s) => s.metric.le === "+Inf");
    return inf && Number(inf.value[1]) === cumulative ? r : undefined;
  });
  // Every bucket equals the map's cumulative count; `le` is slot i's top in seconds (2^(i+1)-1 µs).
  t.is(buckets.length, slots.length);
  for (let i = 0; i < slots.length; i++) {
    const le = i === slots.length - 1 ? "+Inf" : String(Number(((2 ** (i + 1) - 1) * 1e-6).toPrecision(12)));
    const s = buckets.find((b) => b.metric.le === le);
    t.is(Number(s?.value[1]), expected[i], `bucket le=${le}`);
  }
  const count = await query(api, 'runqlat_latency_seconds_count{job="runqlat"}');
  t.is(Number(count[0]!.value[1]), cumulative);

  // execsnoop: the execs of /bin/true, by comm, as an event-derived counter.
  const trues = await until("execsnoop_execs_total{comm=\"true\"}", async () => {
    const r = await query(api, 'execsnoop_execs_total{comm="true"}');
    return r[0] && Number(r[0].value[1]) >= 5 ? Number(r[0].value[1]) : undefined;
  });
  t.true(trues >= 5);
  const type = await query(api, 'count(execsnoop_execs_total{job="execsnoop"}) > 0');
  t.is(type.length, 1);
});
