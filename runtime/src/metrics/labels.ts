// Label values from raw key or event fields: numbers, strings, enum names, IP addresses, kernel
// symbols and cgroup paths. Kernel symbol and cgroup tables are read lazily, once, and reread when a
// value is not found (a module loaded or a cgroup created since).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LE } from "../codec.js";
import type { LabelSpec } from "../contract/metrics.js";

type Formatter = (raw: unknown) => string;

function bytesOf(raw: unknown, n: number): Uint8Array | undefined {
  if (raw instanceof Uint8Array) return raw.length >= n ? raw : undefined;
  if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (typeof raw === "number" && n === 4) {
    // A `__u32` holding network-order bytes, read in host order: its memory bytes are the address.
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, raw >>> 0, LE);
    return b;
  }
  return undefined;
}

export function formatIpv4(raw: unknown): string {
  const b = bytesOf(raw, 4);
  return b ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : String(raw);
}

export function formatIpv6(raw: unknown): string {
  const b = bytesOf(raw, 16);
  if (!b || b.length < 16) return String(raw);
  // ::ffff:a.b.c.d (IPv4-mapped) as such; otherwise RFC 5952 (longest run of zero groups as ::).
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${formatIpv4(b.subarray(12, 16))}`;
  const groups = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

class KernelSymbols {
  private addrs: bigint[] = [];
  private names: string[] = [];
  private loaded = false;

  private load(): void {
    const rows: Array<[bigint, string]> = [];
    for (const line of readFileSync("/proc/kallsyms", "latin1").split("\n")) {
      const [a, type, name] = line.split(/\s+/, 3);
      if (!a || !name || !/^[tTwW]$/.test(type ?? "")) continue;
      const addr = BigInt(`0x${a}`);
      if (addr !== 0n) rows.push([addr, name]);
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    this.addrs = rows.map((r) => r[0]);
    this.names = rows.map((r) => r[1]);
    this.loaded = true;
  }

  /** The function containing `addr` (without offset: labels must not explode), or the address in hex. */
  name(addr: bigint): string {
    if (!this.loaded) this.load();
    let lo = 0, hi = this.addrs.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= addr) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 ? this.names[found]! : `0x${addr.toString(16)}`;
  }
}

class CgroupPaths {
  private byId = new Map<bigint, string>();
  private scanned = 0;

  constructor(private readonly root = "/sys/fs/cgroup") {}

  private scan(): void {
    this.byId.clear();
    // cgroup v2: a cgroup's id is its directory's inode number.
    const walk = (dir: string, rel: string): void => {
      try {
        this.byId.set(BigInt(statSync(dir, { bigint: true }).ino), rel || "/");
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`);
      } catch {
        // a cgroup removed while walking: skip it
      }
    };
    walk(this.root, "");
    this.scanned = Date.now();
  }

  path(id: bigint): string {
    let p = this.byId.get(id);
    if (p === undefined && Date.now() - this.scanned > 1000) {
      this.scan();
      p = this.byId.get(id);
    }
    return p ?? String(id);
  }
}

let ksyms: KernelSymbols | undefined;
let cgroups: CgroupPaths | undefined;

const toBig = (raw: unknown): bigint => (typeof raw === "bigint" ? raw : BigInt(Number(raw)));

/** The function that turns a field's decoded value into the label's value. */
export function labelFormatter(l: LabelSpec): Formatter {
  switch (l.format) {
    case "number":
    case "string":
      return (raw) => String(raw);
    case "enum": {
      const names = l.names ?? {};
      return (raw) => names[String(raw)] ?? String(raw);
    }
    case "ipv4":
      return formatIpv4;
    case "ipv6":
      return formatIpv6;
    case "ksym":
      return (raw) => (ksyms ??= new KernelSymbols()).name(toBig(raw));
    case "cgroup":
      return (raw) => (cgroups ??= new CgroupPaths()).path(toBig(raw));
  }
}

/** Reads a member path (`[]`: the value itself). */
export function pathGetter(path: readonly string[]): (x: unknown) => unknown {
  if (path.length === 0) return (x) => x;
  if (path.length === 1) {
    const k = path[0]!;
    return (x) => (x as Record<string, unknown>)[k];
  }
  return (x) => {
    let v = x;
    for (const k of path) v = (v as Record<string, unknown>)?.[k];
    return v;
  };
}
