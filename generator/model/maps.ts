// Maps, as libbpf reads them: BTF-defined maps from the `.maps` DATASEC (`__uint`, `__type`, `__array`
// members; libbpf.c `parse_btf_map_def`) and struct_ops maps from `.struct_ops*` variables.

import { Kind, type Btf, type TypeId } from "@bpf2ts/runtime/object-file";
import { ModelError } from "../errors.js";
import { kindName, resolve, sizeof, typeAt } from "../btf/index.js";
import { compare, placeOf, type ModelContext, type Where } from "./context.js";
import type { MapModel } from "./types.js";

export { mapTypeNames } from "@bpf2ts/runtime/contract";
import { mapTypeName, mapTypeNames } from "@bpf2ts/runtime/contract";

/** A map definition's members as libbpf's `parse_btf_map_def` reads them. */
interface MapDef {
  type?: number;
  maxEntries?: number;
  flags?: number;
  numaNode?: number;
  keySize?: number;
  valueSize?: number;
  keyTypeId?: TypeId;
  valueTypeId?: TypeId;
  pinning?: number;
  mapExtra?: bigint;
  /** `values` member: its byte offset in the definition and the element's pointee. */
  values?: { offset: number; pointee: TypeId };
}

export function readMaps(ctx: ModelContext): MapModel[] {
  return [...readBtfMaps(ctx), ...readStructOpsMaps(ctx)].sort((a, b) => compare(a.name, b.name));
}

/**
 * `SEC(".struct_ops")` / `SEC(".struct_ops.link")` variables: libbpf makes each a struct_ops map (one
 * entry, key u32) whose value is the variable's struct, filled with the programs it points at.
 */
function readStructOpsMaps(ctx: ModelContext): MapModel[] {
  const { btf, file } = ctx;
  const maps: MapModel[] = [];
  for (const sec of btf.types) {
    if (sec.kind !== Kind.Datasec || (sec.name !== ".struct_ops" && sec.name !== ".struct_ops.link")) continue;
    for (const info of sec.vars) {
      const where: Where = { file, section: sec.name, what: `struct_ops variable at offset ${info.offset}` };
      const v = typeAt(btf, info.type, where);
      if (v.kind !== Kind.Var) throw new ModelError(`${file}: ${sec.name}: entry ${info.type} is ${kindName(v.kind)}, expected VAR`, { file, section: sec.name, typeId: info.type });
      maps.push({
        name: v.name,
        type: "struct_ops",
        typeNumber: mapTypeNames.indexOf("struct_ops"),
        keySize: 4,
        valueTypeId: v.type,
        valueSize: sizeof(btf, v.type, { ...where, what: `struct_ops map "${v.name}"` }),
        maxEntries: 1,
        flags: sec.name === ".struct_ops.link" ? BPF_F_LINK : 0,
        pinning: "none",
        varTypeId: v.id,
        defTypeId: v.type,
      });
    }
  }
  return maps;
}

/** `BPF_F_LINK`: a struct_ops map attached through a bpf_link (`.struct_ops.link`). */
const BPF_F_LINK = 1 << 13;

function readBtfMaps(ctx: ModelContext): MapModel[] {
  const { btf, file } = ctx;
  const datasec = btf.types.find((t) => t.kind === Kind.Datasec && t.name === ".maps");
  if (!datasec || datasec.kind !== Kind.Datasec) return [];
  const section = ".maps";
  const relocs = ctx.elf.section(section) ? ctx.elf.relocations(section) : [];
  const symbolNames = new Map(ctx.elf.symbols().map((s) => [s.index, s.name]));
  const maps: MapModel[] = [];
  for (const info of datasec.vars) {
    const where: Where = { file, section, what: `.maps variable at offset ${info.offset}` };
    const v = typeAt(btf, info.type, where);
    if (v.kind !== Kind.Var) throw new ModelError(`${file}: ${section}: entry ${info.type} is ${kindName(v.kind)}, expected VAR`, { file, section, typeId: info.type });
    const mapWhere: Where = { file, section, what: `map "${v.name}"` };
    const def = resolve(btf, v.type, mapWhere);
    if (def.kind !== Kind.Struct) {
      throw new ModelError(`${file}: ${section}: map "${v.name}": definition (type ${v.type}) is ${kindName(def.kind)}, expected a struct`, { file, section, typeId: v.type, symbol: v.name });
    }
    const parsed = readMapDef(btf, def.id, mapWhere);
    const place = placeOf(ctx, section, v.name, info);
    let model = mapModel(v.name, v.id, def.id, parsed, btf, mapWhere);
    if (parsed.values) {
      const inner = resolve(btf, parsed.values.pointee, mapWhere);
      if (inner.kind === Kind.Struct) {
        const innerDef = readMapDef(btf, inner.id, { ...mapWhere, what: `inner map of "${v.name}"` });
        model = { ...model, inner: mapModel(`${v.name}.inner`, v.id, inner.id, innerDef, btf, mapWhere) };
      }
      const base = place.offset + parsed.values.offset;
      const initialValues = relocs
        .filter((r) => r.offset >= base && r.offset < place.offset + place.size)
        .map((r) => ({ index: (r.offset - base) / 8, name: symbolNames.get(r.symbol) ?? `#${r.symbol}` }))
        .sort((a, b) => a.index - b.index);
      if (initialValues.length > 0) model = { ...model, initialValues };
    }
    maps.push(model);
  }
  return maps;
}

