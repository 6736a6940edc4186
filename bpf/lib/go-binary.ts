// What the Go uprobe tracers (gotrace, httptrace) need to know about a target Go binary: that it is
// one, its Go version (from the build info), the addresses and RET offsets of runtime functions, and
// the struct offsets their BPF programs assume. Only amd64 binaries of Go ≥ 1.17 (register ABI) work.

import { readFileSync, realpathSync } from "node:fs";
import { ElfImage } from "@bpf2ts/runtime";
import { goBodyOffset } from "./go-prologue.js";
import { findReturns } from "./x86-returns.js";

export class GoBinaryError extends Error {
  override name = "GoBinaryError";
  constructor(
    message: string,
    readonly file: string,
    readonly symbol?: string,
  ) {
    super(message);
  }
}

/**
 * Struct offsets of Go 1.19/1.20 on amd64 (checked against DWARF by the tracer tests): runtime.g.goid,
 * net/http.Request.{Method,URL}, net/url.URL.Path, net/http.response.status.
 */
export const go119Offsets = { goid: 152, requestMethod: 0, requestUrl: 16, urlPath: 56, responseStatus: 120 } as const;

export const goroutineStatusNames: Readonly<Record<number, string>> = {
  0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 5: "moribund", 6: "dead",
  7: "enqueue", 8: "copystack", 9: "preempted",
};

/** "runnable", "running", … with a "scan|" prefix for the _Gscan bit (0x1000). */
export function goroutineStatus(s: number): string {
  const name = goroutineStatusNames[s & 0xfff] ?? String(s & 0xfff);
  return s & 0x1000 ? `scan|${name}` : name;
}

export class GoBinary {
  readonly path: string;
  readonly elf: ElfImage;
  /** "go1.19.8", or undefined when the build info is missing. */
  readonly version: string | undefined;

  constructor(path: string) {
    this.path = path;
    this.elf = new ElfImage(path);
    this.version = readGoVersion(this.elf);
    if (!this.elf.symbol("runtime.main")) throw new GoBinaryError(`${path}: not a Go binary with symbols (runtime.main not found)`, path);
  }

  /** The function symbol `name`, or a GoBinaryError naming it. */
  func(name: string) {
    const s = this.elf.symbol(name);
    if (!s || s.size === 0) throw new GoBinaryError(`${this.path}: function ${name} not found`, this.path, name);
    return s;
  }

  /**
   * Where an entry probe on function `name` goes, as an offset from its start: past its stack-bound
   * check, which may run the function again from its first byte (see go-prologue.ts); 0 for a
   * function without one.
   */
  entryOffset(name: string): number {
    return goBodyOffset(this.elf.functionBytes(this.func(name)));
  }

  /** Offsets from the start of function `name` of each of its RET instructions. */
  returnOffsets(name: string): number[] {
    const sym = this.func(name);
    const rets = findReturns(this.elf.functionBytes(sym));
    if (rets.length === 0) throw new GoBinaryError(`${this.path}: no RET found in ${name}`, this.path, name);
    return rets;
  }

  /** Link-time address of a data symbol such as `go.itab.*net/http.response,net/http.ResponseWriter`. */
  address(name: string): bigint | undefined {
    return this.elf.symbol(name)?.address;
  }

  /** Whether the binary is position-independent (symbol addresses then need the load base). */
  get pie(): boolean {
    return this.elf.type === 3;
  }

  /**
   * What to add to link-time addresses to get the addresses in process `pid`: 0 for fixed-address
   * executables, the load base of a PIE (from /proc/PID/maps: its mapping at file offset 0).
   * Undefined when the process does not map this binary.
   */
  loadBias(pid: number): bigint | undefined {
    if (!this.pie) return 0n;
    let maps: string;
    let exe: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, "utf8");
      exe = realpathSync(this.path);
    } catch {
      return undefined;
    }
    for (const line of maps.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 6 && f[5] === exe && BigInt("0x" + f[2]) === 0n) {
        const start = BigInt("0x" + f[0]!.split("-")[0]);
        return start - (this.elf.addressOfOffset(0n) ?? 0n);
      }
    }
    return undefined;
  }
}

/** The Go version recorded in the `.go.buildinfo` data ("\xff Go buildinf:" header, Go ≥ 1.18 layout). */
function readGoVersion(elf: ElfImage): string | undefined {
  const sym = elf.symbol("runtime.buildVersion");
  if (!sym) return undefined;
  // runtime.buildVersion is a Go string header {ptr, len} in the data segment.
  try {
    const hdr = elf.functionBytes({ ...sym, size: 16 });
    const view = new DataView(hdr.buffer, hdr.byteOffset, 16);
    const ptr = view.getBigUint64(0, true);
    const len = Number(view.getBigUint64(8, true));
    if (len <= 0 || len > 64) return undefined;
    const bytes = elf.functionBytes({ name: "buildVersion", address: ptr, size: len, type: 1 });
    return Buffer.from(bytes).toString("latin1");
  } catch {
    return undefined;
  }
}
