// What changed in a generated module's API, for `bpf2ts check`: structs (size, alignment) and their
// fields (offset, size, TypeScript and C type), maps, programs, variables and constants — read from the
// committed module and the regenerated one alike with ts-morph, so a hand-edited or older module is
// read by its syntax, not by the layout of the text. ts-morph loads the TypeScript compiler (~0.6 s), so
// it is imported only here, and this module only when a module is stale.

import type { Node as MorphNode, ObjectLiteralExpression, Project, PropertySignature } from "ts-morph";

import { parseFieldType, scalarTypes, type ParsedFieldType } from "@bpf2ts/runtime/contract";

type Morph = typeof import("ts-morph");

/** One API element, compared by its attributes (`offset`, `size`, `type`, …). */
interface Element {
  readonly label: string;
  readonly attrs: ReadonlyMap<string, string>;
}

let loaded: { morph: Morph; project: Project } | undefined;

async function parser(): Promise<{ morph: Morph; project: Project }> {
  if (!loaded) {
    const morph = await import("ts-morph");
    const project = new morph.Project({ useInMemoryFileSystem: true, skipAddingFilesFromTsConfig: true, compilerOptions: { noLib: true } });
    loaded = { morph, project };
  }
  return loaded;
}

/** One line per API difference between two versions of a generated module (empty: same API). */
export async function apiChanges(before: string, after: string): Promise<string[]> {
  const { morph, project } = await parser();
  const a = readApi(morph, project, before);
  const b = readApi(morph, project, after);
  const out: string[] = [];
  for (const [key, el] of b) {
    const old = a.get(key);
    if (!old) {
      out.push(`${el.label}: added (${describe(el.attrs)})`);
      continue;
    }
    const changed = [...new Set([...old.attrs.keys(), ...el.attrs.keys()])]
      .filter((k) => old.attrs.get(k) !== el.attrs.get(k))
      .map((k) => `${k} ${old.attrs.get(k) ?? "(none)"} → ${el.attrs.get(k) ?? "(none)"}`);
    if (changed.length) out.push(`${el.label}: ${changed.join(", ")}`);
  }
  for (const [key, el] of a) if (!b.has(key)) out.push(`${el.label}: removed (was ${describe(el.attrs)})`);
  return out;
}

const describe = (attrs: ReadonlyMap<string, string>): string => [...attrs].map(([k, v]) => `${k} ${v}`).join(", ");

/** The API elements of a module's text, by a key stable across versions (`field ExecEvent.pid`). */
function readApi(morph: Morph, project: Project, text: string): Map<string, Element> {
  const { Node } = morph;
  const sf = project.createSourceFile("module.ts", text, { overwrite: true });
  const out = new Map<string, Element>();
  const add = (key: string, label: string, attrs: Array<[string, string | undefined]>) =>
    out.set(key, { label, attrs: new Map(attrs.filter((x): x is [string, string] => x[1] !== undefined)) });

  // Structs: `export const X = struct<X>({ name, size, align, fields: { f: { offset, type, decl } }, decode })`
  // (before: `export const X: Struct<X> = { …, fields: { f: { offset, size } } }`) beside
  // `export interface X { f: T }` (the field's C declaration opens its doc comment).
  const structs: Array<{ name: string; init: ObjectLiteralExpression }> = [];
  for (const decl of sf.getVariableDeclarations()) {
    const init = decl.getInitializer();
    if (/^Struct</.test(decl.getTypeNode()?.getText() ?? "") && init && Node.isObjectLiteralExpression(init)) structs.push({ name: decl.getName(), init });
    else if (init && Node.isCallExpression(init) && init.getExpression().getText() === "struct") {
      const arg = init.getArguments()[0];
      if (arg && Node.isObjectLiteralExpression(arg)) structs.push({ name: decl.getName(), init: arg });
    }
  }
  const sizes = new Map(structs.map((s) => [s.name, Number(literal(morph, s.init, "size"))]));
  for (const { name, init } of structs) {
    const iface = sf.getInterface(name);
    // `struct event`: 40 bytes … — the interface's doc names the C type.
    const cType = /^`([^`]+)`/.exec(iface?.getJsDocs()[0]?.getDescription().trim() ?? "")?.[1];
    add(`struct ${name}`, `${name}${cType ? ` (${cType})` : ""}`, [["size", literal(morph, init, "size")], ["align", literal(morph, init, "align")]]);
    const fields = objectProperty(morph, init, "fields");
    const seen = new Set<string>();
    for (const p of fields?.getProperties() ?? []) {
      if (!Node.isPropertyAssignment(p)) continue;
      const field = p.getName();
      seen.add(field);
      const info = p.getInitializer();
      const obj = info && Node.isObjectLiteralExpression(info) ? info : undefined;
      const prop = iface?.getProperty(field);
      const bits = obj && literal(morph, obj, "bitSize");
      const decl = obj && literal(morph, obj, "decl");
      add(`field ${name}.${field}`, `field ${name}.${field}`, [
        ["offset", obj && literal(morph, obj, "offset")],
        ["size", obj && (literal(morph, obj, "size") ?? fieldSize(morph, obj, sizes))],
        ["bits", bits && obj ? `${bits} at bit ${literal(morph, obj, "bitOffset") ?? "0"}` : undefined],
        ["type", prop?.getTypeNode()?.getText()],
        ["C", decl !== undefined ? `\`${JSON.parse(decl) as string}\`` : prop && declarationInDoc(prop)],
      ]);
    }
    // Members the interface has but the descriptor does not list (none in generated code; a hand edit).
    for (const prop of iface?.getProperties() ?? []) {
      if (!seen.has(prop.getName())) add(`field ${name}.${prop.getName()}`, `field ${name}.${prop.getName()}`, [["type", prop.getTypeNode()?.getText()], ["C", declarationInDoc(prop)]]);
    }
  }

  // Programs, maps, variables and constants: the descriptor's entries (`const descriptor = { … }`),
  // each with its doc; before: the members of the interface extending BpfObject and `<Stem>Constants`.
  const descriptor = sf.getVariableDeclaration("descriptor")?.getInitializer();
  const literalObject = descriptor && Node.isSatisfiesExpression(descriptor) ? descriptor.getExpression() : descriptor;
  if (literalObject && Node.isObjectLiteralExpression(literalObject)) {
    for (const [group, kind] of [["programs", "program"], ["maps", "map"], ["variables", "variable"], ["constants", "constant"]] as const) {
      for (const p of objectProperty(morph, literalObject, group)?.getProperties() ?? []) {
        if (!Node.isPropertyAssignment(p)) continue;
        const entry = p.getInitializer();
        const attrs = entry && Node.isObjectLiteralExpression(entry) ? entry.getProperties().filter(Node.isPropertyAssignment).filter((a) => !["name", "section", "target"].includes(a.getName())) : [];
        const doc = p.getLeadingCommentRanges().at(-1)?.getText() ?? "";
        const first = (/^\/\*\*\s*\n?\s*\*?\s*(.*?)(?:\s*\*\/)?$/m.exec(doc)?.[1] ?? "").replace(/\.$/, "");
        add(`${kind} ${p.getName()}`, `${kind} ${p.getName()}`, [["type", attrs.map((a) => `${a.getName()} ${a.getInitializer()?.getText()}`).join(", ") || undefined], ["C", first || undefined]]);
      }
    }
  }
  for (const iface of sf.getInterfaces()) {
    if (!iface.getExtends().some((e) => e.getText() === "BpfObject")) continue;
    for (const [group, kind] of [["programs", "program"], ["maps", "map"], ["variables", "variable"]] as const) {
      const typeNode = iface.getProperty(group)?.getTypeNode();
      if (!typeNode || !Node.isTypeLiteral(typeNode)) continue;
      for (const m of typeNode.getProperties()) member(add, kind, m);
    }
    const constants = sf.getInterface(iface.getName().replace(/Objects$/, "Constants"));
    for (const m of constants?.getProperties() ?? []) member(add, "constant", m);
  }
  return out;
}

