// `generate --obj`: the object must be built from the source as it is now. An object built from an
// older source (a field added, a size changed) would get the new layouts printed over its old bytes
// and decode garbage. Two checks: the layouts of the types the object's BTF holds against the
// source's (the first difference names the type and the field), and the object's line info against
// the source's lines (catching edits to types the object's BTF lacks, such as reserve-only events).

import { basename } from "node:path";
import type { BtfExt } from "../btf/ext.js";
import { Kind, MAX_DEPTH, cDeclaration, resolve, sizeof, typeError, type Btf, type Type, type TypeId } from "../btf/index.js";
import { ModelError } from "../errors.js";

export interface CompareRoot {
  /** The type in the object's BTF. */
  readonly typeId: TypeId;
  /** How C spells it (`struct event`), to find it in the source's BTF. */
  readonly spelling: string;
}

/**
 * Compares each root's layout in the object's BTF with the same-named type of the source's (a
 * types-only compile); throws a ModelError naming the object, the source, the type and the field at
 * the first difference. Roots the source does not have are skipped (nothing to compare with).
 */
export function compareWithSource(object: { btf: Btf; file: string }, source: { btf: Btf; file: string; find: (spelling: string) => TypeId | undefined }, roots: readonly CompareRoot[]): void {
  const seen = new Set<string>();
  for (const root of roots) {
    const other = source.find(root.spelling);
    if (other === undefined) continue;
    const diff = differ(object.btf, root.typeId, source.btf, other, seen);
    if (diff) {
      throw new ModelError(
        `${object.file}: ${diff.where ?? root.spelling}: ${diff.what} in the object, ${diff.other} in ${source.file}: the object is older than the source (or was built with other flags); rebuild it, or generate from the source without --obj`,
        { file: object.file, typeId: root.typeId, ...(diff.field !== undefined && { member: diff.field }) },
      );
    }
  }
}

interface Difference {
  /** The type the difference is in (a nested one's own spelling), when not the root. */
  readonly where?: string;
  readonly field?: string;
  /** The object's side and the source's side, as text. */
  readonly what: string;
  readonly other: string;
}

const spell = (btf: Btf, id: TypeId): string => {
  try {
    return cDeclaration(btf, id);
  } catch {
    return `type ${id}`;
  }
};

const size = (btf: Btf, id: TypeId): number => {
  try {
    return sizeof(btf, id);
  } catch {
    return -1;
  }
};

function fieldText(btf: Btf, t: Type & { kind: Kind.Struct | Kind.Union }, i: number): string {
  const m = t.members[i]!;
  const bits = m.bitSize ? `bits ${m.bitOffset}..${m.bitOffset + m.bitSize - 1}` : `offset ${m.bitOffset / 8}, ${size(btf, m.type)} bytes`;
  return `${bits} (${spell(btf, m.type)})`;
}

/** The first layout difference between a type of `a` and one of `b`, or undefined when they lay out the same. */
function differ(a: Btf, ai: TypeId, b: Btf, bi: TypeId, seen: Set<string>, depth = 0): Difference | undefined {
  const key = `${ai}:${bi}`;
  if (seen.has(key)) return undefined;
  if (depth > MAX_DEPTH) throw typeError(ai, `types nested deeper than ${MAX_DEPTH} levels`);
  seen.add(key);
  const ta = resolve(a, ai);
  const tb = resolve(b, bi);
  const shape = (btf: Btf, id: TypeId) => `${size(btf, id)} bytes (${spell(btf, id)})`;
  const composite = ta.kind === Kind.Struct || ta.kind === Kind.Union;
  // A composite's fields come first: "field x is new" says more than "the size changed".
  if (ta.kind !== tb.kind || (!composite && size(a, ai) !== size(b, bi))) return { what: shape(a, ai), other: shape(b, bi) };
  switch (ta.kind) {
    case Kind.Int: {
      const ib = tb as typeof ta;
      return ta.signed !== ib.signed || ta.bool !== ib.bool ? { what: spell(a, ai), other: spell(b, bi) } : undefined;
    }
    case Kind.Array: {
      const ab = tb as typeof ta;
      if (ta.nelems !== ab.nelems) return { what: spell(a, ai), other: spell(b, bi) };
      return differ(a, ta.type, b, ab.type, seen, depth + 1);
    }
    case Kind.Enum:
    case Kind.Enum64: {
      const eb = tb as typeof ta;
      const values = new Map(eb.values.map((v) => [v.name, v.value]));
      for (const v of ta.values) {
        if (values.get(v.name) !== v.value) {
          const o = values.get(v.name);
          return { where: spell(a, ai), field: v.name, what: `${v.name} = ${v.value}`, other: o === undefined ? `no ${v.name}` : `${v.name} = ${o}` };
        }
      }
      return ta.values.length !== eb.values.length ? { where: spell(a, ai), what: `${ta.values.length} values`, other: `${eb.values.length}` } : undefined;
    }
    case Kind.Struct:
    case Kind.Union: {
      const sb = tb as typeof ta;
      const where = spell(a, ai);
      const n = Math.max(ta.members.length, sb.members.length);
      for (let i = 0; i < n; i++) {
        const ma = ta.members[i];
        const mb = sb.members[i];
        if (!ma || !mb || ma.name !== mb.name || ma.bitOffset !== mb.bitOffset || ma.bitSize !== mb.bitSize) {
          const name = ma?.name || mb?.name || "(anonymous)";
          return {
            where,
            field: name,
            what: ma ? `field "${ma.name || "(anonymous)"}" at ${fieldText(a, ta, i)}` : `no field "${name}"`,
            other: mb ? `field "${mb.name || "(anonymous)"}" at ${fieldText(b, sb, i)}` : `no field "${name}"`,
          };
        }
        const inner = differ(a, ma.type, b, mb.type, seen, depth + 1);
        if (inner) {
          // A difference inside a named nested type is that type's; inside an anonymous one, this field's.
          const named = resolve(a, ma.type).name !== "" && inner.where !== undefined;
          if (named) return inner;
          return { where, field: ma.name || inner.field || "(anonymous)", what: `field "${ma.name || "(anonymous)"}": ${inner.what}`, other: inner.other };
        }
      }
      return ta.size !== sb.size ? { where, what: `${ta.size} bytes`, other: `${sb.size} bytes` } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The object's line info (`.BTF.ext`: the text of each source line its instructions came from)
 * against the source as it is now: a line that reads differently means the object was built from
 * another version of the file. Only records of the file itself (by base name) are compared.
 */
export function compareLineInfo(object: { ext: BtfExt; file: string }, source: { file: string; text: string }): void {
  const lines = source.text.split("\n");
  const name = basename(source.file);
  for (const section of object.ext.lineInfo) {
    for (const r of section.records) {
      if (basename(r.fileName) !== name || r.lineNum < 1) continue;
      const now = lines[r.lineNum - 1]?.replace(/\r$/, "");
      if (now === undefined || now.trimEnd() !== r.line.trimEnd()) {
        throw new ModelError(
          `${object.file}: built from another version of ${source.file}: its line ${r.lineNum} reads ${JSON.stringify(r.line.trim())} in the object, ${now === undefined ? "and the file is shorter now" : JSON.stringify(now.trim())} in the source: rebuild the object, or generate from the source without --obj`,
          { file: object.file, section: section.section },
        );
      }
    }
  }
}
