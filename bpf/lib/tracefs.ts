// Reads symbolic values from a tracepoint's format file, e.g. the drop-reason names the running kernel
// prints for skb:kfree_skb — so names follow the kernel actually running, not the one we built on.

import { readFileSync } from "node:fs";

const roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/**
 * The `__print_symbolic(REC->field, { 2, "NAME" }, …)` table of `category/event` for `field`, or an
 * empty map when tracefs is not mounted or the event has none.
 */
export function symbolicValues(category: string, event: string, field: string): Map<number, string> {
  for (const root of roots) {
    let text: string;
    try {
      text = readFileSync(`${root}/events/${category}/${event}/format`, "utf8");
    } catch {
      continue;
    }
    const start = text.indexOf(`__print_symbolic(REC->${field},`);
    if (start < 0) return new Map();
    const out = new Map<number, string>();
    const re = /\{\s*(-?\d+)\s*,\s*"([^"]*)"\s*\}/g;
    re.lastIndex = start;
    let depth = 0;
    // Walk to the matching ')' so tables of other fields later in the line are not mixed in.
    let end = text.length;
    for (let i = text.indexOf("(", start); i < text.length; i++) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")" && --depth === 0) {
        end = i;
        break;
      }
    }
    for (let m; (m = re.exec(text)) && m.index < end; ) out.set(Number(m[1]), m[2]!);
    return out;
  }
  return new Map();
}
