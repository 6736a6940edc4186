// @bpf2ts/runtime/metrics: metrics from maps and events, served to Prometheus (prom-client). OTLP is
// in @bpf2ts/runtime/otlp, so a tracer that only serves /metrics never loads the OTel SDK.

export { defineMetrics, checkSpec, unitScale, units, type MetricSpec, type MetricKind, type LabelSpec, type LabelFormat, type BucketSpec, type Unit } from "../contract/metrics.js";
export { MetricsRegistry, droppedSpec, type MetricFamily, type MetricsOptions, type ScalarSample, type HistogramSample, type MapsOf } from "./registry.js";
export { formatIpv4, formatIpv6 } from "./labels.js";
export { promRegistry, serveMetrics, parseListen, type MetricsServer } from "./prometheus.js";
