// Scanning a source together with the project headers it includes, so types, doc comments and event
// types declared in `#include "prog.h"` count as if written in the source.

import { SourceError } from "./errors.js";
import { scanSources, type SourceScan } from "./source.js";


/** Headers bigger than this (vmlinux.h is megabytes) hold no user types worth scanning. */
const MAX_HEADER_BYTES = 512 * 1024;

/** `#include "x.h"` targets of a source, in order. */
export function localIncludes(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm)) out.push(m[1]!);
  return out;
}

/**
 * Scans a source file and the local headers it includes (`#include "…"`, found next to the including
 * file, recursively), so types, docs and event types declared in a project header count too. The
 * source's own findings win over a header's.
 */
export function scanSourceTree(path: string, shownName: string, read: (path: string) => string | undefined): SourceScan {
  const seen = new Set<string>();
  const files: Array<{ text: string; file: string }> = [];
  const visit = (file: string, shown: string, text: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    files.push({ text, file: shown });
    const dir = file.slice(0, file.lastIndexOf("/") + 1);
    const shownDir = shown.slice(0, shown.lastIndexOf("/") + 1);
    for (const inc of localIncludes(text)) {
      const target = inc.startsWith("/") ? inc : normalize(dir + inc);
      const header = read(target);
      if (header === undefined || header.length > MAX_HEADER_BYTES) continue;
      visit(target, inc.startsWith("/") ? inc : normalize(shownDir + inc), header);
    }
  };
  const text = read(path);
  if (text === undefined) throw new SourceError(`${shownName}: cannot read`, { file: shownName });
  visit(path, shownName, text);
  return mergeScans(scanSources(files));
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
