// Which types a generated module holds, and their layouts: map keys, values and event types,
// variables, `--type` names and (unless turned off) the named types the user's source declares.
// Roots are visited in name order so that anonymous types get the same names on every run.

import { lookupType, type TypeId } from "../btf/index.js";
import { LayoutEngine, type ValueLayout } from "./layout.js";
import type { MapModel, ObjectModel, ProgramModel, VariableModel } from "../model/model.js";

export interface MapLayouts {
  readonly map: MapModel;
  readonly key?: ValueLayout;
  readonly value?: ValueLayout;
  /** Ring buffer / perf event array record type. */
  readonly event?: ValueLayout;
  /** Map-in-map: the inner maps' key and value. */
  readonly inner?: MapLayouts;
}

export interface VariableLayout {
  readonly variable: VariableModel;
  readonly type: ValueLayout;
}

/** Everything a module holds, each list in name order (programs and maps as the model sorts them; variables sorted here). */
export interface ModuleLayouts {
  readonly engine: LayoutEngine;
  readonly programs: readonly ProgramModel[];
  readonly maps: readonly MapLayouts[];
  readonly variables: readonly VariableLayout[];
}

export interface RootOptions {
  /** Emit the named structs/unions/enums the source declares (bpf2go's default). */
  readonly globalTypes: boolean;
  /** C spellings of the types the user's source declares (`struct event`, `enum kind`, `u32`). */
  readonly declaredTypes?: readonly string[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function layoutModule(stem: string, model: ObjectModel, opts: RootOptions): ModuleLayouts {
  const engine = new LayoutEngine(model.btf, stem);
  const mapLayouts = (map: MapModel, name: string): MapLayouts => {
    const key = map.keyTypeId !== undefined && map.keyTypeId !== 0 ? engine.layoutRoot(map.keyTypeId, `${name}_key`) : undefined;
    const value = map.valueTypeId !== undefined && map.valueTypeId !== 0 ? engine.layoutRoot(map.valueTypeId, `${name}_value`) : undefined;
    const event = map.event?.typeId !== undefined ? engine.layoutRoot(map.event.typeId, `${name}_event`) : undefined;
    const inner = map.inner && mapLayouts(map.inner, `${name}_inner`);
    return { map, ...(key && { key }), ...(value && { value }), ...(event && { event }), ...(inner && { inner }) };
  };
  const maps = model.maps.map((map) => mapLayouts(map, map.name));
  // Static variables (function-scope statics such as bpf_printk's format, file-scope `static`) are
  // not part of the API, as in bpftool's skeleton: their types are not roots either.
  const variables = model.variables
    .filter((v) => v.linkage === "global")
    .sort(byName)
    .map((variable) => ({ variable, type: engine.layoutRoot(variable.typeId, variable.name) }));
  const named = new Set<TypeId>();
  for (const t of model.types) if (t.typeId !== undefined) named.add(t.typeId);
  if (opts.globalTypes && opts.declaredTypes) {
    for (const spelling of opts.declaredTypes) {
      const id = lookupType(model.btf, spelling);
      if (id !== undefined) named.add(id);
    }
  }
  const namedInOrder = [...named].sort((a, b) => {
    const na = model.btf.types[a]?.name ?? "";
    const nb = model.btf.types[b]?.name ?? "";
    return na < nb ? -1 : na > nb ? 1 : a - b;
  });
  for (const id of namedInOrder) engine.layoutNamed(id);
  return { engine, programs: model.programs, maps, variables };
}

/** What must agree between the two byte orders' layouts for one module to serve both. */
function layoutShape(l: ModuleLayouts): unknown {
  return {
    composites: l.engine.allComposites(),
    enums: l.engine.allEnums(),
    maps: l.maps.map((m) => [m.map.name, m.key, m.value, m.event, m.inner?.key, m.inner?.value]),
    variables: l.variables.map((v) => [v.variable.name, v.variable.offset, v.type]),
  };
}

/**
 * Where two layouts differ, as a path (`composites[3].fields[1].offset: 8 vs 12`), or undefined when
 * they agree. BTF ids and C spellings may differ between targets; they are not compared.
 */
export function layoutDifference(a: ModuleLayouts, b: ModuleLayouts): string | undefined {
  return differenceAt("", layoutShape(a), layoutShape(b));
}

function differenceAt(path: string, x: unknown, y: unknown): string | undefined {
  if (Object.is(x, y)) return undefined;
  const show = (v: unknown) => (typeof v === "bigint" ? `${v}n` : JSON.stringify(v) ?? String(v));
  if (typeof x !== "object" || typeof y !== "object" || x === null || y === null || Array.isArray(x) !== Array.isArray(y)) return `${path || "(root)"}: ${show(x)} vs ${show(y)}`;
  if (Array.isArray(x) && Array.isArray(y)) {
    if (x.length !== y.length) return `${path}.length: ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      const d = differenceAt(`${path}[${i}]`, x[i], y[i]);
      if (d) return d;
    }
    return undefined;
  }
  const xr = x as Record<string, unknown>, yr = y as Record<string, unknown>;
  for (const k of new Set([...Object.keys(xr), ...Object.keys(yr)])) {
    if (k === "typeId" || k === "cDecl") continue;
    const d = differenceAt(path ? `${path}.${k}` : k, xr[k], yr[k]);
    if (d) return d;
  }
  return undefined;
}
