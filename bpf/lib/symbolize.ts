// Turns stack addresses into function names: kernel addresses through /proc/kallsyms, user addresses
// through /proc/PID/maps and the ELF symbols of the mapped files. Used by profile and dropwatch.

import { readFileSync } from "node:fs";
import { ElfImage } from "@bpf2ts/runtime";

interface KSym {
  address: bigint;
  name: string;
}

/** /proc/kallsyms, sorted for lookup. Addresses read as 0 without root (kptr_restrict). */
export class KernelSymbols {
  readonly #syms: KSym[];

  constructor(text = readFileSync("/proc/kallsyms", "utf8")) {
    const syms: KSym[] = [];
    for (const line of text.split("\n")) {
      const sp1 = line.indexOf(" ");
      const sp2 = line.indexOf(" ", sp1 + 1);
      if (sp1 < 0 || sp2 < 0) continue;
      const type = line[sp1 + 1];
      if (type !== "t" && type !== "T" && type !== "W" && type !== "w") continue;
      const end = line.indexOf("\t", sp2 + 1);
      syms.push({ address: BigInt("0x" + line.slice(0, sp1)), name: line.slice(sp2 + 1, end < 0 ? undefined : end) });
    }
    syms.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    this.#syms = syms;
  }

  get size(): number {
    return this.#syms.length;
  }

  /** The function containing `address`, or undefined (e.g. when addresses are hidden). */
  lookup(address: bigint): string | undefined {
    const s = this.#syms;
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]!.address <= address) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best >= 0 && s[best]!.address !== 0n ? s[best]!.name : undefined;
  }
}

interface Mapping {
  start: bigint;
  end: bigint;
  offset: bigint;
  path: string;
}

interface JitSym {
  start: bigint;
  end: bigint;
  name: string;
}

/**
 * Symbolizes user addresses of live processes; ELF files are read once and cached. JIT-compiled code
 * (Node with --perf-basic-prof, the JVM with perf-map-agent, …) resolves through /tmp/perf-PID.map.
 */
export class UserSymbols {
  readonly #maps = new Map<number, Mapping[] | null>();
  readonly #images = new Map<string, ElfImage | null>();
  readonly #jit = new Map<number, JitSym[] | null>();

  #jitSymbols(pid: number): JitSym[] | null {
    let j = this.#jit.get(pid);
    if (j !== undefined) return j;
    try {
      j = readFileSync(`/proc/${pid}/root/tmp/perf-${pid}.map`, "utf8")
        .split("\n")
        .map((line) => /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.+)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => {
          const start = BigInt("0x" + m[1]);
          return { start, end: start + BigInt("0x" + m[2]), name: m[3]! };
        });
    } catch {
      j = null;
    }
    this.#jit.set(pid, j);
    return j;
  }

  #mappings(pid: number): Mapping[] | null {
    let m = this.#maps.get(pid);
    if (m !== undefined) return m;
    try {
      m = readFileSync(`/proc/${pid}/maps`, "utf8")
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length >= 6 && f[5]!.startsWith("/") && f[1]!.includes("x"))
        .map((f) => {
          const [start, end] = f[0]!.split("-");
          return { start: BigInt("0x" + start), end: BigInt("0x" + end), offset: BigInt("0x" + f[2]), path: f[5]! };
        });
    } catch {
      m = null; // the process is gone
    }
    this.#maps.set(pid, m);
    return m;
  }

  #image(pid: number, path: string): ElfImage | null {
    let img = this.#images.get(path);
    if (img !== undefined) return img;
    try {
      // Through /proc/PID/root so binaries of other mount namespaces (containers) resolve too.
      img = new ElfImage(path, readFileSync(`/proc/${pid}/root${path}`));
    } catch {
      try {
        img = new ElfImage(path);
      } catch {
        img = null;
      }
    }
    this.#images.set(path, img);
    return img;
  }

  /** `function` or `[binary]`, or undefined when the address is in no file mapping. */
  lookup(pid: number, address: bigint): string | undefined {
    const maps = this.#mappings(pid);
    const m = maps?.find((x) => address >= x.start && address < x.end);
    if (!m) {
      // Last entry wins: JIT code is moved and re-emitted, and perf maps are append-only.
      const jit = this.#jitSymbols(pid);
      return jit?.findLast((x) => address >= x.start && address < x.end)?.name;
    }
    const img = this.#image(pid, m.path);
    const base = m.path.slice(m.path.lastIndexOf("/") + 1);
    if (!img) return `[${base}]`;
    const vaddr = img.addressOfOffset(address - m.start + m.offset);
    const fn = vaddr !== undefined ? img.functionAt(vaddr) : undefined;
    return fn ? fn.name : `[${base}]`;
  }

  /** Forgets cached mappings (processes come and go); ELF images stay cached. */
  forgetProcesses(): void {
    this.#maps.clear();
    this.#jit.clear();
  }
}

/** Where stack ids point: a stack-trace map (`maps.stacks`), addresses leaf first. */
export interface StackSource {
  get(id: number): bigint[] | undefined;
}

/**
 * The frames of a user + kernel stack pair, root first as flame graphs want them: user frames (from
 * `pid`'s mappings), then kernel frames suffixed "_[k]". Negative ids (no stack taken) add nothing,
 * except "[missing user stack]" when the user stack was asked for but could not be read (-1 means
 * "not taken").
 */
export function stackFrames(stacks: StackSource, pid: number, userStackId: number, kernStackId: number, ksyms: KernelSymbols, usyms: UserSymbols): string[] {
  const hex = (a: bigint) => `0x${a.toString(16)}`;
  const frames: string[] = [];
  if (userStackId >= 0) {
    for (const ip of [...(stacks.get(userStackId) ?? [])].reverse()) frames.push(usyms.lookup(pid, ip) ?? hex(ip));
  } else if (userStackId !== -1) frames.push("[missing user stack]");
  if (kernStackId >= 0) {
    for (const ip of [...(stacks.get(kernStackId) ?? [])].reverse()) frames.push(`${ksyms.lookup(ip) ?? hex(ip)}_[k]`);
  }
  return frames;
}

/** One folded-stack line, "comm;root;…;leaf value" (flamegraph.pl's input): separators in names replaced. */
export function foldedLine(comm: string, frames: readonly string[], value: bigint | number): string {
  return `${[comm.replace(/[; ]/g, "_"), ...frames.map((f) => f.replace(/;/g, ":"))].join(";")} ${value}`;
}