/** A field's size from its descriptor type (runtime/src/contract/fields.ts), structs by their `size`. */
function fieldSize(morph: Morph, field: ObjectLiteralExpression, structs: ReadonlyMap<string, number>): string | undefined {
  const p = field.getProperty("type");
  const type = p && morph.Node.isPropertyAssignment(p) ? p.getInitializer() : undefined;
  const sizeOf = (t: MorphNode | undefined): number | undefined => {
    if (!t) return undefined;
    if (morph.Node.isStringLiteral(t)) return scalarFieldSize(t.getLiteralValue());
    if (morph.Node.isIdentifier(t)) return structs.get(t.getText());
    if (morph.Node.isArrayLiteralExpression(t)) {
      const [elem, count] = t.getElements();
      const e = sizeOf(elem);
      return e === undefined ? undefined : e * Number(count?.getText() ?? 0);
    }
    return undefined;
  };
  const n = sizeOf(type);
  return n === undefined ? undefined : String(n);
}

/** The size of a field type written as a string (scalars, strings, arrays of them; flexible: 0), by the contract's grammar. */
function scalarFieldSize(spelling: string): number | undefined {
  let t: ParsedFieldType;
  try {
    t = parseFieldType(spelling);
  } catch {
    return undefined;
  }
  switch (t.kind) {
    case "scalar":
      return scalarTypes[t.name].size;
    case "string":
      return t.length;
    case "array": {
      const elem = typeof t.elem === "string" ? scalarFieldSize(t.elem) : undefined;
      return elem === undefined ? undefined : elem * (t.length ?? 0);
    }
    case "struct":
      return undefined;
  }
}

function member(add: (key: string, label: string, attrs: Array<[string, string | undefined]>) => void, kind: string, m: PropertySignature): void {
  add(`${kind} ${m.getName()}`, `${kind} ${m.getName()}`, [["type", m.getTypeNode()?.getText()], ["C", declarationInDoc(m)]]);
}

/**
 * The first line of a member's doc comment, which generated code opens with the C side: `` `__u32 pid` ``
 * (a field's offset and size follow a dash and are compared on their own), `` `ringbuf` map `events`,
 * max_entries 4096 ``, `` `SEC("…")` fn ``, `` `const volatile __u32 x` in `.rodata` at offset 0 ``.
 */
function declarationInDoc(node: PropertySignature): string | undefined {
  const first = (node.getJsDocs()[0]?.getDescription().trim() ?? "").split("\n")[0]!;
  return first ? first.split(" — ")[0]!.replace(/\.$/, "") : undefined;
}

function objectProperty(morph: Morph, obj: ObjectLiteralExpression, name: string): ObjectLiteralExpression | undefined {
  const p = obj.getProperty(name);
  const init = p && morph.Node.isPropertyAssignment(p) ? p.getInitializer() : undefined;
  return init && morph.Node.isObjectLiteralExpression(init) ? init : undefined;
}

/** The source text of a property's value (`4`, `"event"`), when it is a literal. */
function literal(morph: Morph, obj: ObjectLiteralExpression, name: string): string | undefined {
  const p = obj.getProperty(name);
  const init: MorphNode | undefined = p && morph.Node.isPropertyAssignment(p) ? p.getInitializer() : undefined;
  return init?.getText();
}
