// Scanning a source together with the project headers it includes, so types, doc comments and event
// types declared in `#include "prog.h"` count as if written in the source.

import { resolve } from "node:path";
import { SourceError } from "../errors.js";
import { scanSources, type SourceScan } from "./scan.js";

/** Headers bigger than this (vmlinux.h is megabytes) hold no user types worth scanning. */
const MAX_HEADER_BYTES = 512 * 1024;

/** What a reader returns for a file larger than the `maxBytes` it was given (read no further). */
export const TOO_BIG = Symbol("too big");

/** `#include "x.h"` targets of a source, in order. */
export function localIncludes(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm)) out.push(m[1]!);
  return out;
}

/** A directory a quoted `#include` is searched in: absolute, and as the flag spelled it (for messages). */
export interface IncludeDir {
  readonly path: string;
  readonly shown: string;
}

/**
 * The directories clang searches for `#include "…"` after the including file's own: `-iquote` ones,
 * then `-I` ones, in the order given (relative ones against `cwd`).
 */
export function quoteIncludeDirs(cflags: readonly string[], cwd: string): IncludeDir[] {
  const quote: IncludeDir[] = [];
  const plain: IncludeDir[] = [];
  for (let i = 0; i < cflags.length; i++) {
    const m = /^(-iquote|-I|--include-directory=)(.*)$/.exec(cflags[i]!);
    if (!m) continue;
    const dir = m[2] !== "" ? m[2] : m[1] !== "--include-directory=" ? cflags[++i] : undefined;
    if (!dir) continue;
    (m[1] === "-iquote" ? quote : plain).push({ path: resolve(cwd, dir), shown: dir.replace(/(.)\/+$/, "$1") });
  }
  return [...quote, ...plain];
}

/**
 * Scans a source file and the project headers it includes (`#include "…"`, recursively, found where
 * clang finds them: next to the including file, then in the `-iquote`/`-I` directories), so types, docs
 * and event types declared in a project header count too (types of headers from the include
 * directories only where used). The source's own findings win over a header's. `<…>` includes are
 * system and library headers: not scanned.
 */
export function scanSourceTree(path: string, shownName: string, read: (path: string, maxBytes?: number) => string | typeof TOO_BIG | undefined, includeDirs: readonly IncludeDir[] = []): SourceScan {
  const seen = new Set<string>();
  const files: Array<{ text: string; file: string; shared: boolean }> = [];
  // `shared`: found through an include directory (or included from such a header), like libbpf-tools'
  // shared headers or a project's prelude of kernel typedefs. Its helpers, macros and docs count; the
  // types it declares are not the program's own, so they are emitted only where something uses them.
  const visit = (file: string, shown: string, text: string, shared: boolean) => {
    if (seen.has(file)) return;
    seen.add(file);
    files.push({ text, file: shown, shared });
    const dir = file.slice(0, file.lastIndexOf("/") + 1);
    const shownDir = shown.slice(0, shown.lastIndexOf("/") + 1);
    for (const inc of localIncludes(text)) {
      const candidates = inc.startsWith("/")
        ? [{ target: inc, shown: inc, shared }]
        : [{ target: normalize(dir + inc), shown: normalize(shownDir + inc), shared }, ...includeDirs.map((d) => ({ target: normalize(`${d.path}/${inc}`), shown: normalize(`${d.shown}/${inc}`), shared: true }))];
      for (const c of candidates) {
        const header = read(c.target, MAX_HEADER_BYTES);
        if (header === undefined) continue;
        if (header !== TOO_BIG && header.length <= MAX_HEADER_BYTES) visit(c.target, c.shown, header, c.shared);
        break; // the first found is the one clang includes
      }
    }
  };
  const text = read(path);
  if (text === undefined || text === TOO_BIG) throw new SourceError(`${shownName}: cannot read`, { file: shownName });
  visit(path, shownName, text, false);
  const scans = scanSources(files).map((scan, i) => (files[i]!.shared ? { ...scan, declaredTypes: [] } : scan));
  return mergeScans(scans);
}

/** Collapses `a/./b` and `a/x/../b`. */
function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === ".") continue;
    if (part === ".." && out.length && out[out.length - 1] !== "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

/** The first scan is the source; later ones (headers) only fill what it lacks. */
function mergeScans(scans: readonly SourceScan[]): SourceScan {
  const [first, ...rest] = scans;
  if (!first || rest.length === 0) return first!;
  const under = <T>(pick: (s: SourceScan) => Readonly<Record<string, T>>): Record<string, T> => Object.assign({}, ...[...scans].reverse().map(pick));
  return {
    file: first.file,
    events: under((s) => s.events),
    docs: {
      types: under((s) => s.docs.types),
      fields: under((s) => s.docs.fields),
      maps: under((s) => s.docs.maps),
      programs: under((s) => s.docs.programs),
      variables: under((s) => s.docs.variables),
    },
    declaredTypes: [...new Set(scans.flatMap((s) => s.declaredTypes))].sort(),
    sections: under((s) => s.sections),
    warnings: scans.flatMap((s) => s.warnings),
    unfollowed: scans.flatMap((s) => s.unfollowed),
  };
}
