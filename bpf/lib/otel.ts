// Spans over OTLP/HTTP with the official OpenTelemetry SDK, for tracers whose events are requests
// (httptrace). One tracer provider per traced process, so each span carries the resource of the
// process that served it (host, pid, executable); the exporter honours the standard environment
// (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT, _HEADERS, _TIMEOUT, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*); `--otlp URL` sets the endpoint explicitly.

import { hostname } from "node:os";
import { basename } from "node:path";
import type { Attributes, HrTime } from "@opentelemetry/api";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import type { Resource } from "@opentelemetry/resources";

/** The SDK modules, loaded only when spans are exported: a tracer without --otlp starts without them. */
async function loadSdk() {
  const [api, exporter, resources, trace, semconv] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  return { api, exporter, resources, trace, semconv };
}
type Sdk = Awaited<ReturnType<typeof loadSdk>>;

// Resource attributes still "incubating" in the semantic conventions: spelled here, as the
// conventions package advises, rather than imported from its unstable entry point.
const ATTR_HOST_NAME = "host.name";
const ATTR_PROCESS_PID = "process.pid";
const ATTR_PROCESS_EXECUTABLE_PATH = "process.executable.path";
const ATTR_PROCESS_EXECUTABLE_NAME = "process.executable.name";

/**
 * The OTLP/HTTP traces endpoint: `--otlp URL` is the collector's base URL (as
 * OTEL_EXPORTER_OTLP_ENDPOINT is), to which `/v1/traces` is added; undefined when neither the flag
 * nor the environment asks for export.
 */
export function otlpTracesUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined) {
    let url: URL;
    try {
      url = new URL(flag);
    } catch {
      throw new TypeError(`--otlp: not a URL: ${JSON.stringify(flag)} (e.g. http://collector:4318)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`--otlp: ${flag}: OTLP/HTTP needs an http: or https: URL`);
    return `${flag.replace(/\/+$/, "")}/v1/traces`;
  }
  // The exporter reads these itself; undefined tells it to.
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT ? "" : undefined;
}

/** Kernel monotonic nanoseconds (bpf_ktime_get_ns) → wall-clock nanoseconds since the epoch. */
export function monotonicToEpoch(): (ns: bigint) => bigint {
  // process.hrtime reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns; the offset is fixed at start.
  const offset = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint();
  return (ns) => ns + offset;
}

const hrTime = (epochNs: bigint): HrTime => [Number(epochNs / 1_000_000_000n), Number(epochNs % 1_000_000_000n)];

/** One request a server handled, as a tracer saw it. */
export interface Request {
  readonly pid: number;
  readonly method: string;
  /** The request path (the route when no router template is known). */
  readonly route: string;
  /** HTTP status; undefined when unknown. */
  readonly status?: number;
  /** Wall-clock start and end, nanoseconds since the epoch. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes?: Attributes;
}

export interface RequestSpansOptions {
  /** From `otlpTracesUrl`: the full traces URL, or "" for the exporter's own environment settings. */
  readonly url: string;
  /** The traced executable (resource process.executable.*; service.name unless OTEL_SERVICE_NAME says). */
  readonly executable: string;
  /** Instrumentation scope name (the tracer's). */
  readonly scope: string;
}

/** Turns requests into SERVER spans and exports them in batches over OTLP/HTTP. */
export class RequestSpans {
  readonly #providers = new Map<number, BasicTracerProvider>();
  readonly #opts: RequestSpansOptions;
  readonly #sdk: Sdk;
  readonly #base: Resource;

  /** Loads the SDK and makes the exporter's settings. */
  static async create(opts: RequestSpansOptions): Promise<RequestSpans> {
    return new RequestSpans(opts, await loadSdk());
  }

  private constructor(opts: RequestSpansOptions, sdk: Sdk) {
    this.#opts = opts;
    this.#sdk = sdk;
    const { resources, semconv } = sdk;
    this.#base = resources.defaultResource().merge(
      resources.resourceFromAttributes({
        [semconv.ATTR_SERVICE_NAME]: basename(opts.executable),
        [ATTR_HOST_NAME]: hostname(),
        [ATTR_PROCESS_EXECUTABLE_PATH]: opts.executable,
        [ATTR_PROCESS_EXECUTABLE_NAME]: basename(opts.executable),
      }),
    );
  }

  #provider(pid: number): BasicTracerProvider {
    let p = this.#providers.get(pid);
    if (!p) {
      const { resources, exporter, trace } = this.#sdk;
      // The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins over what the tracer infers.
      const resource = this.#base.merge(resources.resourceFromAttributes({ [ATTR_PROCESS_PID]: pid })).merge(resources.detectResources({ detectors: [resources.envDetector] }));
      const otlp = new exporter.OTLPTraceExporter(this.#opts.url ? { url: this.#opts.url } : {});
      p = new trace.BasicTracerProvider({ resource, spanProcessors: [new trace.BatchSpanProcessor(otlp)] });
      this.#providers.set(pid, p);
    }
    return p;
  }

  /** Records one request as a span (semantic conventions for HTTP servers). */
  record(r: Request): void {
    const { api, semconv } = this.#sdk;
    const tracer = this.#provider(r.pid).getTracer(this.#opts.scope);
    const span = tracer.startSpan(`${r.method} ${r.route}`, {
      kind: api.SpanKind.SERVER,
      startTime: hrTime(r.startNs),
      attributes: {
        [semconv.ATTR_HTTP_REQUEST_METHOD]: r.method,
        [semconv.ATTR_HTTP_ROUTE]: r.route,
        [semconv.ATTR_URL_PATH]: r.route,
        ...(r.status !== undefined && { [semconv.ATTR_HTTP_RESPONSE_STATUS_CODE]: r.status }),
        ...r.attributes,
      },
    });
    // A server span is an error for 5xx only; 4xx is the client's.
    if (r.status !== undefined && r.status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
    span.end(hrTime(r.endNs));
  }

  /** Exports what is queued and stops. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.#providers.values()].map((p) => p.shutdown()));
    this.#providers.clear();
  }
}
