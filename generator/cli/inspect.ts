// `bpf2ts inspect`: a readable listing of what an object holds — what a user checks before writing
// the user-space side: programs and where they attach, maps with their key/value types, variables,
// license and the named types.

import { Kind, cDeclaration, sizeof, type Btf, type TypeId } from "../btf/index.js";
import type { AttachTarget, MapModel, ObjectModel } from "../model/model.js";

/** The listing, as lines of aligned columns. */
export function formatInspect(model: ObjectModel): string {
  const { btf } = model;
  const out: string[] = [];
  out.push(`${model.file}: ${model.littleEndian ? "little" : "big"}-endian BPF object, license ${model.license !== undefined ? JSON.stringify(model.license) : "(none)"}`);

  out.push("", `programs (${model.programs.length}):`);
  out.push(
    ...table(
      model.programs.map((p) => [
        p.name,
        `SEC("${p.section}")`,
        p.kind + (p.sleepable ? " (sleepable)" : ""),
        describeTarget(p.target) ?? (p.attachType ? `attach type ${p.attachType}` : "-"),
        `${p.instructions} insns`,
        p.autoAttach ? "auto-attach" : "manual attach",
      ]),
    ),
  );

  out.push("", `maps (${model.maps.length}):`);
  out.push(...table(model.maps.map((m) => mapRow(btf, m))));
  for (const m of model.maps) {
    if (m.inner) out.push(`  ${m.name}: inner map ${mapRow(btf, m.inner).slice(1).filter(Boolean).join("  ")}`);
    if (m.initialValues?.length) out.push(`  ${m.name}: initial values ${m.initialValues.map((v) => `[${v.index}] = ${v.name}`).join(", ")}`);
  }

  out.push("", `variables (${model.variables.length}):`);
  out.push(
    ...table(
      model.variables.map((v) => [
        `${v.section}+${v.offset}`,
        cDecl(btf, v.typeId, v.name),
        `${v.size} B`,
        // Static linkage (bpf_printk's format, function-scope statics): libbpf's skeleton leaves them out, and so does generate.
        v.linkage === "static" ? "static (not in the generated API)" : v.constant ? "constant (set before load)" : "read/write",
      ]),
    ),
  );

  if (model.externs.length) {
    out.push("", `externs (${model.externs.length}, resolved by libbpf at load):`);
    out.push(...table(model.externs.map((e) => [e.section, btf.types[e.typeId]?.kind === Kind.Func ? `${e.name}()` : cDecl(btf, e.typeId, e.name)])));
  }

  const types = namedTypes(btf);
  out.push("", `types (${types.length}):`);
  out.push(...table(types.map((t) => [t.spelling, t.size !== undefined ? `${t.size} B` : "", `BTF id ${t.id}`])));

  if (model.warnings.length) out.push("", "warnings:", ...model.warnings.map((w) => `  ${w}`));
  return out.join("\n") + "\n";
}

function mapRow(btf: Btf, m: MapModel): string[] {
  const key = m.keyTypeId !== undefined ? `key ${cDeclaration(btf, m.keyTypeId)} (${m.keySize} B)` : m.keySize ? `key ${m.keySize} B` : "";
  const value = m.valueTypeId !== undefined ? `value ${cDeclaration(btf, m.valueTypeId)} (${m.valueSize} B)` : m.valueSize ? `value ${m.valueSize} B` : "";
  const event = m.event
    ? `event ${m.event.cType} (${m.event.typeId === undefined ? "not in the object's BTF" : `${sizeOfOrZero(btf, m.event.typeId)} B`}, ${m.event.origin === "override" ? "from --event" : "inferred from source"})`
    : "";
  return [
    m.name,
    m.type,
    [key, value].filter(Boolean).join(", ") || "-",
    `max_entries ${m.maxEntries}`,
    m.flags ? `flags 0x${m.flags.toString(16)}` : "",
    m.pinning === "by_name" ? "pinned by name" : "",
    event,
  ];
}

function sizeOfOrZero(btf: Btf, id: TypeId): number {
  try {
    return sizeof(btf, id);
  } catch {
    return 0;
  }
}

function describeTarget(t: AttachTarget): string | undefined {
  switch (t.type) {
    case "none":
      return undefined;
    case "tracepoint":
      return `tracepoint ${t.category}:${t.event}`;
    case "raw_tracepoint":
      return `raw tracepoint ${t.event}`;
    case "btf":
      return `kernel BTF ${t.name}`;
    case "kprobe":
      return `kernel function ${t.function}${t.offset ? `+0x${t.offset.toString(16)}` : ""}`;
    case "kprobe_multi":
      return `kernel functions ${t.pattern}`;
    case "ksyscall":
      return `syscall ${t.syscall}`;
    case "uprobe":
      return `${t.binary}:${t.function ?? ""}${t.offset || !t.function ? `+0x${t.offset.toString(16)}` : ""}`;
    case "usdt":
      return `USDT ${t.binary}:${t.provider}:${t.probe}`;
    case "struct_ops":
      return `struct_ops member ${t.member}`;
  }
}

function cDecl(btf: Btf, id: TypeId, name: string): string {
  try {
    return cDeclaration(btf, id, name);
  } catch {
    return `${name} (type ${id})`;
  }
}

function namedTypes(btf: Btf): Array<{ spelling: string; size?: number; id: TypeId }> {
  const out: Array<{ spelling: string; size?: number; id: TypeId }> = [];
  for (const t of btf.types) {
    if (!t.name) continue;
    switch (t.kind) {
      case Kind.Struct:
      case Kind.Union:
      case Kind.Enum:
      case Kind.Enum64:
        out.push({ spelling: cDeclaration(btf, t.id), size: t.size, id: t.id });
        break;
      case Kind.Typedef:
        out.push({ spelling: `typedef ${cDecl(btf, t.type, t.name)}`, id: t.id });
        break;
    }
  }
  return out.sort((a, b) => (a.spelling < b.spelling ? -1 : a.spelling > b.spelling ? 1 : a.id - b.id));
}

/** Rows → lines with columns padded to the widest cell; columns empty in every row dropped. */
function table(input: string[][]): string[] {
  if (input.length === 0) return ["  (none)"];
  const used = input[0]!.map((_, i) => input.some((r) => (r[i] ?? "") !== ""));
  const rows = input.map((r) => r.filter((_, i) => used[i]));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => {
    const cells = r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)));
    return ("  " + cells.join("  ")).trimEnd();
  });
}
