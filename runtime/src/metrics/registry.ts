// The state behind every export: metrics read from maps at collection time (per-CPU values summed,
// entries with the same labels added up) and metrics updated as events arrive. Prometheus
// (./prometheus.ts) and OTLP (./otlp.ts) both print what `collect()` returns.

import { labelFormatter, pathGetter } from "./labels.js";
import { checkSpec, unitScale, units, type MetricSpec } from "../contract/metrics.js";

export interface ScalarSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
export interface HistogramSample {
  readonly labels: Readonly<Record<string, string>>;
  /** Inclusive upper bounds in the exported unit, ascending; the last is `Infinity`. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), one per bound. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}
export type MetricFamily =
  | { readonly spec: MetricSpec; readonly kind: "counter" | "gauge"; readonly samples: readonly ScalarSample[] }
  | { readonly spec: MetricSpec; readonly kind: "histogram"; readonly samples: readonly HistogramSample[] };

export interface MetricsOptions {
  /** Most label sets one metric keeps (default 2000); more are dropped and counted in `dropped`. */
  readonly labelLimit?: number;
  /** Label values computed in TS, by label name (e.g. a syscall number → its name); overrides the format. */
  readonly relabel?: Readonly<Record<string, (raw: unknown) => string>>;
  /** Changes to specs by metric name, decided at run time (e.g. the unit a CLI flag selected). */
  readonly overrides?: Readonly<Record<string, Partial<MetricSpec>>>;
}

/** The maps of a loaded object (`objects.maps`), as the registry reads them. */
export type MapsOf = Readonly<Record<string, unknown>>;

interface BatchMap {
  readonly type: string;
  lookupBatch(): Array<[unknown, unknown]>;
}

/** Scaled bounds print as 0.000015, not 0.000014999999999999999. */
const tidy = (x: number): number => Number(x.toPrecision(12));
const toNumber = (x: unknown): number => (typeof x === "number" ? x : typeof x === "bigint" ? Number(x) : x ? 1 : 0);

/** Bucket bounds (inclusive, stored unit) and midpoints for `n` buckets. */
function bucketRanges(spec: MetricSpec, n: number): { hi: number[]; mid: number[] } {
  const b = spec.buckets!;
  const hi: number[] = [], mid: number[] = [];
  for (let i = 0; i < n; i++) {
    const lo = b.type === "log2" ? (i === 0 ? 0 : 2 ** i) : b.min + i * b.step;
    const top = b.type === "log2" ? 2 ** (i + 1) - 1 : b.min + (i + 1) * b.step - 1;
    hi.push(top);
    mid.push((lo + top) / 2);
  }
  return { hi, mid };
}

/** The counter of what the label limit left out, exported beside every registry's metrics. */
export const droppedSpec: MetricSpec = {
  name: "bpf2ts_metrics_dropped_total",
  kind: "counter",
  help: "Observations (events) or map entries (per scrape) left out because the metric reached its label-set limit",
  map: "",
  source: "event",
  labels: [{ name: "metric", field: [], format: "string" }],
};

/** `format` memoized by raw value (primitives; a byte array by its bytes), at most `limit` values then started afresh. */
function cached(format: (raw: unknown) => string, limit: number): (raw: unknown) => string {
  const memo = new Map<unknown, string>();
  return (raw) => {
    const k = raw instanceof Uint8Array ? String.fromCharCode.apply(null, raw as unknown as number[]) : raw;
    let v = memo.get(k);
    if (v === undefined) {
      if (memo.size >= limit) memo.clear();
      memo.set(k, (v = format(raw)));
    }
    return v;
  };
}

interface Compiled {
  readonly spec: MetricSpec;
  /** The labels of a new series (formatted once per series, never per event). */
  readonly labelsOf: (x: unknown) => Record<string, string>;
  /** The series key: the raw value of a single number or string label, else a string. */
  readonly keyOf: (x: unknown) => unknown;
  readonly keySig: string;
  readonly valueOf: (x: unknown) => unknown;
  readonly sumOf?: (x: unknown) => unknown;
  readonly scale: number;
}

interface EventState {
  readonly c: Compiled;
  readonly series: Map<unknown, { labels: Record<string, string>; value: number; counts: number[]; sum: number; count: number }>;
}

export class MetricsRegistry {
  readonly specs: readonly MetricSpec[];
  /** Observations (events) or map entries (per collection) left out because a metric reached its label limit, by metric name. */
  readonly dropped = new Map<string, number>();
  private readonly limit: number;
  private readonly compiled: Compiled[];
  private readonly events = new Map<string, EventState[]>();
  private readonly observers = new Map<string, (event: unknown) => void>();

