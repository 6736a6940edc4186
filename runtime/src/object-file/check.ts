// checkObject: what the loader verifies before libbpf sees an object's bytes.
//
// libbpf 1.1 trusts much of what it reads: a type id past the end is a NULL it dereferences, and a
// typedef/qualifier chain that loops (`skip_mods_and_typedefs`) spins forever. So every structure
// libbpf walks is checked here first, in one pass each, without recursion (the input decides depths):
//
//   - the ELF: header, section table and data in bounds, names, symbols (names, section indices),
//     relocations (target section, symbol index, offset inside the target);
//   - the BTF: header, string offsets, record lengths and type ids in range (parseBtf); no cycle of
//     references outside a struct/union (typedef, qualifiers, pointers, arrays, prototypes, funcs,
//     vars, tags); no struct/union that contains itself by value; no array or member past 4 GiB or
//     past its struct;
//   - `.maps`: each entry a VAR of a struct whose fields have the shapes libbpf's BTF map parser
//     expects (`__uint` = pointer to array, `__type` = pointer to a sized type, `__array` = array of
//     pointers to structs), inside the section.
//
// Everything fails with an ElfError/BtfError naming the file, the section and the type id. The cost
// is a parse of the object's BTF: well under a millisecond for a typical object.

import { ElfError, readElf, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_REL, SHT_RELA, type ElfFile } from "./elf.js";
import { BtfError } from "./btf/wire.js";
import { parseBtf, type ParsedBtf } from "./btf/parse.js";
import { Kind, kindNames, type Type, type TypeId } from "./btf/types.js";
import { MAX_SIZE, resolve } from "./btf/query.js";


/** Checks an ELF object (and its BTF) the way a loader needs it; throws ElfError/BtfError. */
export function checkObject(bytes: Uint8Array, file = "object"): void {
  const elf = readElf(bytes, file);
  const sec = elf.section(".BTF");
  checkParsedObject(elf, sec && parseBtf(sec.data(), { file, section: ".BTF" }), file);
}

/** checkObject for an object already read (the generator's pipeline has both at hand). */
export function checkParsedObject(elf: ElfFile, btf: ParsedBtf | undefined, file: string): void {
  checkSymbols(elf, file);
  checkRelocations(elf, file);
  if (!btf) return;
  checkBtf(btf, file);
  checkMaps(btf, elf, file);
}

