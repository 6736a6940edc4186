// A line diff in unified format (`diff -u`), for `bpf2ts check`: Myers' O(ND) shortest edit script,
// grouped into hunks with `context` lines around each change. Generated files differ in few lines,
// so D stays small and the diff is cheap even for large modules.

export interface UnifiedDiff {
  /** The diff text ("" when equal), with `---`/`+++` headers. */
  readonly text: string;
  readonly added: number;
  readonly removed: number;
}

type Op = { kind: " " | "-" | "+"; line: string };

/** The shortest edit script from `a` to `b` as a list of kept, removed and added lines. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk back through the saved frontiers.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: " ", line: a[--x]! }), y--;
    if (d > 0) {
      if (x === prevX) ops.push({ kind: "+", line: b[--y]! });
      else ops.push({ kind: "-", line: a[--x]! });
    }
  }
  return ops.reverse();
}

const splitLines = (s: string): string[] => {
  if (s === "") return [];
  const lines = s.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
};

/** `diff -u` of two texts; labels go on the `---` and `+++` lines. */
export function unifiedDiff(aLabel: string, bLabel: string, aText: string, bText: string, context = 3): UnifiedDiff {
  if (aText === bText) return { text: "", added: 0, removed: 0 };
  const ops = editScript(splitLines(aText), splitLines(bText));
  const out = [`--- ${aLabel}`, `+++ ${bLabel}`];
  let added = 0;
  let removed = 0;
  // Positions (in ops) of changes, grouped into hunks when their context overlaps.
  let i = 0;
  let aLine = 1;
  let bLine = 1;
  const lineAt: Array<[number, number]> = ops.map((op) => {
    const at: [number, number] = [aLine, bLine];
    if (op.kind !== "+") aLine++;
    if (op.kind !== "-") bLine++;
    return at;
  });
  while (i < ops.length) {
    if (ops[i]!.kind === " ") {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend while the next change is within 2*context kept lines.
    for (let j = i; j < ops.length; j++) {
      if (ops[j]!.kind !== " ") end = j;
      else if (j - end > 2 * context) break;
    }
    const stop = Math.min(ops.length, end + context + 1);
    const hunk = ops.slice(start, stop);
    const [aStart, bStart] = lineAt[start]!;
    const aCount = hunk.filter((o) => o.kind !== "+").length;
    const bCount = hunk.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${aCount === 0 ? aStart - 1 : aStart},${aCount} +${bCount === 0 ? bStart - 1 : bStart},${bCount} @@`);
    for (const o of hunk) {
      out.push(o.kind + o.line);
      if (o.kind === "+") added++;
      if (o.kind === "-") removed++;
    }
    i = stop;
  }
  return { text: out.join("\n") + "\n", added, removed };
}