  constructor(private readonly maps: MapsOf, specs: readonly MetricSpec[], opts: MetricsOptions = {}) {
    this.limit = opts.labelLimit ?? 2000;
    const names = new Set<string>();
    this.specs = specs.map((s) => ({ ...s, ...opts.overrides?.[s.name] }) as MetricSpec);
    this.compiled = this.specs.map((spec) => {
      checkSpec(spec);
      if (names.has(spec.name)) throw new TypeError(`metric "${spec.name}" declared twice`);
      names.add(spec.name);
      const map = maps[spec.map] as BatchMap | undefined;
      if (!map || typeof map !== "object") throw new TypeError(`metric "${spec.name}": the object has no map "${spec.map}" (maps: ${Object.keys(maps).join(", ")})`);
      if (spec.source === "map" && typeof map.lookupBatch !== "function") throw new TypeError(`metric "${spec.name}": map "${spec.map}" (${map.type}) cannot be read; declare the metric with source "event"`);
      const getters = spec.labels.map((l) => {
        const relabel = opts.relabel?.[l.name];
        // A number or string label is its own series key (no formatting per event); other formats
        // (enum names, addresses, symbols, cgroup paths, relabels) may map several raw values to one
        // label, so they are keyed by the label, formatted through a cache of at most the label limit.
        const plain = !relabel && (l.format === "number" || l.format === "string");
        return { name: l.name, get: pathGetter(l.field), fmt: plain ? String : cached(relabel ?? labelFormatter(l), this.limit), plain };
      });
      const labelsOf = (x: unknown): Record<string, string> => Object.fromEntries(getters.map((g) => [g.name, g.fmt(g.get(x))]));
      const one = getters[0];
      const keyOf =
        getters.length === 0 ? () => ""
        : getters.length === 1 ? (one!.plain ? (x: unknown) => one!.get(x) : (x: unknown) => one!.fmt(one!.get(x)))
        : (x: unknown) => {
            let k = "";
            for (const g of getters) k += `${g.plain ? (g.get(x) as string) : g.fmt(g.get(x))}\u0000`;
            return k;
          };
      // Metrics of one ring buffer with the same labels share one key per event.
      const keySig = JSON.stringify(spec.labels.map((l) => [l.name, l.field, l.format, l.names, !!opts.relabel?.[l.name]]));
      return { spec, labelsOf, keyOf, keySig, valueOf: pathGetter(spec.value ?? []), ...(spec.sum && { sumOf: pathGetter(spec.sum) }), scale: unitScale(spec) };
    });
    for (const c of this.compiled) {
      if (c.spec.source !== "event") continue;
      const list = this.events.get(c.spec.map) ?? [];
      list.push({ c, series: new Map() });
      this.events.set(c.spec.map, list);
    }
  }

  private drop(name: string, n = 1): void {
    this.dropped.set(name, (this.dropped.get(name) ?? 0) + n);
  }

  /** Updates the event metrics of `map` (its TS member name) with one record. */
  observe(map: string, event: unknown): void {
    this.observer(map)?.(event);
  }

  /** A callback for `onEvent` that updates the event metrics of `map`; undefined when it has none. */
  observer(map: string): ((event: unknown) => void) | undefined {
    let f = this.observers.get(map);
    if (f || !this.events.has(map)) return f;
    // Metrics with the same labels share the key computed once per event.
    const groups = new Map<string, EventState[]>();
    for (const st of this.events.get(map)!) groups.set(st.c.keySig, [...(groups.get(st.c.keySig) ?? []), st]);
    const lists = [...groups.values()];
    f = (event) => {
      for (const list of lists) {
        const key = list[0]!.c.keyOf(event);
        for (const st of list) this.observeOne(st, event, key);
      }
    };
    this.observers.set(map, f);
    return f;
  }

  private observeOne(st: EventState, event: unknown, key: unknown): void {
    const { c } = st;
    let s = st.series.get(key);
    if (!s) {
      if (st.series.size >= this.limit) return this.drop(c.spec.name);
      s = { labels: c.labelsOf(event), value: 0, counts: [], sum: 0, count: 0 };
      st.series.set(key, s);
    }
    const spec = c.spec;
    if (spec.kind === "counter") s.value += spec.value ? toNumber(c.valueOf(event)) : 1;
    else if (spec.kind === "gauge") s.value = toNumber(c.valueOf(event));
    else {
      const v = toNumber(c.valueOf(event));
      const b = spec.buckets!;
      let i: number;
      if (b.type === "log2") i = v < 2 ? 0 : Math.floor(Math.log2(v));
      else i = Math.max(0, Math.floor((v - b.min) / b.step));
      const n = b.type === "linear" ? b.count! : 64;
      if (i >= n) i = n; // past the last bucket: only +Inf holds it
      while (s.counts.length <= i) s.counts.push(0);
      s.counts[i]!++;
      s.sum += v;
      s.count++;
    }
  }

