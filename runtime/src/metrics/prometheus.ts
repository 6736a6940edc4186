// Prometheus exposition with prom-client: each metric is a prom-client metric whose values come from
// one `MetricsRegistry.collect()` per scrape (one batch read per map), served at `/metrics`.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry, type MetricObjectWithValues, type MetricValue, type MetricValueWithName } from "prom-client";
import { droppedSpec, type MetricFamily, type MetricsRegistry } from "./registry.js";

type Values = Array<MetricValue<string> | MetricValueWithName<string>>;

function values(f: MetricFamily): Values {
  if (f.kind !== "histogram") return f.samples.map((s) => ({ labels: { ...s.labels }, value: s.value }));
  const out: Values = [];
  const name = f.spec.name;
  for (const s of f.samples) {
    let cumulative = 0;
    s.bounds.forEach((b, i) => {
      cumulative += s.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: b === Infinity ? "+Inf" : b }, value: cumulative });
    });
    out.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: s.sum });
    out.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: s.count });
  }
  return out;
}

/** A prom-client `Registry` holding the metrics of `metrics`, each scrape reading the maps once. */
export function promRegistry(metrics: MetricsRegistry, registry = new Registry()): Registry {
  let snapshot = new Map<string, MetricFamily>();
  const refresh = (): void => {
    snapshot = new Map(metrics.collect().map((f) => [f.spec.name, f]));
  };
  for (const spec of [...metrics.specs, droppedSpec]) {
    const name = spec.name;
    const entry = {
      name,
      help: spec.help,
      type: spec.kind,
      aggregator: "sum",
      // registry.metrics() (below) refreshes the snapshot once, then calls every metric's get().
      get: async (): Promise<MetricObjectWithValues<MetricValue<string>>> => {
        const f = snapshot.get(name);
        return { name, help: spec.help, type: spec.kind as never, aggregator: "sum", values: (f ? values(f) : []) as MetricValue<string>[] } as unknown as MetricObjectWithValues<MetricValue<string>>;
      },
    };
    registry.registerMetric(entry as never);
  }
  const metricsText = registry.metrics.bind(registry);
  registry.metrics = async () => {
    refresh();
    return metricsText();
  };
  return registry;
}

export interface MetricsServer {
  readonly server: Server;
  /** Where it listens (`host:port`; the port the kernel chose when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

/** Parses `ADDR:PORT` / `:PORT` / `PORT` / `[v6]:PORT` (default host 0.0.0.0, Prometheus exporters' usual). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port < 65536)) throw new TypeError(`--metrics ${listen}: expected ADDR:PORT (e.g. 127.0.0.1:9464 or :9464)`);
  return { host: m[1] || m[2] || "0.0.0.0", port };
}

/** Serves `/metrics` (Prometheus text format) on `listen` (`ADDR:PORT`). */
export async function serveMetrics(metrics: MetricsRegistry, listen: string): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const registry = promRegistry(metrics);
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "/").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("bpf2ts: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`bpf2ts: collecting metrics failed: ${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    server,
    address: `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