function readMapDef(btf: Btf, structId: TypeId, where: Where): MapDef {
  const def = typeAt(btf, structId, where);
  if (def.kind !== Kind.Struct) return {};
  const out: MapDef = {};
  for (const m of def.members) {
    const at: Where = { ...where, what: `${where.what} member "${m.name}"` };
    const fail = (expected: string): never => {
      throw new ModelError(`${where.file}: ${where.section}: ${at.what}: expected ${expected} (type ${m.type})`, {
        file: where.file, section: where.section, typeId: m.type, member: m.name,
      });
    };
    // `__uint(name, N)` is `int (*name)[N]`; `__type(name, T)` is `typeof(T) *name`.
    const uint = (): number => {
      const p = resolve(btf, m.type, at);
      if (p.kind !== Kind.Ptr) return fail("__uint(): a pointer to an array");
      const a = resolve(btf, p.type, at);
      if (a.kind !== Kind.Array) return fail("__uint(): a pointer to an array");
      return a.nelems;
    };
    const pointee = (): TypeId => {
      const p = resolve(btf, m.type, at);
      if (p.kind !== Kind.Ptr) return fail("__type(): a pointer");
      return p.type;
    };
    switch (m.name) {
      case "type": out.type = uint(); break;
      case "max_entries": out.maxEntries = uint(); break;
      case "map_flags": out.flags = uint(); break;
      case "numa_node": out.numaNode = uint(); break;
      case "key_size": out.keySize = uint(); break;
      case "value_size": out.valueSize = uint(); break;
      case "pinning": out.pinning = uint(); break;
      case "map_extra": out.mapExtra = BigInt(uint()); break;
      case "key": out.keyTypeId = pointee(); break;
      case "value": out.valueTypeId = pointee(); break;
      case "values": {
        // `__array(values, T)` is `typeof(T) *values[]`.
        const a = resolve(btf, m.type, at);
        if (a.kind !== Kind.Array) return fail("__array(): an array of pointers");
        const p = resolve(btf, a.type, at);
        if (p.kind !== Kind.Ptr) return fail("__array(): an array of pointers");
        out.values = { offset: m.bitOffset / 8, pointee: p.type };
        break;
      }
      default:
        throw new ModelError(`${where.file}: ${where.section}: ${where.what}: unknown map attribute "${m.name}"`, {
          file: where.file, section: where.section, typeId: structId, member: m.name,
        });
    }
  }
  return out;
}

function mapModel(name: string, varTypeId: TypeId, defTypeId: TypeId, d: MapDef, btf: Btf, where: Where): MapModel {
  if (d.type === undefined) {
    throw new ModelError(`${where.file}: ${where.section}: ${where.what}: no map type (__uint(type, BPF_MAP_TYPE_…) missing)`, {
      file: where.file, section: where.section, typeId: defTypeId, symbol: name,
    });
  }
  const keySize = d.keyTypeId !== undefined ? sizeof(btf, d.keyTypeId, where) : d.keySize ?? 0;
  // `__array(values, …)` (map-in-map, prog array) holds 4-byte fds/ids: libbpf sets value_size 4.
  const valueSize = d.valueTypeId !== undefined ? sizeof(btf, d.valueTypeId, where) : d.valueSize ?? (d.values ? 4 : 0);
  if (d.keySize !== undefined && d.keyTypeId !== undefined && d.keySize !== keySize) {
    throw new ModelError(`${where.file}: ${where.section}: ${where.what}: key_size ${d.keySize} differs from sizeof(key) ${keySize}`, { file: where.file, section: where.section, typeId: d.keyTypeId, symbol: name });
  }
  if (d.valueSize !== undefined && d.valueTypeId !== undefined && d.valueSize !== valueSize) {
    throw new ModelError(`${where.file}: ${where.section}: ${where.what}: value_size ${d.valueSize} differs from sizeof(value) ${valueSize}`, { file: where.file, section: where.section, typeId: d.valueTypeId, symbol: name });
  }
  if (d.pinning !== undefined && d.pinning > 1) {
    throw new ModelError(`${where.file}: ${where.section}: ${where.what}: unknown pinning ${d.pinning} (LIBBPF_PIN_NONE 0 or LIBBPF_PIN_BY_NAME 1)`, { file: where.file, section: where.section, symbol: name });
  }
  return {
    name,
    type: mapTypeName(d.type),
    typeNumber: d.type,
    ...(d.keyTypeId !== undefined && { keyTypeId: d.keyTypeId }),
    ...(d.valueTypeId !== undefined && { valueTypeId: d.valueTypeId }),
    keySize,
    valueSize,
    maxEntries: d.maxEntries ?? 0,
    flags: d.flags ?? 0,
    pinning: d.pinning === 1 ? "by_name" : "none",
    ...(d.numaNode !== undefined && { numaNode: d.numaNode }),
    ...(d.mapExtra !== undefined && { mapExtra: d.mapExtra }),
    varTypeId,
    defTypeId,
  };
}