  /** Every metric now: maps read (one batch per map and collection), event state copied. */
  collect(): MetricFamily[] {
    const entriesByMap = new Map<string, Array<[unknown, unknown]>>();
    const entriesOf = (name: string): Array<[unknown, unknown]> => {
      let e = entriesByMap.get(name);
      if (!e) entriesByMap.set(name, (e = (this.maps[name] as BatchMap).lookupBatch()));
      return e;
    };
    const out: MetricFamily[] = [];
    const dropped = { spec: droppedSpec, kind: "counter" as const, samples: [] as ScalarSample[] };
    for (const c of this.compiled) {
      if (c.spec.source === "map") out.push(this.fromMap(c, entriesOf(c.spec.map), (this.maps[c.spec.map] as BatchMap).type.includes("percpu")));
      else out.push(this.fromEvents(this.events.get(c.spec.map)!.find((st) => st.c === c)!));
    }
    for (const [metric, n] of this.dropped) dropped.samples.push({ labels: { metric }, value: n });
    out.push(dropped);
    return out;
  }

  private fromMap(c: Compiled, entries: Array<[unknown, unknown]>, perCpu: boolean): MetricFamily {
    const { spec, scale } = c;
    const cpus = (v: unknown): unknown[] => (perCpu ? (v as unknown[]) : [v]);
    const series = new Map<unknown, { labels: Record<string, string>; value: number; counts: number[]; sum: number }>();
    let dropped = 0;
    for (const [k, v] of entries) {
      const key = c.keyOf(k);
      let s = series.get(key);
      if (!s) {
        if (series.size >= this.limit) { dropped++; continue; }
        series.set(key, (s = { labels: c.labelsOf(k), value: 0, counts: [], sum: 0 }));
      }
      for (const cpuValue of cpus(v)) {
        const x = c.valueOf(cpuValue);
        if (spec.kind !== "histogram") s.value += toNumber(x);
        else {
          const slots = x as ArrayLike<number | bigint>;
          for (let i = 0; i < slots.length; i++) s.counts[i] = (s.counts[i] ?? 0) + toNumber(slots[i]);
          if (c.sumOf) s.sum += toNumber(c.sumOf(cpuValue));
        }
      }
    }
    if (dropped) this.drop(spec.name, dropped);
    if (spec.kind !== "histogram") return { spec, kind: spec.kind, samples: [...series.values()].map((s) => ({ labels: s.labels, value: s.value * scale })) };
    return {
      spec,
      kind: "histogram",
      samples: [...series.values()].map((s) => {
        const { hi, mid } = bucketRanges(spec, s.counts.length);
        // The last slot holds everything past the one before it (C code clamps to it): its bound is +Inf.
        const bounds = hi.map((h, i) => (i === hi.length - 1 ? Infinity : tidy(h * scale)));
        const count = s.counts.reduce((a, b) => a + b, 0);
        const sum = c.sumOf ? s.sum : s.counts.reduce((a, n, i) => a + n * mid[i]!, 0);
        return { labels: s.labels, bounds, counts: s.counts, sum: sum * scale, count };
      }),
    };
  }

  private fromEvents(st: EventState): MetricFamily {
    const { spec, scale } = st.c;
    if (spec.kind !== "histogram") return { spec, kind: spec.kind, samples: [...st.series.values()].map((s) => ({ labels: s.labels, value: s.value * scale })) };
    const n = spec.buckets!.type === "linear" ? spec.buckets!.count! : Math.max(0, ...[...st.series.values()].map((s) => Math.min(s.counts.length, 64)));
    const { hi } = bucketRanges(spec, n);
    const bounds = [...hi.map((h) => tidy(h * scale)), Infinity];
    return {
      spec,
      kind: "histogram",
      samples: [...st.series.values()].map((s) => ({
        labels: s.labels,
        bounds,
        counts: Array.from({ length: n + 1 }, (_, i) => s.counts[i] ?? 0),
        sum: s.sum * scale,
        count: s.count,
      })),
    };
  }
}

/** The exported unit's name for OTel (UCUM) descriptors. */
export function ucum(spec: MetricSpec): string {
  const u = spec.exportUnit ?? spec.unit;
  if (!u) return "";
  return ucumUnits[u];
}
const ucumUnits: Record<keyof typeof units, string> = { ns: "ns", us: "us", ms: "ms", s: "s", seconds: "s", bytes: "By", kib: "KiBy", mib: "MiBy", pages: "{page}" };
