// OTLP/HTTP push with the official OpenTelemetry SDK: the registry's metrics become a MetricProducer
// of a PeriodicExportingMetricReader, so map histograms go out as histograms (the SDK's instruments
// cannot take bucket counts read from a map). The resource and endpoint helpers are shared with
// other signals (spans): `otlpResource`, `otlpUrl`.

import { ValueType, type Attributes } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import {
  AggregationTemporality, DataPointType, MeterProvider, PeriodicExportingMetricReader,
  type CollectionResult, type MetricData, type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import { ucum, type MetricsRegistry } from "./registry.js";

/**
 * The resource of a tracer's telemetry: `service.name` (default `serviceName`), host, process
 * (pid, executable, command line), and what `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_SERVICE_NAME` say
 * (they win).
 */
export function otlpResource(serviceName: string, attributes: Attributes = {}): Resource {
  const detected = detectResources({ detectors: [hostDetector, processDetector, envDetector] });
  return resourceFromAttributes({ "service.name": serviceName, ...attributes }).merge(detected);
}

/**
 * The endpoint of one signal from `--otlp URL`: a base URL (`http://host:4318`) gets `/v1/<signal>`
 * as `OTEL_EXPORTER_OTLP_ENDPOINT` does; a URL with a path is used as given. Undefined: the
 * exporter reads `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` itself.
 */
export function otlpUrl(url: string | undefined, signal: "metrics" | "traces" | "logs"): string | undefined {
  if (url === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`--otlp ${url}: not a URL (e.g. http://127.0.0.1:4318)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`--otlp ${url}: OTLP/HTTP needs an http:// or https:// URL`);
  if (u.pathname === "/" || u.pathname === "") u.pathname = `/v1/${signal}`;
  return u.toString();
}

function envMillis(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const hrTime = (ms: number): [number, number] => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** The registry's metrics as OTel metric data (cumulative; histograms with explicit bounds). */
export function otlpProducer(metrics: MetricsRegistry, resource: Resource): MetricProducer {
  const start = hrTime(Date.now());
  return {
    async collect(): Promise<CollectionResult> {
      const end = hrTime(Date.now());
      const data: MetricData[] = metrics.collect().map((f): MetricData => {
        const descriptor = { name: f.spec.name, description: f.spec.help, unit: ucum(f.spec), valueType: ValueType.DOUBLE };
        if (f.kind === "histogram") {
          return {
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: f.samples.map((s) => ({
              attributes: s.labels,
              startTime: start,
              endTime: end,
              // OTel's bucket i is (bounds[i-1], bounds[i]], the last one unbounded: Prometheus's `le` without +Inf.
              value: { buckets: { boundaries: s.bounds.slice(0, -1) as number[], counts: [...s.counts] }, sum: s.sum, count: s.count },
            })),
          };
        }
        const dataPoints = f.samples.map((s) => ({ attributes: s.labels, startTime: start, endTime: end, value: s.value }));
        return f.kind === "counter"
          ? { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints }
          : { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
      });
      return { resourceMetrics: { resource, scopeMetrics: [{ scope: { name: "bpf2ts" }, metrics: data }] }, errors: [] };
    },
  };
}

export interface OtlpOptions {
  /** `--otlp URL` (see `otlpUrl`); default: the `OTEL_EXPORTER_OTLP_*` environment. */
  readonly url?: string;
  /** `service.name` unless `OTEL_SERVICE_NAME` says otherwise. */
  readonly serviceName: string;
  /** Export interval (default `OTEL_METRIC_EXPORT_INTERVAL` or 60 s) and timeout (`OTEL_METRIC_EXPORT_TIMEOUT` or 30 s). */
  readonly intervalMillis?: number;
  readonly timeoutMillis?: number;
}

export interface OtlpPusher {
  readonly provider: MeterProvider;
  /** Exports now (and waits for it). */
  flush(): Promise<void>;
  /** Exports a last time and stops. */
  shutdown(): Promise<void>;
}

/** Pushes the registry's metrics over OTLP/HTTP (JSON; headers, TLS, compression from `OTEL_EXPORTER_OTLP_*`). */
export function pushMetrics(metrics: MetricsRegistry, opts: OtlpOptions): OtlpPusher {
  const resource = otlpResource(opts.serviceName);
  const url = otlpUrl(opts.url, "metrics");
  const exporter = new OTLPMetricExporter(url !== undefined ? { url } : {});
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: opts.intervalMillis ?? envMillis("OTEL_METRIC_EXPORT_INTERVAL", 60_000),
    exportTimeoutMillis: opts.timeoutMillis ?? envMillis("OTEL_METRIC_EXPORT_TIMEOUT", 30_000),
    metricProducers: [otlpProducer(metrics, resource)],
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  return { provider, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}
