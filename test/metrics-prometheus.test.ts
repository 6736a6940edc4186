// A real Prometheus server (Debian's `prometheus`) scrapes live tracers: runqlat loaded in this
// process (so the test can read the same map and compare every bucket) and the execsnoop CLI with
// `--metrics`; then one server scrapes every tracer CLI in bpf/ at once. Kernel activity is caused
// and Prometheus's HTTP API queried for the series.

import test from "ava";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { connect, createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { MetricsRegistry, serveMetrics } from "@bpf2ts/runtime/metrics";
import { loadRunqlat, runqlatMetrics } from "../bpf/runqlat/runqlat.js";
import { buildC, buildGo, requireFeature } from "./helpers/kernel.js";
import { makeTempDir, removeDir } from "./helpers/temp-dir.js";
import { freePort, repoRoot, servedMetricsPort, sleep, vforkerC } from "./tracers-support.js";


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

  const exec = spawn(process.execPath, [join(repoRoot, "dist/bpf/execsnoop/cli.js"), "--metrics", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(exec);
  let execErr = "";
  exec.stderr!.on("data", (d: Buffer) => (execErr += d.toString()));
  const execPort = await until("execsnoop to serve", async () => servedMetricsPort(execErr));

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

/** Every tracer in bpf/ (a directory with its .bpf.c), with the arguments its CLI needs. */
function allTracers(): Record<string, string[]> {
  const go = (name: string, path: string) => buildGo(name, readFileSync(join(repoRoot, "bpf", path), "utf8"));
  const args: Record<string, () => string[]> = {
    gotrace: () => ["--binary", go("goapp", "gotrace/testdata/goapp/main.go")],
    httptrace: () => ["--binary", go("httpserver", "httptrace/testdata/server/main.go")],
    hungtask: () => ["--min-ms", "300"],
  };
  const dirs = readdirSync(join(repoRoot, "bpf"), { withFileTypes: true }).filter((d) => d.isDirectory() && readdirSync(join(repoRoot, "bpf", d.name)).includes(`${d.name}.bpf.c`));
  return Object.fromEntries(dirs.map((d) => [d.name, args[d.name]?.() ?? []]));
}

/**
 * The series each tracer must have after the activity below (a sample > 0). oomkill's kills need an
 * OOM kill and biolatency's histograms block I/O, which this test does not cause: for those (and for
 * every declared metric) Prometheus's target metadata must list the metric.
 */
const expected: Record<string, string> = {
  execsnoop: 'execsnoop_execs_total{comm="true"}',
  opensnoop: "opensnoop_opens_total",
  syscount: "syscount_calls_total",
  runqlat: "runqlat_latency_seconds_count",
  softirqs: "softirqs_total",
  tcpstates: 'tcpstates_transitions_total{newstate="ESTABLISHED"}',
  tcpconnlat: "tcpconnlat_connects_total",
  netrecvlat: "netrecvlat_packets_total",
  dropwatch: "dropwatch_drops_total",
  profile: "profile_samples_total",
  offcputime: "offcputime_blocks_total",
  hungtask: "hungtask_blocked_seconds_count",
  sslsniff: 'sslsniff_calls_total{comm="curl"}',
  gotrace: "gotrace_events_total",
  httptrace: "httptrace_request_duration_seconds_count",
};

test("one real Prometheus scrapes every tracer CLI in bpf/: each target up, every declared metric known, the activity's series present", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "tracepoint", "ringbuf", "iter", "uprobe", "perf_event", "go", "gcc"))) return;
  if (spawnSync("prometheus", ["--version"]).error) return t.fail("prometheus is not installed: apt-get install prometheus (scripts/setup.sh does)");
  t.timeout(120_000);
  const dir = makeTempDir("bpf2ts-metrics-prom-all-");
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill("SIGKILL");
    removeDir(dir);
  });
  const spawnKept = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { stdio: ["pipe", "pipe", "ignore"] });
    children.push(c);
    return c;
  };

  // Every CLI at once on its own port (the 2-core machine takes a few seconds to load them all).
  const tracers = allTracers();
  const errs: Record<string, string> = {};
  for (const [name, args] of Object.entries(tracers)) {
    const c = spawn(process.execPath, [join(repoRoot, `dist/bpf/${name}/cli.js`), ...args, "--json", "--metrics", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(c);
    errs[name] = "";
    c.stderr!.on("data", (d: Buffer) => (errs[name] += d.toString()));
  }
  await until("every tracer serving", async () => (Object.values(errs).every((e) => servedMetricsPort(e) !== undefined) ? true : undefined), 60_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${Object.entries(errs).filter(([, e]) => servedMetricsPort(e) === undefined).map(([k, e]) => `${k}: ${e}`).join("; ")}`);
  });
  const promPort = await freePort();
  const jobs = Object.entries(errs).map(([name, e]) => `  - job_name: ${name}\n    static_configs: [{ targets: ["127.0.0.1:${servedMetricsPort(e)}"] }]\n`).join("");
  writeFileSync(join(dir, "prometheus.yml"), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${jobs}`);
  children.push(spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: "ignore" }));
  const api = `http://127.0.0.1:${promPort}`;
  const n = Object.keys(tracers).length;
  await until(`all ${n} targets up`, async () => ((await query(api, "sum(up)"))[0]?.value[1] === String(n) ? true : undefined), 30_000);

  // Activity for all of them: execs and opens, a loopback TCP connect, UDP datagrams (one to a
  // closed port: a drop), a vfork parent, a busy loop, a Go program's goroutines, a Go server's
  // request, and curl over TLS to openssl s_server.
  const busy = spawnKept(process.execPath, ["-e", "const end = Date.now() + 3000; while (Date.now() < end);"]);
  const vforker = spawnKept(buildC("vforker", vforkerC), ["1000"]);
  for (let i = 0; i < 3; i++) spawnSync("/bin/true");
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const sock = connect((server.address() as AddressInfo).port, "127.0.0.1");
  await new Promise<void>((r) => sock.on("close", () => r()).resume());
  server.close();
  const rx = createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", r));
  const tx = createSocket("udp4");
  await new Promise<void>((r) => tx.send("x", (rx.address() as AddressInfo).port, "127.0.0.1", () => r()));
  const closed = await freePort();
  await new Promise<void>((r) => tx.send("dropped", closed, "127.0.0.1", () => r()));
  tx.close();
  rx.close();
  const goapp = spawnKept(tracers.gotrace![1]!, ["2"]);
  goapp.stdin!.end("go\n");
  const srv = spawnKept(tracers.httptrace![1]!, []);
  let banner = "";
  srv.stdout!.on("data", (d: Buffer) => (banner += d.toString()));
  const httpPort = await until("the Go server", async () => /listening (\d+)/.exec(banner)?.[1]);
  await fetch(`http://127.0.0.1:${httpPort}/missing`).then((r) => r.text());
  execFileSyncQuiet("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=localhost", "-days", "1"]);
  const tlsPort = await freePort();
  spawnKept("openssl", ["s_server", "-quiet", "-accept", `127.0.0.1:${tlsPort}`, "-cert", join(dir, "cert.pem"), "-key", join(dir, "key.pem")]);
  await until("s_server", async () => new Promise<true | undefined>((r) => { const c = connect(tlsPort, "127.0.0.1"); c.on("connect", () => (c.destroy(), r(true))).on("error", () => r(undefined)); }));
  spawnSync("curl", ["-sk", "-m", "1", "--http1.1", `https://127.0.0.1:${tlsPort}/`]);
  await Promise.all([busy, vforker].map((c) => new Promise((r) => (c.exitCode !== null ? r(0) : c.on("exit", r)))));

  // Each tracer's series, as Prometheus stored them.
  for (const [name, q] of Object.entries(expected)) {
    const got = await until(`${name}: ${q}`, async () => {
      const r = await query(api, `sum(${q.includes("{") ? q.replace("{", `{job="${name}",`) : `${q}{job="${name}"}`})`);
      return r[0] && Number(r[0].value[1]) > 0 ? Number(r[0].value[1]) : undefined;
    }, 20_000).catch(() => 0);
    t.true(got > 0, `${name}: ${q} > 0 in Prometheus`);
  }
  // Every declared metric, as Prometheus read it from each target's /metrics (TYPE and HELP lines).
  for (const name of Object.keys(tracers)) {
    t.is((await query(api, `up{job="${name}"}`))[0]?.value[1], "1", `${name} up`);
    const mod = (await import(`../bpf/${name}/${name}.js`)) as Record<string, Array<{ name: string; kind: string }>>;
    const res = await fetch(`${api}/api/v1/targets/metadata?match_target=${encodeURIComponent(`{job="${name}"}`)}`);
    const meta = ((await res.json()) as { data: Array<{ metric: string; type: string }> }).data;
    for (const m of mod[`${name}Metrics`]!) t.true(meta.some((x) => x.metric === m.name && x.type === m.kind), `${name}: Prometheus knows ${m.name} (${m.kind})`);
  }
  for (const [name, e] of Object.entries(errs)) t.notRegex(e, /error|Error/, `${name}: ${e}`);
});

function execFileSyncQuiet(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (Debian package ${cmd})`);
}
