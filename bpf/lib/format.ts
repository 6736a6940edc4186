// Text formatting shared by the tracer CLIs: bcc-style log2 histograms, times, padding.

/**
 * A log2 histogram as bcc's `print_log2_hist` prints it:
 *      usecs               : count    distribution
 *          0 -> 1          : 3        |****                                    |
 */
export function log2Histogram(slots: ArrayLike<number | bigint>, unit: string): string {
  const counts = Array.from(slots, (x) => Number(x));
  let last = counts.length - 1;
  while (last >= 0 && counts[last] === 0) last--;
  const w = Math.max(10, String(2 ** (Math.max(last, 0) + 1) - 1).length);
  const header = `${unit.padStart(w + 2).padEnd(2 * w + 5)}: count    distribution`;
  if (last < 0) return `${header}\n${"(no samples)".padStart(w + 12)}\n`;
  const max = Math.max(...counts);
  const width = 40;
  const lines = [header];
  for (let i = 0; i <= last; i++) {
    const low = i === 0 ? 0 : 2 ** i;
    const high = 2 ** (i + 1) - 1;
    const stars = max ? Math.round((counts[i]! * width) / max) : 0;
    lines.push(`${String(low).padStart(w)} -> ${String(high).padEnd(w)} : ${String(counts[i]).padEnd(8)} |${"*".repeat(stars).padEnd(width)}|`);
  }
  return lines.join("\n") + "\n";
}

/** HH:MM:SS of the wall clock, for event lines. */
export function clock(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}

/** A nanosecond duration in the most readable unit. */
export function duration(ns: bigint | number): string {
  const n = Number(ns);
  if (n < 1e3) return `${n}ns`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}µs`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)}ms`;
  return `${(n / 1e9).toFixed(2)}s`;
}

/** Adds per-CPU values (the runtime returns one value per possible CPU). */
export function sumCpus(values: ReadonlyArray<number | bigint>): bigint {
  let s = 0n;
  for (const v of values) s += BigInt(v);
  return s;
}

/** Fixed-width columns: pads every cell but the last. */
export function columns(cells: ReadonlyArray<string | number | bigint>, widths: readonly number[]): string {
  return cells.map((c, i) => (i < widths.length ? String(c).padEnd(widths[i]!) : String(c))).join(" ");
}
