// `--metrics ADDR:PORT` (Prometheus /metrics) and `--otlp URL` (OTLP/HTTP push) for every tracer CLI
// (the options themselves are among ./cli.ts's common options).
// The exporters are imported only when asked for, so a tracer run without them loads neither
// prom-client nor the OpenTelemetry SDK.

import type { MetricSpec } from "@bpf2ts/runtime";
import type { MetricsOptions } from "@bpf2ts/runtime/metrics";
import { type ParsedValues, UsageError } from "./cli.js";

export interface TracerMetrics {
  /** The callback updating the event metrics of `map` (call it with each event), if it has any and metrics are on. */
  observer(map: string): ((event: unknown) => void) | undefined;
  /** Stops serving; pushes a last time over OTLP. */
  close(): Promise<void>;
}

/** The exporters are optional peer dependencies of @bpf2ts/runtime: say what to install when one is missing. */
async function importOptional<T>(load: () => Promise<T>, packages: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") throw new Error(`metrics need ${packages}: npm install ${packages}`, { cause: e });
    throw e;
  }
}

const off: TracerMetrics = { observer: () => undefined, close: async () => {} };

/**
 * Starts what the options ask for. OTLP is on with `--otlp URL`, or when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * / `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set (OpenTelemetry's usual way to turn an exporter on).
 */
export async function startMetrics(values: ParsedValues, tool: string, maps: Readonly<Record<string, unknown>>, specs: readonly MetricSpec[], opts: MetricsOptions = {}): Promise<TracerMetrics> {
  const listen = values.metrics as string | undefined;
  const otlpUrl = values.otlp as string | undefined;
  const otlpEnv = process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // A tracer whose C source declares no metric refuses the flags rather than serve an empty page.
  if (specs.length === 0 && (listen !== undefined || otlpUrl !== undefined)) {
    throw new UsageError(`--${listen !== undefined ? "metrics" : "otlp"}: ${tool} declares no metrics (no @metric tag in its C source)`);
  }
  if (specs.length === 0 || (listen === undefined && otlpUrl === undefined && !otlpEnv)) return off;
  const { MetricsRegistry, serveMetrics } = await importOptional(() => import("@bpf2ts/runtime/metrics"), "prom-client");
  const registry = new MetricsRegistry(maps, specs, opts);
  const closers: Array<() => Promise<void>> = [];
  if (listen !== undefined) {
    const server = await serveMetrics(registry, listen);
    process.stderr.write(`${tool}: serving metrics at http://${server.address}/metrics\n`);
    closers.push(() => server.close());
  }
  if (otlpUrl !== undefined || otlpEnv) {
    const { pushMetrics } = await importOptional(() => import("@bpf2ts/runtime/otlp"), "@opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-metrics-otlp-http @opentelemetry/resources");
    const pusher = pushMetrics(registry, { serviceName: tool, ...(otlpUrl !== undefined && { url: otlpUrl }) });
    process.stderr.write(`${tool}: pushing metrics over OTLP to ${otlpUrl ?? otlpEnv}\n`);
    closers.push(() => pusher.shutdown());
  }
  return {
    observer: (map) => registry.observer(map),
    close: async () => {
      for (const c of closers) await c().catch((e: unknown) => process.stderr.write(`${tool}: metrics: ${(e as Error).message}\n`));
    },
  };
}

/** `handle` preceded by the metric updates of its events, when there are any. */
export function observed<E>(handle: (event: E) => void, observe: ((event: unknown) => void) | undefined): (event: E) => void {
  return observe ? (e) => { observe(e); handle(e); } : handle;
}
