// Every tracer CLI in bpf/ with `--metrics` and `--otlp`: /metrics serves each metric its C source
// declares, and the OTLP/HTTP payload (decoded here at the protocol level, no collector) carries the
// metrics that have data.

import test from "ava";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { buildGo, requireFeature } from "./helpers/kernel.js";
import { repoRoot } from "./tracers-support.js";

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
};

for (const [name, args] of Object.entries(tracers)) {
  test.serial(`${name} --metrics serves its declared metrics; --otlp pushes them (OTLP payload decoded at the protocol level)`, async (t) => {
    if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf", ...(name === "gotrace" || name === "httptrace" ? (["go", "uprobe"] as const) : []), ...(name === "profile" ? (["perf_event"] as const) : []), ...(name === "sslsniff" ? (["uprobe"] as const) : []), ...(["netrecvlat", "offcputime", "biolatency"].includes(name) ? (["tp_btf"] as const) : [])))) return;
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
    const busy = spawn(process.execPath, ["-e", "const end = Date.now() + 15000; while (Date.now() < end) for (let i = 0; i < 1e6; i++);"], { stdio: "ignore" });
    t.teardown(() => busy.kill("SIGKILL"));
    const needsData = ["syscount", "runqlat", "softirqs", "profile", "offcputime"].includes(name);
    const withDataIn = (text: string) => declared.filter((m) => new RegExp(`^${m}(_bucket)?[{ ]`, "m").test(text));
    let text = "";
    await new Promise((r) => setTimeout(r, 1000)); // let the kernel fill the maps a little
    for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 250))) {
      text = await (await fetch(url)).text();
      if (!needsData || withDataIn(text).length > 0 || Date.now() > until) break;
    }
    busy.kill("SIGKILL");
    for (const m of declared) t.regex(text, new RegExp(`^# TYPE ${m} (counter|gauge|histogram)$`, "m"), `${name}: ${m}`);
    t.regex(text, /^# TYPE bpf2ts_metrics_dropped_total counter$/m);
    const withData = withDataIn(text);
    if (needsData) t.true(withData.length > 0, `${name}: map metrics have samples`);
    child.kill("SIGTERM");
    t.is(await exited, 0, err);
    // The last export on shutdown.
    type Payload = { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }> };
    const names = new Set(payloads.flatMap((p) => (JSON.parse(p) as Payload).resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)))));
    for (const m of withData) t.true(names.has(m), `${name}: OTLP carries ${m}`);
  });
}
