// Every name the generator emits is chosen here: C snake_case → TS camelCase members, PascalCase
// types prefixed by the stem, reserved words escaped, and clashes (two C names that map to one TS
// name) reported with both C names rather than silently renamed.

import { Bpf2tsError, type ErrorPlace } from "../errors.js";

/**
 * Words escaped in member names. Object keys may legally be keywords, but generated code reads them
 * as bare identifiers in places (destructuring, shorthand) and users do too; and Object.prototype
 * names shadow (or, for `__proto__`, break) plain objects.
 */
const reserved = new Set([
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
  "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof",
  "new", "null", "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void",
  "while", "with", "implements", "interface", "let", "package", "private", "protected", "public",
  "static", "yield", "await",
  "constructor", "__proto__", "prototype", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
  "toString", "toLocaleString", "valueOf", "__defineGetter__", "__defineSetter__", "__lookupGetter__",
  "__lookupSetter__",
]);

/** Two C names that map to one TS name; both are in the message and in `cNames`. */
export class NameClashError extends Bpf2tsError {
  override name = "NameClashError";
  constructor(
    readonly context: string,
    readonly tsName: string,
    readonly cNames: readonly [string, string],
    place: ErrorPlace = {},
  ) {
    super(
      cNames[0] === cNames[1]
        ? `${context}: the C name "${cNames[0]}" is declared twice (TS name "${tsName}")`
        : `${context}: C names "${cNames[0]}" and "${cNames[1]}" both map to the TS name "${tsName}"; rename one of them in the C source`,
      { ...place, member: cNames[1] },
    );
  }
}

/** A C name whose TS name cannot be written as an identifier; the message names the C symbol. */
export class NameError extends Bpf2tsError {
  override name = "NameError";
  constructor(
    readonly context: string,
    readonly tsName: string,
    readonly cName: string,
    why: string,
  ) {
    super(`${context}: C name "${cName}" gives the TS name "${tsName}", which ${why}; rename it in the C source`, { symbol: cName });
  }
}

/** Names no top-level declaration may have: JS keywords and strict-mode reserved words, and TS's primitive type names. */
const notBindings = new Set([
  ...[...reserved].filter((w) => !/^(constructor|prototype|hasOwnProperty|isPrototypeOf|propertyIsEnumerable|toString|toLocaleString|valueOf|__define|__lookup)/.test(w)),
  "arguments", "eval", "any", "unknown", "never", "string", "number", "boolean", "bigint", "symbol", "object", "undefined",
]);

/**
 * Checks a name the emitter writes as an identifier: one `ID_Start` then `ID_Continue` characters,
 * never `__proto__` (as an object key it sets the prototype); a `binding` (a top-level const, type or
 * interface) also not a reserved word or a primitive type's name. Returns the name; otherwise throws
 * a NameError naming the C symbol, so that a module tsc would reject is never written.
 */
export function checkIdentifier(tsName: string, cName: string, context: string, kind: "property" | "binding" = "property"): string {
  if (!/^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*$/u.test(tsName)) {
    throw new NameError(context, tsName, cName, tsName === "" ? "is empty" : "is not a valid TypeScript identifier");
  }
  if (tsName === "__proto__" || (kind === "binding" && notBindings.has(tsName))) throw new NameError(context, tsName, cName, "is a reserved word");
  return tsName;
}

/** Escapes words that cannot stand as identifiers by appending `_` (`default` → `default_`). */
export function escapeReserved(name: string): string {
  return reserved.has(name) ? `${name}_` : name;
}

function splitWords(cName: string): { lead: string; words: string[]; trail: string } {
  const lead = /^_*/.exec(cName)![0];
  const trail = cName.length > lead.length ? /_*$/.exec(cName)![0] : "";
  const core = cName.slice(lead.length, cName.length - trail.length);
  const allCaps = core === core.toUpperCase();
  const words = core.split(/_+/).filter((w) => w.length > 0);
  return { lead, words: allCaps ? words.map((w) => w.toLowerCase()) : words, trail };
}

const upperFirst = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1);

/**
 * `target_pid` → `targetPid`, `MAX_LEN` → `maxLen`, `__pad` → `__pad`. Leading and trailing
 * underscores are kept: they usually mean "private" or "reserved" in C and dropping them invites clashes.
 */
export function camelCase(cName: string): string {
  const { lead, words, trail } = splitWords(cName);
  if (words.length === 0) return cName;
  const [first, ...rest] = words;
  return lead + first! + rest.map(upperFirst).join("") + trail;
}

/** `tcp_state` → `TcpState`, `exec-snoop` → `ExecSnoop`. */
export function pascalCase(cName: string): string {
  const { words } = splitWords(cName.replace(/[^A-Za-z0-9_]/g, "_"));
  const s = words.map(upperFirst).join("");
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** A member name: camelCase, reserved words escaped. */
export function memberName(cName: string): string {
  return escapeReserved(camelCase(cName));
}

/** A type name: the stem's PascalCase, then the C name's (`exec` + `event` → `ExecEvent`). */
export function typeName(stem: string, cName: string): string {
  return pascalCase(stem) + pascalCase(cName);
}

/** `load<Stem>` / `<stem>Spec`, the `<Stem>Objects`/`<Stem>Constants` types and `<stem>Metrics`. */
export function objectNames(stem: string): { load: string; spec: string; objects: string; constants: string; metrics: string } {
  const p = pascalCase(stem);
  const c = p.charAt(0).toLowerCase() + p.slice(1);
  return { load: `load${p}`, spec: `${c}Spec`, objects: `${p}Objects`, constants: `${p}Constants`, metrics: `${c}Metrics` };
}

/**
 * One namespace of generated names (the members of one struct, the maps of one object, the types of
 * one module). Claiming a TS name a second time for a different C name is an error naming both.
 */
export class NameScope {
  private readonly owners = new Map<string, string>();

  /**
   * `kind`: how the names are written (`binding`: top-level declarations). `taken`: names the module
   * itself uses (runtime imports, globals such as DataView), by what uses them.
   */
  constructor(
    readonly context: string,
    private readonly kind: "property" | "binding" = "property",
    private readonly taken: Readonly<Record<string, string>> = {},
    /** Where the names come from (a struct's type id), for errors. */
    private readonly place: ErrorPlace = {},
  ) {}

  claim(tsName: string, cName: string): string {
    checkIdentifier(tsName, cName, this.context, this.kind);
    const use = Object.hasOwn(this.taken, tsName) ? this.taken[tsName] : undefined;
    if (use !== undefined) throw new NameError(this.context, tsName, cName, `the generated module needs for ${use}`);
    const owner = this.owners.get(tsName);
    if (owner !== undefined && owner !== cName) throw new NameClashError(this.context, tsName, [owner, cName], this.place);
    this.owners.set(tsName, cName);
    return tsName;
  }

  /** Like `claim`, for names that must be new: the same C name a second time is a clash too (two struct members named alike). */
  claimNew(tsName: string, cName: string): string {
    const owner = this.owners.get(tsName);
    if (owner !== undefined) throw new NameClashError(this.context, tsName, [owner, cName], this.place);
    return this.claim(tsName, cName);
  }

  has(tsName: string): boolean {
    return this.owners.has(tsName);
  }
}
