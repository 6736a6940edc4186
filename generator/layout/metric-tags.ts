// `@metric` tags in doc comments: metrics declared where the data is. A tag on a map reads the map at
// scrape time (labels from key fields); a tag on an event-carrying map, or on a field of an event
// struct, updates the metric as events arrive (labels from event fields). Each tag is checked against
// the BTF layouts; a problem is an error naming the file, the map or field, and the tag.
//
//   @metric <counter|gauge|histogram> [log2 | linear min=N step=N [count=N]] name=NAME
//           [labels=[LABEL=]FIELD[:FORMAT],…] [value=FIELD] [sum=FIELD] [unit=U [export=U]] [help="…"]
//
// The result is the runtime's MetricSpec as plain data (runtime/src/contract/metrics.ts).

import { isEventMap, labelFormats, mapWrapper, mapWrappers, units, type BucketSpec, type LabelFormat, type LabelSpec, type MetricSpec, type Unit } from "@bpf2ts/runtime/contract";
import { Bpf2tsError } from "../errors.js";
import { sizeOf, type CompositeLayout, type FieldNode, type ValueLayout } from "./layout.js";
import type { MapLayouts } from "./roots.js";

export class MetricTagError extends Bpf2tsError {
  override name = "MetricTagError";
}

const keys = new Set(["name", "labels", "value", "sum", "unit", "export", "help", "min", "step", "count"]);

export interface MetricTag {
  readonly kind: "counter" | "gauge" | "histogram";
  readonly buckets?: "log2" | "linear";
  readonly attrs: Readonly<Record<string, string>>;
  /** The tag as written, for messages. */
  readonly text: string;
}

