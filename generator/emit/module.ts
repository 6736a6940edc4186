// Emits one generated module: header, imports, types, the constants and objects interfaces, the
// descriptor the runtime loads from (docs/ARCHITECTURE.md, "The contract"), the embedded objects and
// the `load<Stem>()` / `<stem>Spec()` entry points.

import type CodeBlockWriter from "code-block-writer";
import { alignOf as alignOfLayout, sizeOf as sizeOfLayout, type ValueLayout } from "../layout/layout.js";
import type { MapModel, ObjectModel, ProgramModel } from "../model/model.js";
import { memberName, NameScope, objectNames } from "../layout/names.js";
import type { ModuleLayouts } from "./roots.js";
import { emitAlias, emitComposite, emitEnum, type TypeDocs } from "./types.js";
import { decodeExpr, encodeStmts, partialDecodeExpr, tsType } from "./values.js";
import { emitMetrics } from "./metrics.js";
import { docComment, newWriter } from "./writer.js";

export interface ModuleInput {
  readonly stem: string;
  readonly version: string;
  /** Base name of the C source (never a path). */
  readonly sourceName: string;
  readonly sourceSha256: string;
  /** How the module was made (generator/emit/build-record.ts), as its second header line. */
  readonly record?: string;
  /** The model and layouts the types come from (the first target's). */
  readonly model: ObjectModel;
  readonly layouts: ModuleLayouts;
  /** Base64 of the embedded objects by byte order. */
  readonly objects: { readonly le?: string; readonly be?: string };
}

const objectMarker = { le: "@@bpf2ts-object-le@@", be: "@@bpf2ts-object-be@@" } as const;

/** The runtime's map classes by libbpf map type name; `BpfMap` for the rest. */
const mapClasses: Readonly<Record<string, { cls: string; shape: "kv" | "v" | "event" | "none" }>> = {
  hash: { cls: "HashMap", shape: "kv" },
  lru_hash: { cls: "LruHashMap", shape: "kv" },
  percpu_hash: { cls: "PerCpuHashMap", shape: "kv" },
  lru_percpu_hash: { cls: "LruPerCpuHashMap", shape: "kv" },
  array: { cls: "ArrayMap", shape: "v" },
  percpu_array: { cls: "PerCpuArrayMap", shape: "v" },
  ringbuf: { cls: "RingBuf", shape: "event" },
  perf_event_array: { cls: "PerfEventArray", shape: "event" },
  stack_trace: { cls: "StackTraceMap", shape: "none" },
};

const scalarCodecs: Readonly<Record<string, string>> = {
  int1u: "u8",
  int1s: "s8",
  int2u: "u16",
  int2s: "s16",
  int4u: "u32",
  int4s: "s32",
  int8u: "u64",
  int8s: "s64",
  float4: "f32",
  float8: "f64",
  bool: "bool",
  pointer: "u64",
};

function scalarCodec(t: ValueLayout): string | undefined {
  const key = t.kind === "int" ? `int${t.size}${t.signed ? "s" : "u"}` : t.kind === "float" ? `float${t.size}` : t.kind;
  const name = scalarCodecs[key];
  return name ? `codecs.${name}` : undefined;
}

/**
 * Names a generated module uses besides its own declarations: the runtime's exports (imported or
 * not, so a later import never collides), the module-private `descriptor`, and the globals generated
 * code reads. A type named like one of them would shadow it.
 */
