// The module's `<stem>Metrics`: the `@metric` tags of its source as the runtime's MetricSpec data,
// typed by the object's map names. Emitted only when the source has tags.

import type CodeBlockWriter from "code-block-writer";
import type { MetricSpec } from "@bpf2ts/runtime/contract";
import { moduleMetrics } from "../layout/metric-tags.js";
import type { ObjectModel } from "../model/model.js";
import type { MapLayouts } from "../layout/roots.js";
import { docComment } from "./writer.js";

/** Writes `export const <name>` when there are metrics; returns whether it did (the module then imports `MetricSpec`). */
export function emitMetrics(w: CodeBlockWriter, name: string, objectsType: string, model: ObjectModel, maps: ReadonlyArray<MapLayouts & { ts: string }>, specType: () => string): boolean {
  const specs: MetricSpec[] = moduleMetrics(model.file, maps, model.docs);
  if (specs.length === 0) return false;
  docComment(w, ["Metrics declared by `@metric` tags in the source; serve them with `@bpf2ts/runtime/metrics` (Prometheus) or `/otlp`."]);
  w.write(`export const ${name}: readonly ${specType()}<keyof ${objectsType}["maps"]>[] = [`).newLine();
  w.indent(() => {
    for (const s of specs) w.writeLine(`${literal(s)},`);
  });
  w.writeLine("];");
  return true;
}

/** A plain-data value as a TS literal on one line. */
function literal(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(literal).join(", ")}]`;
  if (x !== null && typeof x === "object") {
    const entries = Object.entries(x).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${literal(v)}`);
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  }
  return JSON.stringify(x);
}
