// Every tracer CLI in bpf/ with `--metrics` and `--otlp`: /metrics serves each metric its C source
// declares, and the OTLP/HTTP payload (decoded here at the protocol level, no collector) carries the
// metrics that have data. Every tracer in bpf/ is here and declares metrics; a CLI given
// `--metrics`/`--otlp` with none declared refuses them.

import test from "ava";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";
import { buildC, buildGo, requireFeature } from "./helpers/kernel.js";
import { repoRoot, vforkerC } from "./tracers-support.js";
import { startMetrics } from "../bpf/lib/metrics.js";
import { UsageError } from "../bpf/lib/cli.js";

const tracers: Record<string, () => string[]> = {
  execsnoop: () => [],
  opensnoop: () => [],
  syscount: () => [],
  runqlat: () => [],
  softirqs: () => [],
  tcpstates: () => [],
  dropwatch: () => [],
  oomkill: () => [],
  profile: () => [],
  tcpconnlat: () => [],
  netrecvlat: () => [],
  sslsniff: () => [],
  biolatency: () => [],
  offcputime: () => [],
  gotrace: () => ["--binary", buildGo("goapp", readFileSync(join(repoRoot, "bpf/gotrace/testdata/goapp/main.go"), "utf8"))],
  httptrace: () => ["--binary", buildGo("httpserver", readFileSync(join(repoRoot, "bpf/httptrace/testdata/server/main.go"), "utf8"))],
  hungtask: () => ["--min-ms", "300", "--interval", "1"],
};

/** Activity a tracer needs beyond a busy process: hungtask, a task in D state (a vfork parent) for 5 s. */
const activity: Record<string, () => void> = {
  hungtask: () => void spawn(buildC("vforker", vforkerC), ["5000"], { stdio: "ignore" }),
};

test("every tracer in bpf/ is tested here and declares metrics in its C source", async (t) => {
  const dirs = readdirSync(join(repoRoot, "bpf"), { withFileTypes: true }).filter((d) => d.isDirectory() && readdirSync(join(repoRoot, "bpf", d.name)).includes(`${d.name}.bpf.c`)).map((d) => d.name);
  t.deepEqual(Object.keys(tracers).sort(), dirs.sort());
  for (const name of dirs) {
    const mod = (await import(`../bpf/${name}/${name}.js`)) as Record<string, unknown>;
    t.true((mod[`${name}Metrics`] as unknown[]).length > 0, `${name} declares metrics`);
  }
});

test("a tracer that declares no metric refuses --metrics and --otlp with a usage error", async (t) => {
  for (const flag of ["metrics", "otlp"]) {
    const e = await t.throwsAsync(startMetrics({ [flag]: flag === "metrics" ? "127.0.0.1:0" : "http://127.0.0.1:4318" }, "quiet", {}, []), { instanceOf: UsageError });
    t.is(e?.message, `--${flag}: quiet declares no metrics (no @metric tag in its C source)`);
  }
  // The OTEL_* environment alone (set for a whole node, say) turns nothing on and is no error.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318";
  try {
    const m = await startMetrics({}, "quiet", {}, []);
    t.is(m.observer("events"), undefined);
    await m.close();
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  }
});

/** Scrapes `url` until `ok` holds for the page (20 s at most); returns the last page. */
async function until(url: string, ok: (text: string) => boolean): Promise<string> {
  let text = "";
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) if (ok((text = await (await fetch(url)).text()))) break;
  return text;
}