/** The `@metric` lines of a doc comment, parsed (syntax only); the rest of the doc is the help text. */
export function parseMetricTags(doc: string | undefined): { tags: MetricTag[]; help: string } {
  const tags: MetricTag[] = [];
  const rest: string[] = [];
  for (const line of (doc ?? "").split("\n")) {
    const m = /^\s*@metric\b(.*)$/.exec(line);
    if (!m) {
      rest.push(line);
      continue;
    }
    const text = `@metric${m[1]}`.trim();
    const words: string[] = [];
    const attrs: Record<string, string> = {};
    const re = /\s*([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|[^\s"]+))?\s*/y;
    const body = m[1]!;
    let at = 0;
    while (at < body.trimEnd().length) {
      re.lastIndex = at;
      const t = re.exec(body);
      if (!t) throw new MetricTagError(`${text}: cannot read "${body.slice(at).trim()}" (expected word or key=value; quote values with spaces)`);
      at = re.lastIndex;
      if (t[2] === undefined) words.push(t[1]!);
      else {
        if (!keys.has(t[1]!)) throw new MetricTagError(`${text}: unknown attribute "${t[1]}" (one of ${[...keys].join(", ")})`);
        if (t[1]! in attrs) throw new MetricTagError(`${text}: "${t[1]}" given twice`);
        attrs[t[1]!] = t[2].startsWith('"') ? (JSON.parse(t[2]) as string) : t[2];
      }
    }
    const [kind, buckets, ...extra] = words;
    if (kind !== "counter" && kind !== "gauge" && kind !== "histogram") throw new MetricTagError(`${text}: the kind must come first: counter, gauge or histogram${kind ? `, not "${kind}"` : ""}`);
    if (buckets !== undefined && buckets !== "log2" && buckets !== "linear") throw new MetricTagError(`${text}: unknown word "${buckets}" (buckets are log2 or linear)`);
    if (extra.length) throw new MetricTagError(`${text}: unexpected "${extra.join(" ")}"`);
    tags.push({ kind, ...(buckets && { buckets }), attrs, text });
  }
  return { tags, help: rest.join(" ").replace(/\s+/g, " ").trim() };
}

/** Where a tag was found and what it can see. */
export interface TagSite {
  /** For messages: `map "hists"` or `field event.lat_us`. */
  readonly where: string;
  /** The map's TS member name. */
  readonly map: string;
  readonly source: "map" | "event";
  /** Labels come from here (a map's key, or the event). */
  readonly labelsFrom?: ValueLayout;
  /** The value (a map's value, or the event); `valueField`: the tagged field's path in it. */
  readonly valueFrom?: ValueLayout;
  readonly valueField?: readonly string[];
}

interface Resolved {
  readonly ts: string[];
  readonly type: ValueLayout;
}

/** Members of a composite by C name (anonymous members are already flattened; union alternatives all count). */
function members(c: CompositeLayout): Map<string, { ts: string; type: ValueLayout }> {
  const out = new Map<string, { ts: string; type: ValueLayout }>();
  const visit = (nodes: readonly FieldNode[]): void => {
    for (const n of nodes) {
      if (n.node === "value" || n.node === "bitfield") out.set(n.cName, { ts: n.name, type: n.type });
      else if (n.node === "union") for (const alt of n.alternatives) visit(alt);
    }
  };
  visit(c.fields);
  return out;
}

/** A dotted C member path in `t` (`[]` for ""), or a message saying why not. */
function resolve(t: ValueLayout | undefined, path: string): Resolved | string {
  if (!t) return "the type is unknown (no BTF)";
  const ts: string[] = [];
  let cur: ValueLayout = t;
  for (const part of path ? path.split(".") : []) {
    if (cur.kind !== "composite") return `"${path}": not a struct member`;
    const all = members(cur.ref);
    const m = all.get(part);
    if (!m) return `"${part}" is not a field of ${cur.ref.cDecl} (fields: ${[...all.keys()].join(", ")})`;
    ts.push(m.ts);
    cur = m.type;
  }
  return { ts, type: cur };
}

const isNumeric = (t: ValueLayout): boolean => t.kind === "int" || t.kind === "float" || t.kind === "bool" || t.kind === "enum";
const isIntArray = (t: ValueLayout): t is Extract<ValueLayout, { kind: "array" }> => t.kind === "array" && t.elem.kind === "int";

function labelFormat(t: ValueLayout, asked: string | undefined, fail: (why: string) => never): { format: LabelFormat; names?: Record<string, string> } {
  const inferred: LabelFormat = t.kind === "string" ? "string" : t.kind === "enum" ? "enum" : "number";
  const format = (asked ?? inferred) as LabelFormat;
  if (!labelFormats.includes(format)) fail(`unknown label format "${asked}" (one of ${labelFormats.join(", ")})`);
  const ok =
    format === "number" ? isNumeric(t) || t.kind === "pointer"
    : format === "string" ? t.kind === "string"
    : format === "enum" ? t.kind === "enum"
    : format === "ipv4" ? (t.kind === "int" && t.size === 4) || (isIntArray(t) && sizeOf(t) === 4)
    : format === "ipv6" ? isIntArray(t) && sizeOf(t) === 16
    : (t.kind === "int" && t.size === 8) || t.kind === "pointer";
  if (!ok) fail(`a ${t.kind === "int" ? `${t.size * 8}-bit integer` : t.kind} cannot be a ${format} label`);
  if (format !== "enum" || t.kind !== "enum") return { format };
  return { format, names: Object.fromEntries(t.ref.values.map((v) => [String(v.value), v.name])) };
}

/** One tag checked against what its site can see: the runtime's MetricSpec, or an error naming both. */
export function metricSpec(file: string, site: TagSite, tag: MetricTag, docHelp: string): MetricSpec {
  const fail = (why: string): never => {
    throw new MetricTagError(`${file}: ${site.where}: ${tag.text}: ${why}`, { file, symbol: site.map });
  };
  const a = tag.attrs;
  const name = a.name ?? fail("needs name=NAME");
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) fail(`name "${name}" is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  // Labels: key fields for map metrics, event fields for event metrics; a scalar key is one label of any name.
  const labels: LabelSpec[] = [];
  for (const item of a.labels ? a.labels.split(",") : []) {
    const m = /^(?:([A-Za-z_][A-Za-z0-9_]*)=)?([A-Za-z_][A-Za-z0-9_.]*)(?::([a-z0-9]+))?$/.exec(item);
    if (!m) fail(`label "${item}": write [LABEL=]FIELD[:FORMAT]`);
    const [, rename, path, fmt] = m!;
    const from = site.labelsFrom;
    const scalarKey = site.source === "map" && from !== undefined && from.kind !== "composite";
    const r = scalarKey ? { ts: [], type: from } : resolve(from, path!);
    if (typeof r === "string") fail(`label "${path}" is not ${site.source === "map" ? "a key" : "an event"} field: ${r}`);
    const { ts, type } = r as Resolved;
    if (scalarKey && a.labels!.split(",").length > 1) fail(`the key is a single ${type.kind}: it gives one label`);
    const labelName = rename ?? path!.split(".").pop()!;
    labels.push({ name: labelName, field: ts, ...labelFormat(type, fmt, (why) => fail(`label "${path}": ${why}`)) });
  }
  if (new Set(labels.map((l) => l.name)).size !== labels.length) fail("two labels have the same name");
  // The value: value=FIELD in the map's value / the event, else the tagged field or the value itself.
  const valuePath = a.value;
  const val: Resolved | string | undefined =
    valuePath !== undefined ? resolve(site.valueFrom, valuePath)
    : site.valueField ? resolve(site.valueFrom, site.valueField.join("."))
    : site.source === "map" ? resolve(site.valueFrom, "")
    : undefined;
  if (typeof val === "string") fail(`value: ${val}`);
  const value = val as Resolved | undefined;
  let buckets: BucketSpec | undefined;
  if (tag.kind === "histogram") {
    if (!tag.buckets) fail("a histogram needs log2 or linear buckets");
    if (!value) fail("an event histogram needs value=FIELD (the number observed)");
    if (site.source === "map" && !isIntArray(value!.type)) fail(`a map histogram's value must be an array of integer buckets, not ${value!.type.kind === "composite" ? `${value!.type.ref.cDecl} (name the array with value=FIELD)` : `a ${value!.type.kind}`}`);
    if (site.source === "event" && !isNumeric(value!.type)) fail(`an event histogram observes a number, not a ${value!.type.kind}`);
    if (tag.buckets === "linear") {
      const num = (k: string, need: boolean): number | undefined => {
        if (a[k] === undefined) return need ? fail(`linear buckets need ${k}=N`) : undefined;
        const n = Number(a[k]);
        if (!Number.isFinite(n)) fail(`${k}=${a[k]} is not a number`);
        return n;
      };
      const step = num("step", true)!;
      if (step <= 0) fail("step must be > 0");
      const count = num("count", site.source === "event");
      buckets = { type: "linear", min: num("min", false) ?? 0, step, ...(count !== undefined && { count }) };
    } else buckets = { type: "log2" };
  } else {
    if (tag.buckets) fail(`${tag.buckets} buckets belong to histograms`);
    if (tag.kind === "gauge" && !value) fail("an event gauge needs value=FIELD");
    if (value && !isNumeric(value.type)) fail(`a ${tag.kind}'s value must be a number, not ${value.type.kind === "composite" ? `${value.type.ref.cDecl} (name a field with value=FIELD)` : `a ${value.type.kind}`}`);
  }
  for (const k of ["min", "step", "count"]) if (a[k] !== undefined && tag.buckets !== "linear") fail(`${k}= belongs to linear buckets`);
  let sum: readonly string[] | undefined;
  if (a.sum !== undefined) {
    if (tag.kind !== "histogram" || site.source !== "map") fail("sum= belongs to map histograms");
    const s = resolve(site.valueFrom, a.sum);
    if (typeof s === "string" || !isNumeric(s.type)) fail(`sum: ${typeof s === "string" ? s : "not a number"}`);
    sum = (s as Resolved).ts;
  }
  const unit = a.unit as Unit | undefined, exportUnit = a.export as Unit | undefined;
  for (const u of [unit, exportUnit]) if (u !== undefined && !(u in units)) fail(`unknown unit "${u}" (one of ${Object.keys(units).join(", ")})`);
  if (exportUnit && !unit) fail("export= needs unit= (the stored unit)");
  if (unit && exportUnit && units[unit].dimension !== units[exportUnit].dimension) fail(`cannot export ${unit} as ${exportUnit}`);
  const help = a.help ?? docHelp;
  return {
    name,
    kind: tag.kind,
    help: help || name,
    map: site.map,
    source: site.source,
    ...(value && value.ts.length > 0 && { value: value.ts }),
    labels,
    ...(buckets && { buckets }),
    ...(sum && { sum }),
    ...(unit && { unit }),
    ...(exportUnit && { exportUnit }),
  };
}

// Maps wrapped with a key or value codec (not the plain BpfMap fallback) are read by key.
const isReadableMap = (type: string): boolean => Object.hasOwn(mapWrappers, type) && ["kv", "v"].includes(mapWrapper(type).shape);

/** Every `@metric` of a module: on maps (sorted by map) then on event fields; names unique. */
export function moduleMetrics(file: string, maps: ReadonlyArray<MapLayouts & { ts: string }>, docs: { maps: Readonly<Record<string, string>>; fields: Readonly<Record<string, string>> }): MetricSpec[] {
  const out: MetricSpec[] = [];
  for (const m of maps) {
    const { tags, help } = parseTagsAt(file, `map "${m.map.name}"`, docs.maps[m.map.name]);
    for (const tag of tags) {
      const where = `map "${m.map.name}"`;
      if (isEventMap(m.map.type)) out.push(metricSpec(file, { where, map: m.ts, source: "event", ...(m.event && { labelsFrom: m.event, valueFrom: m.event }) }, tag, help));
      else if (isReadableMap(m.map.type)) out.push(metricSpec(file, { where, map: m.ts, source: "map", ...(m.key && { labelsFrom: m.key }), ...(m.value && { valueFrom: m.value }) }, tag, help));
      else throw new MetricTagError(`${file}: ${where}: ${tag.text}: a ${m.map.type} map cannot carry metrics (hash, array and their per-CPU/LRU kinds are read; ring buffers and perf arrays are counted)`, { file, symbol: m.map.name });
    }
  }
  // Tags on event struct fields: one metric per event map carrying the struct.
  for (const [key, doc] of Object.entries(docs.fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const { tags, help } = parseTagsAt(file, `field ${key}`, doc);
    if (tags.length === 0) continue;
    const [structName, ...path] = key.split(".");
    const carriers = maps.filter((m) => m.event?.kind === "composite" && (m.event.ref.cName === structName || m.event.ref.label === structName));
    if (carriers.length === 0) throw new MetricTagError(`${file}: field ${key}: ${tags[0]!.text}: struct ${structName} is not the event type of a ring buffer or perf event array`, { file, member: key });
    for (const m of carriers) {
      for (const tag of tags) out.push(metricSpec(file, { where: `field ${key} (events of map "${m.map.name}")`, map: m.ts, source: "event", labelsFrom: m.event!, valueFrom: m.event!, valueField: path }, tag, help));
    }
  }
  const seen = new Map<string, string>();
  for (const s of out) {
    if (seen.has(s.name)) throw new MetricTagError(`${file}: metric "${s.name}" is declared twice (maps ${seen.get(s.name)} and ${s.map})`, { file });
    seen.set(s.name, s.map);
  }
  return out;
}

function parseTagsAt(file: string, where: string, doc: string | undefined): { tags: MetricTag[]; help: string } {
  try {
    return parseMetricTags(doc);
  } catch (e) {
    if (e instanceof MetricTagError) throw new MetricTagError(`${file}: ${where}: ${e.message}`, { file });
    throw e;
  }
}
