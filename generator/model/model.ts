// The object model: what a compiled eBPF object holds, as the emitters and `inspect` see it.
//
// Built by `buildModel` (here) from the ELF sections and the BTF graph. Types are cited by BTF type
// id into `ObjectModel.btf`; that graph is the object's own, possibly extended at the end with types
// from a types-only compile (source/types-only.ts, merged by source/merge-types.ts), so object type ids never change.

import { isEventMap, parseSection } from "@bpf2ts/runtime/contract";
import { Kind, Linkage, type Btf } from "@bpf2ts/runtime/object-file";
import { SHF_EXECINSTR, STB_LOCAL, STT_FUNC, type ElfFile } from "@bpf2ts/runtime/object-file";
import { ModelError } from "../errors.js";
import { kindName, lookupType, typeAt } from "../btf/index.js";
import { compare, placeOf, type ModelContext, type Where } from "./context.js";
import { readMaps } from "./maps.js";
import { emptyDocs, type SourceScan } from "../source/scan.js";

export { mapTypeNames } from "./maps.js";

// The model's shape (types.ts); program kinds and attach targets are the runtime contract's.
export type { AttachTarget, EventTypeRef, ExternModel, MapModel, ObjectModel, ProgramKind, ProgramModel, TypeRef, VariableModel } from "./types.js";
import type { EventTypeRef, ExternModel, MapModel, ObjectModel, ProgramModel, TypeRef, VariableModel } from "./types.js";


// ---------------------------------------------------------------------------------------------------
// Building the model


export interface ModelOptions {
  /** The object's name for messages (defaults to the ELF's own `file`). */
  readonly file?: string;
  /** `--event map=type`: the record type of a ring buffer / perf event array, overriding the scan. */
  readonly events?: Readonly<Record<string, string>>;
  /** `--type NAME`: extra types to emit (C tag or typedef name, or `struct x`). */
  readonly types?: readonly string[];
  /** The source scan, for event types and doc comments. */
  readonly source?: SourceScan;
}


/** Builds the object model of a compiled eBPF object from its ELF and BTF. */
export function buildModel(elf: ElfFile, btf: Btf, opts: ModelOptions = {}): ObjectModel {
  const file = opts.file ?? elf.file ?? "object";
  const ctx: ModelContext = { file, btf, elf, warnings: [] };
  if (elf.section("maps")) {
    throw new ModelError(
      `${file}: legacy "maps" section (struct bpf_map_def) is not supported: declare maps in SEC(".maps") with __uint/__type (BTF-defined maps)`,
      { file, section: "maps" },
    );
  }
  const source = opts.source;
  const docs = source?.docs ?? emptyDocs;
  const programs = readPrograms(ctx).map((p) => withDoc(p, docs.programs[p.name]));
  const missing = new Set<string>();
  const eventSpellings = { ...source?.events, ...opts.events };
  const maps = readMaps(ctx).map((m) => {
    const override = opts.events?.[m.name];
    const spelling = eventSpellings[m.name];
    let out: MapModel = withDoc(m, docs.maps[m.name]);
    if (override !== undefined && !isEventMap(m.type)) {
      throw new ModelError(`${file}: --event ${m.name}=${override}: map "${m.name}" is a ${m.type} map, not a ring buffer or perf event array`, { file, symbol: m.name });
    }
    if (spelling !== undefined && isEventMap(m.type)) {
      const typeId = lookupType(btf, spelling);
      if (typeId === undefined) missing.add(spelling);
      const event: EventTypeRef = { cType: spelling, ...(typeId !== undefined && { typeId }), origin: override !== undefined ? "override" : "source" };
      out = { ...out, event };
    } else if (isEventMap(m.type)) {
      // Name the call the scan could not follow (one that names this map, else one that names none).
      const call = source?.unfollowed.find((c) => c.map === m.name) ?? source?.unfollowed.find((c) => c.map === undefined);
      const why = call ? `bpf2ts could not follow ${call.call} (${call.where})` : source ? "no call the scan found writes to it" : "no source to infer it from";
      ctx.warnings.push(`${file}: map "${m.name}" (${m.type}): event type unknown: ${why}; name it with --event ${m.name}=<type>`);
    }
    return out;
  });
  for (const name of Object.keys(opts.events ?? {})) {
    if (!maps.some((m) => m.name === name)) {
      throw new ModelError(`${file}: --event ${name}=${opts.events![name]}: the object has no map "${name}"`, { file, symbol: name });
    }
  }
  const types: TypeRef[] = (opts.types ?? []).map((cType) => {
    const typeId = lookupType(btf, cType);
    if (typeId === undefined) missing.add(cType);
    return { cType, ...(typeId !== undefined && { typeId }) };
  });
  const { variables, externs } = readVariables(ctx);
  const license = readLicense(ctx);
  if (license.license === undefined && programs.length > 0) {
    ctx.warnings.push(`${file}: no license section: the kernel refuses GPL-only helpers (add char LICENSE[] SEC("license") = "GPL";)`);
  }
  return {
    file,
    littleEndian: btf.littleEndian,
    ...license,
    programs,
    maps,
    variables: variables.map((v) => withDoc(v, docs.variables[v.name])),
    externs,
    types,
    missingTypes: [...missing].sort(),
    docs,
    btf,
    warnings: ctx.warnings,
  };
}