for (const [name, args] of Object.entries(tracers)) {
  test.serial(`${name} --metrics serves its declared metrics; --otlp pushes them (OTLP payload decoded at the protocol level)`, async (t) => {
    if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf", ...(name === "gotrace" || name === "httptrace" ? (["go", "uprobe"] as const) : []), ...(name === "profile" ? (["perf_event"] as const) : []), ...(name === "sslsniff" ? (["uprobe"] as const) : []), ...(["netrecvlat", "offcputime", "biolatency", "hungtask"].includes(name) ? (["tp_btf"] as const) : []), ...(name === "hungtask" ? (["iter", "gcc"] as const) : [])))) return;
    const mod = (await import(`../bpf/${name}/${name}.js`)) as Record<string, unknown>;
    const declared = (mod[`${name}Metrics`] as Array<{ name: string }>).map((m) => m.name);
    t.true(declared.length > 0);
    const payloads: string[] = [];
    const otlp = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        payloads.push(body);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => otlp.listen(0, "127.0.0.1", () => r()));
    t.teardown(() => otlp.close());
    const child = spawn(process.execPath, [join(repoRoot, `dist/bpf/${name}/cli.js`), ...args(), "--metrics", "127.0.0.1:0", "--otlp", `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`, "--json"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, OTEL_METRIC_EXPORT_INTERVAL: "60000" },
    });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    t.teardown(() => child.kill("SIGKILL"));
    const deadline = Date.now() + 20_000;
    while (!/serving metrics at (\S+)/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const url = /serving metrics at (\S+)/.exec(err)?.[1];
    if (!url) return t.fail(`${name} did not serve metrics: ${err}`);
    // Scrape until the maps hold samples (a quiet machine may take a while), with a busy process
    // running so the CPU-sampling and scheduler tracers have something to see.
    // (hungtask's vfork parent went unseen with one running beside it on a loaded 2-core machine.)
    const busy = spawn(process.execPath, ["-e", `const end = Date.now() + ${name === "hungtask" ? 0 : 15000}; while (Date.now() < end) for (let i = 0; i < 1e6; i++);`], { stdio: "ignore" });
    t.teardown(() => busy.kill("SIGKILL"));
    const needsData = ["syscount", "runqlat", "softirqs", "profile", "offcputime", "hungtask"].includes(name);
    const withDataIn = (text: string) => declared.filter((m) => new RegExp(`^${m}(_bucket)?[{ ]`, "m").test(text));
    let text = "";
    await new Promise((r) => setTimeout(r, 1000)); // let the kernel fill the maps a little
    activity[name]?.();
    for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 250))) {
      text = await (await fetch(url)).text();
      if (!needsData || withDataIn(text).length > 0 || Date.now() > until) break;
    }
    busy.kill("SIGKILL");
    for (const m of declared) t.regex(text, new RegExp(`^# TYPE ${m} (counter|gauge|histogram)$`, "m"), `${name}: ${m}`);
    t.regex(text, /^# TYPE bpf2ts_metrics_dropped_total counter$/m);
    const withData = withDataIn(text);
    if (needsData) t.true(withData.length > 0, `${name}: map metrics have samples`);
    if (name === "hungtask") {
      // The vfork parent: counted once as hung, under its comm; its 5 s sleep in the [4.2, 8.4) s bucket once over.
      const comm = basename(buildC("vforker", vforkerC)).slice(0, 15);
      const counted = `hungtask_hung_tasks_total{comm="${comm}"} 1`;
      const le = (page: string, b: string) => Number(new RegExp(`^hungtask_blocked_seconds_bucket\\{le="${b}"\\} (\\d+)$`, "m").exec(page)?.[1]);
      const slept = (page: string) => le(page, "8.388607") - le(page, "4.194303") >= 1;
      const hung = await until(url, (x) => x.split("\n").includes(counted) && slept(x));
      t.true(hung.split("\n").includes(counted), hung);
      t.true(slept(hung), `a sleep of 5 s in the bucket [4.194304, 8.388608) s: ${hung}`);
    }
    child.kill("SIGTERM");
    t.is(await exited, 0, err);
    // The last export on shutdown.
    type Payload = { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }> };
    const names = new Set(payloads.flatMap((p) => (JSON.parse(p) as Payload).resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)))));
    for (const m of withData) t.true(names.has(m), `${name}: OTLP carries ${m}`);
  });
}