const moduleNames: Readonly<Record<string, string>> = Object.fromEntries([
  ...["codecs", "LE", "rawCodec", "loadObject", "objectSpec", "Codec", "Struct", "FieldInfo", "BpfObject", "ObjectDescriptor", "LoadOptions", "ObjectSpec", "Program", "ProgramKind", "Variable", "BpfMap", "HashMap", "LruHashMap", "ArrayMap", "PerCpuHashMap", "LruPerCpuHashMap", "PerCpuArrayMap", "StackTraceMap", "RingBuf", "PerfEventArray", "MetricSpec"].map((n) => [n, `the runtime's ${n}`]),
  ["descriptor", "its descriptor"],
  ...["DataView", "Symbol", "Promise", "Array", "Object", "Record", "Partial", "Readonly", "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "BigInt", "Number", "String", "Boolean"].map((n) => [n, `the global ${n}`]),
]);

interface Ctx {
  readonly w: CodeBlockWriter;
  readonly imports: Set<string>;
  readonly typeImports: Set<string>;
  /** Module-private codecs for keys/values that are neither structs nor plain scalars. */
  readonly privateCodecs: Array<{ name: string; type: ValueLayout }>;
  readonly moduleScope: NameScope;
}

/** The codec expression for a key/value/variable type, registering a private codec when needed. */
function codecFor(ctx: Ctx, t: ValueLayout, privateName: string): string {
  if (t.kind === "composite") return t.ref.name;
  const scalar = scalarCodec(t);
  if (scalar) return scalar;
  const name = ctx.moduleScope.claim(privateName, privateName);
  ctx.privateCodecs.push({ name, type: t });
  ctx.typeImports.add("Codec");
  return name;
}

function emitPrivateCodec(w: CodeBlockWriter, name: string, t: ValueLayout, size: number, align: number): void {
  const type = tsType(t);
  w.write(`const ${name}: Codec<${type}> = `).inlineBlock(() => {
    w.writeLine(`size: ${size},`);
    w.writeLine(`align: ${align},`);
    // As struct decoders do: a record shorter than `size` (an event) decodes what it holds.
    w.writeLine(`decode: (v: DataView, o = 0, n = ${size}): ${type} => (n >= ${size} ? ${decodeExpr(t, "o")} : ${partialDecodeExpr(t, "o", { k: 0, terms: "" })}),`);
    w.write(`encode: (x: ${type}, v: DataView, o = 0): void => `).inlineBlock(() => {
      for (const s of encodeStmts(t, "x", "o")) w.writeLine(s);
    });
    w.write(",").newLine();
  });
  w.write(";").newLine();
}

function docs(model: ObjectModel): TypeDocs {
  return { types: model.docs.types, fields: model.docs.fields };
}

export function emitModule(input: ModuleInput): string {
  const { model, layouts } = input;
  const names = objectNames(input.stem);
  const body = newWriter();
  const ctx: Ctx = { w: body, imports: new Set(["codecs", "LE", "loadObject", "objectSpec"]), typeImports: new Set(["BpfObject", "LoadOptions", "ObjectDescriptor", "ObjectSpec"]), privateCodecs: [], moduleScope: new NameScope(`top-level names of ${input.stem}.ts`, "binding", moduleNames) };
  const w = body;
  const typeDocs = docs(model);
  const { engine } = layouts;

  // Types: enums, then structs/unions, then typedef aliases, each sorted by name.
  const composites = engine.allComposites();
  const enums = engine.allEnums();
  const aliases = engine.allAliases();
  if (composites.length > 0) ctx.typeImports.add("Struct");
  const structNames = new Set(composites.map((c) => c.name));
  for (const e of enums) {
    ctx.moduleScope.claim(e.name, e.cDecl);
    emitEnum(w, e, typeDocs);
    w.blankLine();
  }
  for (const c of composites) {
    ctx.moduleScope.claim(c.name, c.cDecl);
    emitComposite(w, c, typeDocs);
    w.blankLine();
  }
  for (const a of aliases) {
    ctx.moduleScope.claim(a.name, `typedef ${a.cName}`);
    emitAlias(w, a, structNames.has(a.target));
    w.blankLine();
  }

  // Constants (.rodata) and variables (.data/.bss): TS names in their own scopes.
  const constScope = new NameScope(`constants of ${input.stem}`);
  const varScope = new NameScope(`variables of ${input.stem}`);
  const constants = layouts.variables.filter((v) => v.variable.constant).map((v) => ({ ...v, ts: constScope.claim(memberName(v.variable.name), v.variable.name) }));
  const variables = layouts.variables.filter((v) => !v.variable.constant).map((v) => ({ ...v, ts: varScope.claim(memberName(v.variable.name), v.variable.name) }));
  const programScope = new NameScope(`programs of ${input.stem}`);
  const programs = [...model.programs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((p) => ({ p, ts: programScope.claim(memberName(p.name), p.name) }));
  const mapScope = new NameScope(`maps of ${input.stem}`);
  const maps = layouts.maps.map((m) => ({ ...m, ts: mapScope.claim(memberName(m.map.name), m.map.name) }));
  for (const n of [names.constants, names.objects, names.load, names.spec]) ctx.moduleScope.claim(n, n);

  docComment(w, [`Values of the \`.rodata\` constants (\`const volatile\` globals), set before load.`]);
  w.write(`export interface ${names.constants} `).inlineBlock(() => {
    for (const c of constants) {
      docComment(w, [`\`${engine.cDecl(c.variable.typeId, c.variable.name)}\` in \`${c.variable.section}\` at offset ${c.variable.offset}.`, ...docLines(model.docs.variables[c.variable.name] ?? c.variable.doc)]);
      w.writeLine(`${c.ts}?: ${tsType(c.type)};`);
    }
  });
  w.blankLine();

  docComment(w, [`The loaded \`${input.sourceName}\`: its programs, maps and global variables.`]);
  w.write(`export interface ${names.objects} extends BpfObject `).inlineBlock(() => {
    w.write("programs: ").inlineBlock(() => {
      for (const { p, ts } of programs) {
        docComment(w, [`\`SEC("${p.section}")\` ${p.name}${p.autoAttach ? "" : " (attached explicitly)"}.`, ...docLines(model.docs.programs[p.name] ?? p.doc)]);
        w.writeLine(`${ts}: Program<${JSON.stringify(p.kind)}>;`);
      }
    });
    w.write(";").newLine();
    ctx.typeImports.add("Program");
    w.write("maps: ").inlineBlock(() => {
      for (const m of maps) {
        docComment(w, [mapSummary(m.map, m.event ? tsType(m.event) : undefined), ...docLines(model.docs.maps[m.map.name] ?? m.map.doc)]);
        w.writeLine(`${m.ts}: ${mapType(ctx, m.map, m.key, m.value, m.event)};`);
      }
    });
    w.write(";").newLine();
    w.write("variables: ").inlineBlock(() => {
      for (const v of variables) {
        docComment(w, [`\`${engine.cDecl(v.variable.typeId, v.variable.name)}\` in \`${v.variable.section}\` at offset ${v.variable.offset}.`, ...docLines(model.docs.variables[v.variable.name] ?? v.variable.doc)]);
        w.writeLine(`${v.ts}: Variable<${tsType(v.type)}>;`);
        ctx.typeImports.add("Variable");
      }
    });
    w.write(";").newLine();
  });
  w.blankLine();

  // The descriptor needs every codec expression first (they may add private codecs).
  const mapEntries = maps.map((m) => {
    const parts = [`name: ${JSON.stringify(m.map.name)}`, `type: ${JSON.stringify(m.map.type)}`];
    const shape = mapClasses[m.map.type]?.shape ?? "kv";
    if (shape === "event") {
      if (m.event) parts.push(`value: ${codecFor(ctx, m.event, `${m.ts}Event`)}`);
    } else if (shape !== "none") {
      if (m.key) parts.push(`key: ${codecFor(ctx, m.key, `${m.ts}Key`)}`);
      else if (m.map.keySize > 0) parts.push(`key: rawCodec(${m.map.keySize})`);
      if (m.value) parts.push(`value: ${codecFor(ctx, m.value, `${m.ts}Value`)}`);
      else if (m.map.valueSize > 0) parts.push(`value: rawCodec(${m.map.valueSize})`);
      if ((!m.key && m.map.keySize > 0) || (!m.value && m.map.valueSize > 0)) ctx.imports.add("rawCodec");
    }
    return { ts: m.ts, parts };
  });
  const varEntries = [...constants.map((c) => ({ ...c, group: "constants" })), ...variables.map((v) => ({ ...v, group: "variables" }))].map((v) => ({
    group: v.group,
    ts: v.ts,
    parts: [`name: ${JSON.stringify(v.variable.name)}`, `section: ${JSON.stringify(v.variable.section)}`, `offset: ${v.variable.offset}`, `codec: ${codecFor(ctx, v.type, `${v.ts}${v.group === "constants" ? "Constant" : "Variable"}`)}`],
  }));

  for (const pc of ctx.privateCodecs) {
    const size = sizeOfLayout(pc.type);
    emitPrivateCodec(w, pc.name, pc.type, size, alignOfLayout(pc.type));
    w.blankLine();
  }

  w.write("const descriptor: ObjectDescriptor = ").inlineBlock(() => {
    w.writeLine(`name: ${JSON.stringify(input.stem)},`);
    w.write("objects: ").inlineBlock(() => {
      // The base64 goes in after printing: the writer inspects every character it is given, which
      // for objects of hundreds of kilobytes costs more than all the rest of the module.
      w.writeLine(`le: ${input.objects.le !== undefined ? `"${objectMarker.le}"` : "undefined"},`);
      w.writeLine(`be: ${input.objects.be !== undefined ? `"${objectMarker.be}"` : "undefined"},`);
    });
    w.write(",").newLine();
    w.write("programs: ").inlineBlock(() => {
      for (const { p, ts } of programs) w.writeLine(`${ts}: { ${programParts(p).join(", ")} },`);
    });
    w.write(",").newLine();
    w.write("maps: ").inlineBlock(() => {
      for (const m of mapEntries) w.writeLine(`${m.ts}: { ${m.parts.join(", ")} },`);
    });
    w.write(",").newLine();
    for (const group of ["variables", "constants"]) {
      w.write(`${group}: `).inlineBlock(() => {
        for (const v of varEntries.filter((e) => e.group === group)) w.writeLine(`${v.ts}: { ${v.parts.join(", ")} },`);
      });
      w.write(",").newLine();
    }
  });
  w.write(";").newLine();
  w.blankLine();

  docComment(w, [`Loads \`${input.sourceName}\` into the kernel (the object built for the host's byte order) and opens its maps and programs.`]);
  w.write(`export function ${names.load}(opts?: LoadOptions<${names.constants}>): Promise<${names.objects}> `).inlineBlock(() => {
    w.writeLine(`return loadObject(descriptor, opts) as Promise<${names.objects}>;`);
  });
  w.blankLine();
  docComment(w, [`The object's specification (programs, maps, constants) for inspection before load.`]);
  w.write(`export function ${names.spec}(): ObjectSpec `).inlineBlock(() => {
    w.writeLine("return objectSpec(descriptor);");
  });
  if (emitMetrics(w, ctx.moduleScope.claim(names.spec.replace(/Spec$/, "Metrics"), "@metric tags"), names.objects, model, maps)) ctx.typeImports.add("MetricSpec");

  // Value imports the body does not use would fail a user's `noUnusedLocals`: keep only used ones.
  const text = body.toString();
  for (const n of [...ctx.imports]) if (!new RegExp(`\\b${n}\\b`).test(text)) ctx.imports.delete(n);
  const head = newWriter();
  head.writeLine(`// @generated by bpf2ts ${input.version} from ${input.sourceName} (sha256 ${input.sourceSha256}). DO NOT EDIT.`);
  if (input.record !== undefined) head.writeLine(input.record);
  const specifiers = [...[...ctx.typeImports].map((n) => ({ n, s: `type ${n}` })), ...[...ctx.imports].map((n) => ({ n, s: n }))]
    .sort((a, b) => (a.n.toLowerCase() < b.n.toLowerCase() ? -1 : a.n.toLowerCase() > b.n.toLowerCase() ? 1 : 0))
    .map((x) => x.s);
  head.writeLine("import {");
  for (const s of specifiers) head.writeLine(`  ${s},`);
  head.writeLine(`} from "@bpf2ts/runtime";`);
  head.blankLine();
  // Empty blocks print as `{}` (an object with no maps, an interface with no constants).
  const module = head.toString() + text.replace(/\{\n *\}/g, "{}").replace(/\n+$/, "\n");
  // Ends with a newline, as editors save it: a save without changes keeps `check` clean.
  return module.replace(/\n*$/, "\n").replace(`"${objectMarker.le}"`, () => JSON.stringify(input.objects.le)).replace(`"${objectMarker.be}"`, () => JSON.stringify(input.objects.be));
}

function docLines(doc: string | undefined): string[] {
  return doc ? ["", ...doc.split("\n")] : [];
}

/** A program's descriptor entry; the parsed attach target travels with it so the runtime never re-reads SEC(). */
function programParts(p: ProgramModel): string[] {
  const parts = [`name: ${JSON.stringify(p.name)}`, `section: ${JSON.stringify(p.section)}`, `kind: ${JSON.stringify(p.kind)}`];
  if (p.target.type !== "none") {
    parts.push(`target: { ${Object.entries(p.target).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} }`);
  }
  return parts;
}

function mapSummary(m: MapModel, event: string | undefined): string {
  const parts = [`\`${m.type}\` map \`${m.name}\``, `max_entries ${m.maxEntries}`];
  if (m.keySize > 0 || m.valueSize > 0) parts.push(`key ${m.keySize} bytes`, `value ${m.valueSize} bytes`);
  if (event && m.event) parts.push(`records \`${m.event.cType}\` (${m.event.origin === "override" ? "set by --event" : "found in the source"})`);
  return `${parts.join(", ")}.`;
}

function mapType(ctx: Ctx, m: MapModel, key: ValueLayout | undefined, value: ValueLayout | undefined, event: ValueLayout | undefined): string {
  const entry = mapClasses[m.type];
  const cls = entry?.cls ?? "BpfMap";
  ctx.typeImports.add(cls);
  const k = key ? tsType(key) : m.keySize > 0 ? "Uint8Array" : "never";
  const v = value ? tsType(value) : m.valueSize > 0 ? "Uint8Array" : "never";
  switch (entry?.shape ?? "kv") {
    case "kv":
      return `${cls}<${k}, ${v}>`;
    case "v":
      return `${cls}<${v}>`;
    case "event":
      return `${cls}<${event ? tsType(event) : "Uint8Array"}>`;
    case "none":
      return cls;
  }
}
