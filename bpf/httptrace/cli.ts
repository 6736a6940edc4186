#!/usr/bin/env node
// httptrace: latency of every request a Go net/http server handles, without touching the server: a
// uprobe on net/http.serverHandler.ServeHTTP's entry and one on each of its RET instructions
// (uretprobes would break Go's stack handling).

import { resolve } from "node:path";
import { type CliSpec, drain, intOption, main, numberOption, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock, duration as fmtDuration } from "../lib/format.js";
import { GoBinary, go119Offsets } from "../lib/go-binary.js";
import { monotonicToEpoch, otlpTracesUrl, RequestSpans } from "../lib/otel.js";
import { loadHttptrace, type HttptraceEvent, httptraceMetrics } from "./httptrace.js";

const SERVE_HTTP = "net/http.serverHandler.ServeHTTP";
const RESPONSE_ITAB = "go.itab.*net/http.response,net/http.ResponseWriter";

const spec = {
  name: "httptrace",
  summary: "Trace the requests a Go net/http server handles: method, path, status, latency.",
  options: {
    binary: { type: "string", short: "b", value: "PATH", description: "the Go server executable (required)" },
    pid: { type: "string", short: "p", value: "PID", description: "only this process of that executable" },
    "min-ms": { type: "string", short: "m", value: "MS", description: "only requests slower than MS milliseconds" },
    otlp: { type: "string", value: "URL", description: "push metrics and one span per request over OTLP/HTTP to this collector (OTEL_EXPORTER_OTLP_ENDPOINT works too)" },
  },
  examples: ["httptrace --binary ./server", "httptrace -b ./server --min-ms 100 --json", "httptrace -b ./server --otlp http://localhost:4318"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const path = stringOption(v, "binary");
  if (!path) throw new UsageError("--binary is required: the Go server executable");
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const minMs = numberOption(v, "min-ms");
  const duration = intOption(v, "duration", 0, 86400 * 365);
  let otlpUrl: string | undefined;
  try {
    otlpUrl = otlpTracesUrl(stringOption(v, "otlp"));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  const go = new GoBinary(path);
  if (go.version && !/^go1\.(1[7-9]|20)(\.|$)/.test(go.version)) {
    process.stderr.write(`httptrace: ${path} is ${go.version}; struct offsets assume Go 1.17–1.20\n`);
  }
  const returns = go.returnOffsets(SERVE_HTTP);
  // The ResponseWriter check compares run-time addresses: a PIE needs its load base, known with --pid.
  const bias = pid !== undefined ? go.loadBias(pid) : go.pie ? undefined : 0n;
  const linkItab = go.address(RESPONSE_ITAB);
  const itab = bias !== undefined && linkItab !== undefined ? linkItab + bias : undefined;
  if (itab === undefined) process.stderr.write(`httptrace: status codes unavailable (${go.pie ? "position-independent binary: pass --pid" : `no ${RESPONSE_ITAB} symbol`})\n`);
  const objs = await loadHttptrace({
    constants: {
      goidOffset: go119Offsets.goid,
      reqMethodOffset: go119Offsets.requestMethod,
      reqUrlOffset: go119Offsets.requestUrl,
      urlPathOffset: go119Offsets.urlPath,
      respStatusOffset: go119Offsets.responseStatus,
      ...(itab !== undefined && { responseItab: itab }),
      ...(pid !== undefined && { targPid: pid }),
      ...(minMs !== undefined && { minDurationNs: BigInt(Math.round(minMs * 1e6)) }),
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, httptraceMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  const spans = otlpUrl !== undefined ? await RequestSpans.create({ url: otlpUrl, executable: resolve(path), scope: "httptrace" }) : undefined;
  const epochNs = monotonicToEpoch();
  try {
    // Attached to every process running the binary; targPid filters in the kernel. A uprobe bound to
    // a pid makes perf_event_open check ptrace access to it, which a root server denies to a tracer
    // holding only CAP_BPF + CAP_PERFMON (it would need CAP_SYS_PTRACE).
    const target = { path, symbol: SERVE_HTTP };
    objs.programs.handleServeHttp.attach({ ...target, offset: go.entryOffset(SERVE_HTTP) });
    for (const offset of returns) objs.programs.handleServeHttpReturn.attach({ ...target, offset });
    if (!v.json) {
      process.stderr.write(`Probing ${SERVE_HTTP} in ${path}: entry + ${returns.length} return point(s). Ctrl-C to stop.\n`);
      out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"GOID".padStart(6)} ${"METHOD".padEnd(7)} ${"STATUS".padStart(6)} ${"LATENCY".padStart(9)} PATH`);
    }
    const print = (e: HttptraceEvent): void => {
      // Status 0: never written, which net/http sends as 200 — known only when the probe could read it.
      spans?.record({ pid: e.pid, method: e.method, route: e.path, ...((e.status || itab !== undefined) && { status: e.status || 200 }), startNs: epochNs(e.tsNs - e.durationNs), endNs: epochNs(e.tsNs) });
      if (v.json) out(toJson({ time: new Date().toISOString(), pid: e.pid, goid: e.goid, method: e.method, path: e.path, status: e.status || undefined, durationNs: e.durationNs }));
      else out(`${clock()} ${String(e.pid).padEnd(7)} ${String(e.goid).padStart(6)} ${e.method.padEnd(7)} ${String(e.status || "-").padStart(6)} ${fmtDuration(e.durationNs).padStart(9)} ${e.path}`);
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "requests");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
    await spans?.shutdown();
  }
});