function withDoc<T extends { doc?: string }>(x: T, doc: string | undefined): T {
  return doc === undefined ? x : { ...x, doc };
}

function readLicense(ctx: ModelContext): { license?: string } {
  const sec = ctx.elf.section("license");
  if (!sec) return {};
  const bytes = sec.data();
  const end = bytes.indexOf(0);
  return { license: Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString("latin1") };
}

function readPrograms(ctx: ModelContext): ProgramModel[] {
  const { elf, btf, file } = ctx;
  const programs: ProgramModel[] = [];
  for (const sym of elf.symbols()) {
    if (sym.type !== STT_FUNC) continue;
    const sec = elf.sections[sym.shndx];
    if (!sec || (sec.flags & SHF_EXECINSTR) === 0 || sec.name === ".text") continue;
    if (sym.bind === STB_LOCAL) {
      throw new ModelError(
        `${file}: program "${sym.name}" in section "${sec.name}" is static; libbpf rejects static programs: remove "static"`,
        { file, section: sec.name, symbol: sym.name },
      );
    }
    const info = parseSection(sec.name);
    if (!info) {
      ctx.warnings.push(`${file}: program "${sym.name}": section "${sec.name}" is not one libbpf knows; its program type must be set before load`);
    } else if (info.needsLibbpf) {
      ctx.warnings.push(`${file}: program "${sym.name}": section "${sec.name}" needs libbpf ≥ ${info.needsLibbpf}`);
    }
    const funcTypeId = btf.byName(sym.name).find((id) => btf.types[id]?.kind === Kind.Func);
    programs.push({
      name: sym.name,
      section: sec.name,
      kind: info?.kind ?? "other",
      progType: info?.progType ?? "unspec",
      ...(info?.attachType !== undefined && { attachType: info.attachType }),
      sleepable: info?.sleepable ?? false,
      autoload: !sec.name.startsWith("?"),
      autoAttach: info?.autoAttach ?? false,
      target: info?.target ?? { type: "none" },
      instructions: Math.floor(sym.size / 8),
      ...(funcTypeId !== undefined && { funcTypeId }),
    });
  }
  return programs.sort((a, b) => compare(a.name, b.name));
}

// ---------------------------------------------------------------------------------------------------
// Variables

const DATA_SECTION = /^\.(rodata|data|bss)(\..+)?$/;

function readVariables(ctx: ModelContext): { variables: VariableModel[]; externs: ExternModel[] } {
  const { btf, file } = ctx;
  const variables: VariableModel[] = [];
  const externs: ExternModel[] = [];
  for (const sec of btf.types) {
    if (sec.kind !== Kind.Datasec) continue;
    const isExtern = sec.name === ".kconfig" || sec.name === ".ksyms";
    if (!isExtern && !DATA_SECTION.test(sec.name)) continue;
    for (const info of sec.vars) {
      const where: Where = { file, section: sec.name, what: `variable at offset ${info.offset}` };
      const v = typeAt(btf, info.type, where);
      if (isExtern) {
        if (v.kind === Kind.Var || v.kind === Kind.Func) {
          externs.push({ name: v.name, section: sec.name as ".kconfig" | ".ksyms", typeId: v.kind === Kind.Var ? v.type : v.id });
        }
        continue;
      }
      if (v.kind !== Kind.Var) {
        throw new ModelError(`${file}: ${sec.name}: entry ${info.type} is ${kindName(v.kind)}, expected VAR`, { file, section: sec.name, typeId: info.type });
      }
      const place = placeOf(ctx, sec.name, v.name, info);
      variables.push({
        name: v.name,
        section: sec.name,
        offset: place.offset,
        size: place.size,
        typeId: v.type,
        varTypeId: v.id,
        constant: sec.name.startsWith(".rodata"),
        linkage: v.linkage === Linkage.Static || place.local || v.name.includes(".") ? "static" : "global",
      });
    }
  }
  variables.sort((a, b) => compare(a.section, b.section) || a.offset - b.offset);
  externs.sort((a, b) => compare(a.section, b.section) || compare(a.name, b.name));
  return { variables, externs };
}
