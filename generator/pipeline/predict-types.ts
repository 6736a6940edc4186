// Which types the types-only compile will be asked for, guessed from the source scan before the
// object exists, so that compile can run beside the main one instead of after it. Only a guess: the
// real request is made from the object's BTF, and a compile is reused only when it was started for
// exactly the same spellings (and target), so a wrong guess costs a core, never a different output.

import type { SourceScan } from "../source/scan.js";
import type { GenerateOptions } from "./options.js";

/** A bare type name spelled as the source declares it (`event` → `struct event`). */
export function spellType(name: string, declared: ReadonlySet<string>): string {
  if (/\s/.test(name.trim()) || declared.has(name)) return name.trim();
  for (const kw of ["struct", "union", "enum"]) if (declared.has(`${kw} ${name}`)) return `${kw} ${name}`;
  // Not in the source or its project headers (vmlinux.h is not scanned): most such names are
  // kernel structs. A wrong guess is dropped from the compile and reported by the caller.
  return `struct ${name.trim()}`;
}

/**
 * The spellings the types-only compile will most likely be asked for: the record types of event
 * maps (a record built on the stack or reserved in a ring buffer never reaches the object's BTF), and
 * with global types on, the declared enums that nothing names as a type (their constants are used,
 * the type never) — except types the texts name as a map's key or value or a global's type (those are
 * in the BTF). `texts`: the source and the project headers the scan read. Empty when nothing is
 * likely missing.
 */
export function predictMissingTypes(scan: SourceScan, texts: readonly string[], o: Pick<GenerateOptions, "events" | "globalTypes">): string[] {
  const declared = new Set(scan.declaredTypes);
  const events = Object.values({ ...scan.events, ...(o.events ?? {}) });
  const absent = (t: string) => !texts.some((text) => inObjectBtf(text, t));
  const unusedEnum = (t: string) => t.startsWith("enum ") && texts.reduce((n, text) => n + (text.match(new RegExp(`${pattern(t)}\\b`, "g"))?.length ?? 0), 0) <= 1;
  const required = events.map((e) => spellType(e, declared)).filter(absent);
  const optional = (o.globalTypes ?? true) ? scan.declaredTypes.filter((t) => (events.includes(t) || unusedEnum(t)) && absent(t)) : [];
  return [...new Set([...required, ...optional])];
}

/** A regexp source matching the spelling `t` (`struct  event` too). */
const pattern = (t: string) => t.trim().split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s+");

/** Whether `text` uses type `t` where clang puts it in BTF: a map's key or value, a global variable. */
function inObjectBtf(text: string, t: string): boolean {
  const name = pattern(t);
  const asMapType = new RegExp(`__type\\s*\\(\\s*\\w+\\s*,\\s*${name}\\s*\\)`);
  const asGlobal = new RegExp(`^(?:(?:static|const|volatile)\\s+)*${name}\\s+\\**\\s*\\w+\\s*(?:\\[|=|;|SEC)`, "m");
  return asMapType.test(text) || asGlobal.test(text);
}