function checkSymbols(elf: ElfFile, file: string): void {
  for (const s of elf.symbols()) {
    if (s.shndx !== SHN_UNDEF && s.shndx < SHN_LORESERVE && s.shndx >= elf.sections.length)
      throw new ElfError(`${file}: symbol ${s.name || `#${s.index}`}: section index ${s.shndx} out of range (${elf.sections.length} sections)`, { file, section: ".symtab" });
  }
}

function checkRelocations(elf: ElfFile, file: string): void {
  const symbols = elf.symbols().length + 1;
  for (const rs of elf.sections) {
    if (rs.type !== SHT_REL && rs.type !== SHT_RELA) continue;
    const target = elf.sections[rs.info];
    if (!target) throw new ElfError(`${file}: section ${rs.name}: relocates section #${rs.info}, which does not exist`, { file, section: rs.name });
    for (const r of elf.relocations(target)) {
      if (r.symbol >= symbols)
        throw new ElfError(`${file}: section ${rs.name}: relocation at 0x${r.offset.toString(16)} names symbol #${r.symbol} (${symbols} symbols)`, { file, section: rs.name });
      if (target.type !== SHT_NOBITS && r.offset >= target.size)
        throw new ElfError(`${file}: section ${rs.name}: relocation offset 0x${r.offset.toString(16)} is outside ${target.name || `#${target.index}`} (0x${target.size.toString(16)} bytes)`, { file, section: rs.name });
    }
  }
}

const fail = (file: string, id: TypeId, detail: string, section = ".BTF") =>
  new BtfError(`${file}: section ${section}: type ${id}: ${detail}`, { file, section, typeId: id });

const kindName = (t: Type) => kindNames[t.kind] ?? `kind ${t.kind}`;

/** The types a type refers to by reference (not containment): the edges a modifier chain follows. */
function references(t: Type, out: TypeId[]): void {
  switch (t.kind) {
    case Kind.Ptr: case Kind.Typedef: case Kind.Const: case Kind.Volatile: case Kind.Restrict: case Kind.TypeTag:
    case Kind.Func: case Kind.Var: case Kind.DeclTag:
      out.push(t.type);
      break;
    case Kind.Array:
      out.push(t.type, t.indexType);
      break;
    case Kind.FuncProto:
      out.push(t.returnType);
      for (const p of t.params) out.push(p.type);
      break;
    case Kind.Datasec:
      for (const v of t.vars) out.push(v.type);
      break;
  }
}

/** The types a struct/union holds by value (through typedefs, qualifiers and arrays). */
function contained(t: Type, out: TypeId[]): void {
  switch (t.kind) {
    case Kind.Struct: case Kind.Union:
      for (const m of t.members) out.push(m.type);
      break;
    case Kind.Typedef: case Kind.Const: case Kind.Volatile: case Kind.Restrict: case Kind.TypeTag: case Kind.Array:
      out.push(t.type);
      break;
  }
}

/**
 * Iterative depth-first search over `edges`; throws at the first cycle, naming the type where it
 * closes. Returns the types in post-order (every type after the types it reaches).
 */
function acyclic(btf: ParsedBtf, file: string, edges: (t: Type, out: TypeId[]) => void, what: string): Int32Array {
  const n = btf.types.length;
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const order = new Int32Array(n);
  let done = 0;
  const stack: number[] = []; // pairs: id, index of the next edge
  const lists: TypeId[][] = new Array(n);
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    stack.push(root, 0);
    while (stack.length) {
      const id = stack[stack.length - 2]!;
      const next = stack[stack.length - 1]!;
      let list = lists[id];
      if (!list) edges(btf.types[id]!, (list = lists[id] = []));
      if (next < list.length) {
        stack[stack.length - 1] = next + 1;
        const to = list[next]!;
        if (state[to] === 1) throw fail(file, to, `${kindName(btf.types[to]!)} ${what}${to === id ? "" : ` through type ${id}`}`);
        if (state[to] === 0) {
          state[to] = 1;
          stack.push(to, 0);
        }
      } else {
        stack.length -= 2;
        state[id] = 2;
        lists[id] = EMPTY;
        order[done++] = id;
      }
    }
  }
  return order;
}
const EMPTY: TypeId[] = [];

/** The type graph's part of checkObject (cycles, sizes, members inside their struct); throws BtfError. */
export function checkBtf(btf: ParsedBtf, file: string): void {
  const order = acyclic(btf, file, references, "refers to itself");
  acyclic(btf, file, contained, "contains itself");
  // Sizes in post-order of the reference graph: an array's element is sized before the array.
  const size = new Float64Array(btf.types.length);
  for (const id of order) {
    const t = btf.types[id]!;
    switch (t.kind) {
      case Kind.Int: case Kind.Enum: case Kind.Enum64: case Kind.Float: case Kind.Struct: case Kind.Union: case Kind.Datasec:
        size[id] = t.size;
        break;
      case Kind.Ptr:
        size[id] = 8;
        break;
      case Kind.Typedef: case Kind.Const: case Kind.Volatile: case Kind.Restrict: case Kind.TypeTag: case Kind.Var:
        size[id] = size[t.type]!;
        break;
      case Kind.Array:
        size[id] = t.nelems * size[t.type]!;
        if (size[id]! > MAX_SIZE) throw fail(file, id, `array of ${t.nelems} × ${size[t.type]} bytes is larger than 4 GiB`);
        break;
    }
  }
  for (const t of btf.types) {
    if (t.kind !== Kind.Struct && t.kind !== Kind.Union) continue;
    const bits = t.size * 8;
    t.members.forEach((m, i) => {
      const end = m.bitOffset + (m.bitSize || size[m.type]! * 8);
      if (end > bits) throw fail(file, t.id, `member ${i} (${m.name || "anonymous"}) ends at bit ${end}, past the ${t.size}-byte ${kindName(t)}`);
    });
  }
}


const INT_FIELDS = new Set(["type", "max_entries", "map_flags", "numa_node", "map_extra", "key_size", "value_size", "pinning"]);

/** The `.maps` section's BTF, in the shapes libbpf's parse_btf_map_def reads. */
function checkMaps(btf: ParsedBtf, elf: ElfFile, file: string): void {
  const sec = btf.byName(".maps").map((id) => btf.types[id]!).find((t) => t.kind === Kind.Datasec);
  if (sec?.kind !== Kind.Datasec) return;
  const data = elf.section(".maps");
  const where = (id: TypeId, detail: string) => fail(file, id, detail, ".maps");
  for (const v of sec.vars) {
    const variable = btf.types[v.type]!;
    if (variable.kind !== Kind.Var) throw where(v.type, `.maps entry is a ${kindName(variable)}, not a VAR`);
    const map = variable.name || `#${variable.id}`;
    if (data && (v.offset > data.size || v.size > data.size - v.offset))
      throw where(v.type, `map ${map} at ${v.offset}+${v.size} is outside the section (${data.size} bytes)`);
    checkMapDef(btf, resolve(btf, variable.type), map, where, 0);
  }
}

function checkMapDef(btf: ParsedBtf, def: Type, map: string, where: (id: TypeId, d: string) => BtfError, depth: number): void {
  if (def.kind !== Kind.Struct) throw where(def.id, `map ${map}: definition is a ${kindName(def)}, not a struct`);
  for (const m of def.members) {
    const t = resolve(btf, m.type);
    const field = `map ${map}: field ${m.name || "(anonymous)"}`;
    if (INT_FIELDS.has(m.name)) {
      if (t.kind !== Kind.Ptr || btf.types[t.type]!.kind !== Kind.Array) throw where(m.type, `${field} is not __uint()'s pointer to an array`);
    } else if (m.name === "key" || m.name === "value") {
      if (t.kind !== Kind.Ptr) throw where(m.type, `${field} is not __type()'s pointer`);
    } else if (m.name === "values") {
      const elem = t.kind === Kind.Array ? resolve(btf, t.type) : undefined;
      const inner = elem?.kind === Kind.Ptr ? resolve(btf, elem.type) : undefined;
      // A program array's are pointers to functions (`__array(values, int (void *))`).
      if (inner?.kind === Kind.FuncProto) continue;
      if (!inner || inner.kind !== Kind.Struct) throw where(m.type, `${field} is not __array()'s array of pointers to a map definition or a function`);
      if (depth === 0) checkMapDef(btf, inner, `${map}.values`, where, 1);
    }
  }
}
