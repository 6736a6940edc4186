// Prints a parsed BTF graph in exactly the text of `bpftool btf dump file X format raw` (bpftool 7,
// libbpf 1.1), so tests can compare our parser with bpftool's line by line.

import { Kind, kindNames, type Btf, type Type } from "../../generator/btf/index.js";

const anon = (s: string) => `'${s === "" ? "(anon)" : s}'`;
const intEncoding = (t: { signed: boolean; char: boolean; bool: boolean }) =>
  t.signed ? "SIGNED" : t.char ? "CHAR" : t.bool ? "BOOL" : "(none)";
const funcLinkage = ["static", "global", "extern"];
const varLinkage = ["static", "global", "extern"];

export function formatRawType(btf: Btf, t: Type): string {
  const head = `[${t.id}] ${kindNames[t.kind]} ${anon(t.name)}`;
  switch (t.kind) {
    case Kind.Void:
      return head;
    case Kind.Int:
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${intEncoding(t)}`;
    case Kind.Ptr:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.TypeTag:
      return `${head} type_id=${t.type}`;
    case Kind.Array:
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case Kind.Struct:
    case Kind.Union:
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map((m) => `\t${anon(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitSize ? ` bitfield_size=${m.bitSize}` : ""}`),
      ].join("\n");
    case Kind.Enum:
    case Kind.Enum64: {
      const suffix = t.kind === Kind.Enum64 ? (t.signed ? "LL" : "ULL") : "";
      return [
        `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${anon(v.name)} val=${v.value}${suffix}`),
      ].join("\n");
    }
    case Kind.Fwd:
      return `${head} fwd_kind=${t.union ? "union" : "struct"}`;
    case Kind.Func:
      return `${head} type_id=${t.type} linkage=${funcLinkage[t.linkage] ?? "(unknown)"}`;
    case Kind.FuncProto:
      return [`${head} ret_type_id=${t.returnType} vlen=${t.params.length}`, ...t.params.map((p) => `\t${anon(p.name)} type_id=${p.type}`)].join("\n");
    case Kind.Var:
      return `${head} type_id=${t.type}, linkage=${varLinkage[t.linkage] ?? "(unknown)"}`;
    case Kind.Datasec:
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const vt = btf.types[v.type]!;
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${kindNames[vt.kind]} ${anon(vt.name)})`;
        }),
      ].join("\n");
    case Kind.Float:
      return `${head} size=${t.size}`;
    case Kind.DeclTag:
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

/** The whole graph, one type per block, as bpftool prints it (without the void type). */
export function formatRaw(btf: Btf): string {
  const out: string[] = [];
  for (let id = 1; id < btf.types.length; id++) out.push(formatRawType(btf, btf.types[id]!));
  return out.join("\n") + "\n";
}

/** Splits bpftool's raw dump into one block per type id (header line plus its indented lines). */
export function splitRaw(text: string): Map<number, string> {
  const blocks = new Map<number, string>();
  let id = -1;
  let lines: string[] = [];
  const flush = () => { if (id >= 0) blocks.set(id, lines.join("\n")); };
  for (const line of text.split("\n")) {
    const m = /^\[(\d+)\] /.exec(line);
    if (m) { flush(); id = Number(m[1]); lines = [line]; }
    else if (line.startsWith("\t")) lines.push(line);
  }
  flush();
  return blocks;
}
