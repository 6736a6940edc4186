// httptrace's spans over OTLP/HTTP, checked at the protocol level: no OpenTelemetry collector is
// packaged here, so a local HTTP server stands in for one and decodes what the official exporter
// POSTs to /v1/traces (OTLP/HTTP with JSON encoding). These tests say nothing about a collector.

import test from "ava";
import { spawn } from "node:child_process";
import { get, createServer, type IncomingMessage } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";
import { readdirSync, readFileSync } from "node:fs";
import { buildGo, requireFeature } from "./helpers/kernel.js";
import { repoRoot, run, waitFor } from "./tracers-support.js";
import { otlpTracesUrl, RequestSpans } from "../bpf/lib/otel.js";

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number }
interface OtlpAttribute { key: string; value: OtlpValue }
interface OtlpSpan { traceId: string; spanId: string; name: string; kind: number; startTimeUnixNano: string | number; endTimeUnixNano: string | number; attributes: OtlpAttribute[]; status?: { code?: number } }
interface OtlpRequest { resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }> }> }

/** A stand-in OTLP/HTTP receiver: records every JSON export request by path. */
async function receiver(): Promise<{ url: string; requests: Array<{ path: string; contentType: string; body: OtlpRequest }>; close: () => void }> {
  const requests: Array<{ path: string; contentType: string; body: OtlpRequest }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (d: Buffer) => (data += d.toString()));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", contentType: String(req.headers["content-type"]), body: JSON.parse(data) as OtlpRequest });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() };
}

const attrs = (list: OtlpAttribute[]): Record<string, string | number | boolean | undefined> =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));
const spansOf = (requests: Array<{ body: OtlpRequest }>) =>
  requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, resource: attrs(rs.resource.attributes), scope: ss.scope.name })))));

test("otlpTracesUrl: --otlp is the collector's base URL; OTEL_EXPORTER_OTLP_* endpoints are left to the exporter", (t) => {
  t.is(otlpTracesUrl("http://collector:4318"), "http://collector:4318/v1/traces");
  t.is(otlpTracesUrl("http://collector:4318/"), "http://collector:4318/v1/traces");
  t.throws(() => otlpTracesUrl("collector:4318x"), { message: /--otlp/ });
  t.throws(() => otlpTracesUrl("ftp://collector"), { message: /http: or https:/ });
  t.is(otlpTracesUrl(undefined, {}), undefined, "no flag, no environment: no export");
  t.is(otlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }), "");
  t.is(otlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }), "");
});

test.serial("protocol level: the exporter follows OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME; a request becomes a SERVER span", async (t) => {
  const rx = await receiver();
  const saved = { ...process.env };
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = rx.url;
  process.env.OTEL_SERVICE_NAME = "checkout";
  try {
    const spans = await RequestSpans.create({ url: otlpTracesUrl(undefined)!, executable: "/srv/bin/shop", scope: "httptrace" });
    const start = 1_700_000_000_123_456_789n;
    spans.record({ pid: 4242, method: "POST", route: "/pay", status: 503, startNs: start, endNs: start + 2_500_000n });
    await spans.shutdown();
    t.is(rx.requests.length, 1);
    t.is(rx.requests[0]!.path, "/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces");
    t.regex(rx.requests[0]!.contentType, /application\/json/);
    const [{ span, resource, scope }] = spansOf(rx.requests) as [ReturnType<typeof spansOf>[number]];
    t.is(scope, "httptrace");
    t.like(resource, { "service.name": "checkout", "process.pid": 4242, "process.executable.path": "/srv/bin/shop", "process.executable.name": "shop", "host.name": hostname() });
    t.is(span.name, "POST /pay");
    t.is(span.kind, 2, "SPAN_KIND_SERVER");
    t.is(BigInt(span.startTimeUnixNano), start);
    t.is(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano), 2_500_000n);
    t.deepEqual(attrs(span.attributes), { "http.request.method": "POST", "http.route": "/pay", "url.path": "/pay", "http.response.status_code": 503 });
    t.is(span.status?.code, 2, "5xx is an error on a server span");
  } finally {
    process.env = saved;
    rx.close();
  }
});

function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    }).on("error", reject);
  });
}

function linkFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fdinfo`).filter((fd) => {
      try {
        return /^link_id:/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

test.serial("protocol level: httptrace --otlp exports one span per request of a live Go server, with its method, route, status, kernel-timed duration and resource", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "go", "btf"))) return;
  const bin = buildGo("httpserver", readFileSync(join(repoRoot, "bpf/httptrace/testdata/server/main.go"), "utf8"));
  const server = spawn(bin, [], { stdio: ["ignore", "pipe", "ignore"] });
  let banner = "";
  server.stdout!.on("data", (d: Buffer) => (banner += d.toString()));
  const rx = await receiver();
  const tracer = run(process.execPath, [join(repoRoot, "dist/bpf/httptrace/cli.js"), "--binary", bin, "--pid", String(server.pid), "--otlp", rx.url, "--json", "--duration", "60"]);
  try {
    t.true(await waitFor(() => /listening \d+/.test(banner), 15000), "the Go server started");
    const port = Number(/listening (\d+)/.exec(banner)![1]);
    t.true(await waitFor(() => linkFds(tracer.child.pid!) >= 2, 30000), "entry and return uprobes attached");
    const made: Array<{ path: string; status: number; before: number; after: number }> = [];
    for (const path of ["/hello", "/sleep/80", "/missing"]) {
      const before = Date.now();
      const status = await httpGet(port, path);
      made.push({ path, status, before, after: Date.now() });
    }
    t.deepEqual(made.map((m) => m.status), [200, 200, 404]);
    t.true(await waitFor(() => made.every((m) => tracer.stdout().includes(`"path":"${m.path}"`)), 10000), tracer.stdout());
    tracer.child.kill("SIGINT");
    t.is(await tracer.exited, 0, "a clean stop flushes the spans");

    const spans = spansOf(rx.requests.filter((r) => r.path === "/v1/traces"));
    t.is(spans.length, 3, "one span per request");
    for (const m of made) {
      const found = spans.find((s) => attrs(s.span.attributes)["url.path"] === m.path);
      if (!found) {
        t.fail(`no span for ${m.path}`);
        continue;
      }
      const { span, resource } = found;
      t.is(span.name, `GET ${m.path}`);
      t.is(span.kind, 2);
      t.like(attrs(span.attributes), { "http.request.method": "GET", "http.route": m.path, "http.response.status_code": m.status });
      t.like(resource, { "host.name": hostname(), "process.pid": server.pid, "process.executable.path": bin, "process.executable.name": basename(bin), "service.name": basename(bin) });
      // Kernel monotonic timestamps turned into wall clock: inside the client's view of the request (±20 ms for the clocks).
      const start = Number(BigInt(span.startTimeUnixNano) / 1_000_000n);
      const end = Number(BigInt(span.endTimeUnixNano) / 1_000_000n);
      t.true(start >= m.before - 20 && end <= m.after + 20 && start <= end, `${m.path}: ${start}..${end} within ${m.before}..${m.after}`);
      const durationMs = Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
      if (m.path === "/sleep/80") t.true(durationMs >= 80, `the handler slept 80 ms (${durationMs} ms)`);
      else t.true(durationMs < 80, `${m.path}: ${durationMs} ms`);
    }
    t.is(new Set(spans.map((s) => s.span.traceId)).size, 3, "each request its own trace");
  } finally {
    tracer.child.kill();
    server.kill();
    rx.close();
  }
});
