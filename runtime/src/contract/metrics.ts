// What a metric is, as plain data (part of the contract): the generator emits these from `@metric`
// tags in the C source (generator/metric-tags.ts), and a user writes them by hand for maps that carry
// no tag. Reading maps, counting events and exporting live in ../metrics/.

export type MetricKind = "counter" | "gauge" | "histogram";

/** Units a stored value may carry and a metric may be exported in; each scales to its base. */
export const units = {
  ns: { dimension: "time", factor: 1e-9 },
  us: { dimension: "time", factor: 1e-6 },
  ms: { dimension: "time", factor: 1e-3 },
  s: { dimension: "time", factor: 1 },
  seconds: { dimension: "time", factor: 1 },
  bytes: { dimension: "size", factor: 1 },
  kib: { dimension: "size", factor: 1024 },
  mib: { dimension: "size", factor: 1024 * 1024 },
  pages: { dimension: "size", factor: 4096 },
} as const;
export type Unit = keyof typeof units;

/**
 * How a label value is written: `number` (decimal), `string` (a `char[N]`), `enum` (the name from
 * `names`, else the number), `ipv4`/`ipv6` (a `__u32`/`__be32` or `u8[4]`/`u8[16]` in network
 * order), `ksym` (a kernel address → its symbol, from /proc/kallsyms), `cgroup` (a cgroup id → its
 * path under /sys/fs/cgroup).
 */
export const labelFormats = ["number", "string", "enum", "ipv4", "ipv6", "ksym", "cgroup"] as const;
export type LabelFormat = (typeof labelFormats)[number];

export interface LabelSpec {
  /** The Prometheus/OTel label name. */
  readonly name: string;
  /** TS member path in the map's key (map metrics) or the event (event metrics); `[]`: the key itself. */
  readonly field: readonly string[];
  readonly format: LabelFormat;
  /** `enum`: value → name. */
  readonly names?: Readonly<Record<string, string>>;
}

/** Bucket `i` counts stored values in `[2^i, 2^(i+1))` (log2; bucket 0 also holds 0) or `[min + i·step, min + (i+1)·step)` (linear). */
export type BucketSpec =
  | { readonly type: "log2" }
  /** `count`: how many buckets (a map histogram has as many as its array; an event histogram needs it). */
  | { readonly type: "linear"; readonly min: number; readonly step: number; readonly count?: number };

export interface MetricSpec<MapName extends string = string> {
  /** Exported name (Prometheus conventions: `snake_case`, `_total` for counters, the base unit last). */
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  /** The map (its TS member name in `objects.maps`) the data is in. */
  readonly map: MapName;
  /**
   * `map`: read from the map at each scrape (per-CPU values summed); `event`: updated as records of
   * this ring buffer / perf event array arrive (`MetricsRegistry.observe`).
   */
  readonly source: "map" | "event";
  /**
   * TS member path of the value in the map's value or in the event. Absent: the map's value itself;
   * for event counters, each event counts 1. A map histogram's value is an array of buckets; an
   * event histogram's value is the number observed.
   */
  readonly value?: readonly string[];
  readonly labels: readonly LabelSpec[];
  /** Histograms: what the buckets are (map histograms) or how values are bucketed (event histograms). */
  readonly buckets?: BucketSpec;
  /** Map histograms: the field holding the total of the observed values (else `_sum` is estimated from bucket midpoints). */
  readonly sum?: readonly string[];
  /** The stored value's unit, and the unit to export it in (scaled; default: as stored). */
  readonly unit?: Unit;
  readonly exportUnit?: Unit;
}

/** Declares metrics in TypeScript for maps with no `@metric` tag (same shape as the generated ones). */
export function defineMetrics<const M extends string>(specs: readonly MetricSpec<M>[]): readonly MetricSpec<M>[] {
  for (const s of specs) checkSpec(s);
  return specs;
}

const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelRe = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws a message naming the metric when a spec (hand-written or edited) cannot work. */
export function checkSpec(s: MetricSpec): void {
  const where = `metric "${s.name}" (map ${s.map})`;
  if (!nameRe.test(s.name)) throw new TypeError(`${where}: name must match ${nameRe.source}`);
  if (!["counter", "gauge", "histogram"].includes(s.kind)) throw new TypeError(`${where}: kind must be counter, gauge or histogram, not "${s.kind}"`);
  if (s.source !== "map" && s.source !== "event") throw new TypeError(`${where}: source must be "map" or "event"`);
  if (s.kind === "histogram" && !s.buckets) throw new TypeError(`${where}: a histogram needs buckets (log2 or linear)`);
  if (s.kind === "gauge" && s.source === "event" && !s.value) throw new TypeError(`${where}: an event gauge needs a value field`);
  if (s.buckets?.type === "linear" && !(s.buckets.step > 0)) throw new TypeError(`${where}: linear buckets need step > 0`);
  if (s.buckets?.type === "linear" && s.source === "event" && !(Number.isInteger(s.buckets.count) && s.buckets.count! > 0)) throw new TypeError(`${where}: linear buckets of an event histogram need count`);
  for (const u of [s.unit, s.exportUnit]) if (u !== undefined && !(u in units)) throw new TypeError(`${where}: unknown unit "${u}" (one of ${Object.keys(units).join(", ")})`);
  if (s.unit && s.exportUnit && units[s.unit].dimension !== units[s.exportUnit].dimension) throw new TypeError(`${where}: cannot export ${s.unit} as ${s.exportUnit}`);
  if (s.exportUnit && !s.unit) throw new TypeError(`${where}: exportUnit needs the stored unit`);
  const seen = new Set<string>();
  for (const l of s.labels) {
    if (!labelRe.test(l.name) || l.name.startsWith("__") || l.name === "le") throw new TypeError(`${where}: bad label name "${l.name}"`);
    if (seen.has(l.name)) throw new TypeError(`${where}: label "${l.name}" given twice`);
    seen.add(l.name);
  }
}

/** Multiplier from a spec's stored unit to its exported unit. */
export function unitScale(s: MetricSpec): number {
  return s.unit && s.exportUnit ? units[s.unit].factor / units[s.exportUnit].factor : 1;
}
