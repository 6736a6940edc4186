// Where each program kind is attached: `Program<K>.attach(opts)` with options typed per kind, and
// `testRun` over BPF_PROG_TEST_RUN.

import { execFileSync } from "node:child_process";
import { closeSync, existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { addon, type NativeLink, type NativeObject } from "./addon.js";
import { parseSection, type AttachTarget, type ProgramKind } from "./contract/index.js";
import { onlineCpus } from "./cpus.js";
import { resolveSymbolOffset } from "./elf-symbols.js";
import { describeValue } from "./codec.js";
import { BpfError, closedError, errno, errnoError, fromNative } from "./errors.js";
import type { ResourceOwner } from "./handles.js";
import { IterLink, Link } from "./links.js";

export type { AttachTarget, ProgramKind };

/** A network interface by name (`lo`, `eth0`) or index. */
export type InterfaceRef = { interface: string; ifindex?: never } | { ifindex: number; interface?: never };

export interface AttachOptions {
  /** Defaults from the section: `tracepoint/<category>/<name>`. */
  tracepoint: { category?: string; name?: string };
  /** Defaults from the section: `raw_tp/<name>`. */
  raw_tp: { name?: string };
  tp_btf: Record<string, never>;
  /** Defaults from the section: `kprobe/<func>`. */
  kprobe: { func?: string; offset?: number };
  kretprobe: { func?: string };
  /**
   * `path` of the binary or library, and `symbol` (exact symtab name, Go names included) and/or
   * `offset` (added to the symbol, or a file offset alone). `pid` limits it to one process.
   */
  uprobe: { path: string; symbol?: string; offset?: number; pid?: number; cookie?: bigint };
  uretprobe: { path: string; symbol?: string; offset?: number; pid?: number; cookie?: bigint };
  /**
   * A USDT probe (`.note.stapsdt`): `path` of the binary or library, its `provider` and probe `name`;
   * defaults from the section (`usdt/<path>:<provider>:<name>`). `pid` limits it to one process;
   * `cookie` is what `bpf_usdt_cookie()` returns.
   */
  usdt: { path?: string; provider?: string; name?: string; pid?: number; cookie?: bigint };
  fentry: Record<string, never>;
  fexit: Record<string, never>;
  fmod_ret: Record<string, never>;
  /** Attached to the target set at load (`LoadOptions.programs[name].attachTarget`). */
  freplace: Record<string, never>;
  /**
   * One perf event per CPU (default: all online CPUs). Software CPU clock by default; `frequency`
   * (Hz, default 99) or `period` (events between samples).
   */
  perf_event: {
    event?: "cpu-clock" | "task-clock" | "cycles" | "instructions" | { type: number; config: number };
    frequency?: number;
    period?: number;
    cpus?: readonly number[];
    pid?: number;
  };
  /** `mode` picks the XDP mode (netlink attach); without it a bpf_link is made. */
  xdp: InterfaceRef & { mode?: "skb" | "drv" | "hw"; flags?: number };
  tc: InterfaceRef & { direction?: "ingress" | "egress"; priority?: number; handle?: number };
  /** A socket fd (see `socketFd()` for Node sockets). */
  socket: { fd: number };
  /** A cgroup v2 directory (default: the root of the cgroup v2 mount). */
  cgroup_skb: { cgroup?: string };
  cgroup_sock: { cgroup?: string };
  cgroup_sock_addr: { cgroup?: string };
  cgroup_sockopt: { cgroup?: string };
  cgroup_sysctl: { cgroup?: string };
  cgroup_device: { cgroup?: string };
  sock_ops: { cgroup?: string };
  lsm_cgroup: { cgroup?: string };
  iter: Record<string, never>;
  syscall: Record<string, never>;
  lsm: Record<string, never>;
  other: Record<string, never>;
}

/** Kinds whose attach needs options (a target the section cannot name). */
type NeedsOptions = "uprobe" | "uretprobe" | "xdp" | "tc" | "socket";
type AttachArgs<K extends ProgramKind> = K extends NeedsOptions ? [opts: AttachOptions[K]] : [opts?: AttachOptions[K]];
type LinkOf<K extends ProgramKind> = K extends "iter" ? IterLink : Link;

export interface TestRunOptions {
  /** Packet or input data (data_in). */
  data?: Uint8Array;
  /** Room for data_out; default data.length + 256 when data is given. */
  dataOutSize?: number;
  /** Context in (ctx_in), e.g. a struct xdp_md or the args of a `syscall` program. */
  ctx?: Uint8Array;
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  /** The program's return value. */
  retval: number;
  /** Average run time in ns (over `repeat` runs). */
  duration: number;
  data?: Uint8Array;
  ctx?: Uint8Array;
}

/** What a program needs from its object: the native handle and who owns its links. */
export interface ProgramHost {
  readonly native: NativeObject;
  readonly owner: ResourceOwner;
}

/** The program kind a SEC() name implies (the contract's section table; "other" when libbpf knows none). */
export function kindOfSection(section: string): ProgramKind {
  return parseSection(section)?.kind ?? "other";
}

const perfTypes = { software: 1, hardware: 0 } as const;
const perfEvents = {
  "cpu-clock": { type: perfTypes.software, config: 0 },
  "task-clock": { type: perfTypes.software, config: 1 },
  cycles: { type: perfTypes.hardware, config: 0 },
  instructions: { type: perfTypes.hardware, config: 1 },
} as const;
const xdpModes = { skb: 2, drv: 4, hw: 8 } as const;

function ifindexOf(ref: { interface?: string; ifindex?: number }, what: string): number {
  if (typeof ref.ifindex === "number") return ref.ifindex;
  if (typeof ref.interface !== "string") throw new BpfError(`${what}: give an interface name or ifindex`, { errno: errno.EINVAL, code: "EINVAL" });
  const file = `/sys/class/net/${ref.interface}/ifindex`;
  if (!/^[^/]+$/.test(ref.interface) || !existsSync(file)) throw new BpfError(`${what}: no network interface "${ref.interface}"`, { errno: errno.ENODEV, code: "ENODEV" });
  return Number(readFileSync(file, "utf8").trim());
}

/**
 * A binary path as given; without a slash, found on $PATH (like a shell) or, for libraries such as
 * "libc.so.6", in the dynamic linker's cache.
 */
function findBinary(path: string): string {
  if (path.includes("/") || existsSync(path)) return path;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, path);
    if (dir && existsSync(p)) return p;
  }
  try {
    const cache = execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    // Lines look like "\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6"; prefer 64-bit.
    let hit: string | undefined;
    for (const line of cache.split("\n")) {
      const m = /^\s*(\S+) \((.*)\) => (\S+)$/.exec(line);
      if (m?.[1] !== path) continue;
      if (/64/.test(m[2]!)) return m[3]!;
      hit ??= m[3];
    }
    if (hit) return hit;
  } catch {
    // no ldconfig: keep the name as given
  }
  return path;
}

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Root(): string {
  try {
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const [, dir, type] = line.split(" ");
      if (type === "cgroup2" && dir) return dir;
    }
  } catch {
    // fall through
  }
  return "/sys/fs/cgroup";
}

/** The fd of a Node socket (net.Socket, dgram.Socket) for `socket` attach options. */
export function socketFd(sock: unknown): number {
  if (typeof sock === "number") return sock;
  const s = sock as Record<string | symbol, unknown> | undefined;
  // dgram keeps its handle in a symbol-keyed state object (its `_handle` getter is deprecated).
  for (const k of s ? Object.getOwnPropertySymbols(s) : []) {
    const fd = (s![k] as { handle?: { fd?: number } } | undefined)?.handle?.fd;
    if (typeof fd === "number" && fd >= 0) return fd;
  }
  const h = (s as { _handle?: { fd?: number } } | undefined)?._handle;
  if (typeof h?.fd === "number" && h.fd >= 0) return h.fd;
  throw new BpfError("socketFd: this socket has no fd yet (bind or connect it first)", { errno: errno.EBADF, code: "EBADF" });
}

/** A raw packet socket on one interface (`packetSocket()`): its fd for `socket` attach options. */
export interface PacketSocket {
  readonly fd: number;
  close(): void;
  [Symbol.dispose](): void;
}

/**
 * A raw `AF_PACKET` socket bound to one interface, every protocol: a `socket` program attached to it
 * sees every frame that interface sends and receives, link-layer header first (what libbpf-bootstrap's
 * sockfilter opens; Node cannot open one). Nothing reads it: the program's maps and ring buffers are
 * the output. Needs CAP_NET_RAW.
 */
export function packetSocket(ref: InterfaceRef): PacketSocket {
  const ifindex = ifindexOf(ref, "packetSocket");
  let fd: number;
  try {
    fd = addon().openPacketSocket(ifindex);
  } catch (e) {
    throw fromNative(e, { context: "packetSocket" });
  }
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return { fd, close, [Symbol.dispose]: close };
}

/** A program of a loaded object. */
export class Program<K extends ProgramKind = ProgramKind> {
  /** The C function name. */
  readonly name: string;
  readonly section: string;
  readonly kind: K;
  /** Where the section says it attaches (parsed once, by the generator or at load). */
  readonly target: AttachTarget;
  private readonly host: ProgramHost;

  /** @internal Programs are made by the loader. */
  constructor(host: ProgramHost, name: string, section: string, kind: K, target: AttachTarget) {
    this.host = host;
    this.name = name;
    this.section = section;
    this.kind = kind;
    this.target = target;
  }

  private get native(): NativeObject {
    if (this.host.owner.closed) throw closedError(`program ${this.name}`);
    return this.host.native;
  }

  /** The program fd; throws when the object is closed or the program was not loaded. */
  get fd(): number {
    const fd = this.native.programFd(this.name);
    if (fd < 0) throw new BpfError(`program ${this.name}: not loaded (autoload off: SEC("?…") or the programs load option)`, { errno: errno.EBADF, code: "EBADF", program: this.name });
    return fd;
  }

  /** The verifier log of the load (only kept when loaded with logLevel > 0). */
  get verifierLog(): string | undefined {
    return this.native.programLog(this.name);
  }

  /** Attaches with options for this kind (defaults from the section name where it names a target). */
  attach(...args: AttachArgs<K>): LinkOf<K> {
    void this.fd; // throws unless loaded and open
    const opts = (args[0] ?? {}) as Record<string, unknown>;
    const natives = this.attachNative(opts);
    const link = this.kind === "iter" ? new IterLink(this.name, natives, this.host.owner) : new Link(this.name, natives, this.host.owner);
    return link as LinkOf<K>;
  }

  /** Attaches as libbpf would from the SEC() name alone (what `BpfObject.attach()` uses). */
  attachAuto(): Link {
    void this.fd; // throws unless loaded and open
    const n = this.call(() => addon().attachAuto(this.native, this.name), "attach");
    return this.kind === "iter" ? new IterLink(this.name, [n], this.host.owner) : new Link(this.name, [n], this.host.owner);
  }

  private call<T>(fn: () => T, what: string): T {
    try {
      return fn();
    } catch (e) {
      throw fromNative(e, { program: this.name, context: `${what} ${this.name}` });
    }
  }

  /**
   * Options checked at the call: a number that is not an integer in its range, or a value of the
   * wrong type, throws a RangeError/TypeError naming the option (never reaches the kernel as
   * something else, e.g. offset -1 as 2^64-1).
   */
  private option<T extends "string" | "number" | "bigint">(o: Record<string, unknown>, key: string, type: T, min = 0, max = Number.MAX_SAFE_INTEGER): (T extends "string" ? string : T extends "number" ? number : bigint) | undefined {
    const x = o[key];
    if (x === undefined) return undefined;
    const where = `attach ${this.name} (${this.kind}): options.${key}`;
    if (typeof x !== type) throw new TypeError(`${where} must be a ${type}, got ${describeValue(x)}`);
    if (type === "number" && !(Number.isInteger(x) && (x as number) >= min && (x as number) <= max)) {
      throw new RangeError(`${where} must be an integer in ${min}..${max}, got ${describeValue(x)}`);
    }
    if (type === "bigint" && !((x as bigint) >= 0n && (x as bigint) < 1n << 64n)) throw new RangeError(`${where} must be a u64 bigint, got ${describeValue(x)}`);
    return x as never;
  }

  private attachNative(o: Record<string, unknown>): NativeLink[] {
    const A = addon();
    const obj = this.native;
    const name = this.name;
    if (typeof o !== "object" || o === null) throw new TypeError(`attach ${name} (${this.kind}): options must be an object, got ${describeValue(o)}`);
    const str = (k: string) => this.option(o, k, "string");
    // Ranges: pids are -1 (any) or a pid; flags and handles are u32; tc priorities u16.
    const limits: Record<string, [number, number]> = { pid: [-1, 2 ** 31 - 1], flags: [0, 2 ** 32 - 1], handle: [0, 2 ** 32 - 1], priority: [0, 65535], fd: [0, 2 ** 31 - 1] };
    const num = (k: string) => this.option(o, k, "number", ...(limits[k] ?? [0, Number.MAX_SAFE_INTEGER]));
    switch (this.kind as ProgramKind) {
      case "tracepoint": {
        const t = this.target.type === "tracepoint" ? this.target : undefined;
        const category = str("category") ?? t?.category;
        const event = str("name") ?? t?.event;
        if (!category || !event) throw this.badOptions("tracepoint needs { category, name } (the section names none)");
        return [this.call(() => A.attachTracepoint(obj, name, category, event), "attach")];
      }
      case "raw_tp": {
        const tp = str("name") ?? (this.target.type === "raw_tracepoint" ? this.target.event : undefined);
        if (!tp) throw this.badOptions("raw_tp needs { name } (the section names none)");
        return [this.call(() => A.attachRawTracepoint(obj, name, tp), "attach")];
      }
      case "tp_btf":
      case "fentry":
      case "fexit":
      case "fmod_ret":
        return [this.call(() => A.attachTrace(obj, name), `attach ${this.kind}`)];
      case "lsm":
        return [this.call(() => A.attachLsm(obj, name), "attach lsm")];
      case "kprobe":
      case "kretprobe": {
        const t = this.target;
        // ksyscall (arch-prefixed syscall names) and kprobe.multi (globs) attach the way libbpf does.
        if (str("func") === undefined && (t.type === "ksyscall" || t.type === "kprobe_multi")) return [this.call(() => A.attachAuto(obj, name), `attach ${this.kind}`)];
        const func = str("func") ?? (t.type === "kprobe" ? t.function : undefined);
        if (!func) throw this.badOptions(`${this.kind} needs { func } (the section names none)`);
        const offset = num("offset") ?? (str("func") === undefined && t.type === "kprobe" ? t.offset : 0);
        return [this.call(() => A.attachKprobe(obj, name, this.kind === "kretprobe", func, offset), `attach ${this.kind}`)];
      }
      case "uprobe":
      case "uretprobe": {
        const path = str("path");
        if (!path) throw this.badOptions(`${this.kind} needs { path } of the binary`);
        const bin = findBinary(path);
        const sym = str("symbol");
        const offset = (sym ? resolveSymbolOffset(bin, sym) : 0) + (num("offset") ?? 0);
        if (!sym && num("offset") === undefined) throw this.badOptions(`${this.kind} needs { symbol } or { offset }`);
        const cookie = this.option(o, "cookie", "bigint");
        const pid = num("pid") ?? -1;
        return [this.call(() => A.attachUprobe(obj, name, this.kind === "uretprobe", pid, bin, offset, undefined, cookie), `attach ${this.kind}`)];
      }
      case "usdt": {
        const t = this.target.type === "usdt" ? this.target : undefined;
        const path = str("path") ?? t?.binary;
        const provider = str("provider") ?? t?.provider;
        const probe = str("name") ?? t?.probe;
        if (!path || !provider || !probe) throw this.badOptions("usdt needs { path, provider, name } (the section names none)");
        const cookie = this.option(o, "cookie", "bigint");
        return [this.call(() => A.attachUsdt(obj, name, num("pid") ?? -1, findBinary(path), provider, probe, cookie), "attach usdt")];
      }
      case "perf_event":
        return this.attachPerfEvent(o as AttachOptions["perf_event"]);
      case "xdp": {
        const ifindex = ifindexOf(o, `attach ${name} (xdp)`);
        const mode = str("mode") as keyof typeof xdpModes | undefined;
        if (mode !== undefined && !(mode in xdpModes)) throw this.badOptions(`xdp mode must be skb, drv or hw, not "${mode}"`);
        const flags = (num("flags") ?? 0) | (mode ? xdpModes[mode] : 0);
        return [this.call(() => A.attachXdp(obj, name, ifindex, flags), "attach xdp")];
      }
      case "tc": {
        const ifindex = ifindexOf(o, `attach ${name} (tc)`);
        const dir = str("direction") ?? (this.target.type === "tc" ? this.target.direction : "ingress");
        if (dir !== "ingress" && dir !== "egress") throw this.badOptions(`tc direction must be ingress or egress, not "${dir}"`);
        const priority = num("priority");
        const handle = num("handle");
        return [this.call(() => A.attachTc(obj, name, ifindex, dir === "ingress", priority, handle), "attach tc")];
      }
      case "socket": {
        const fd = num("fd");
        if (fd === undefined || fd < 0) throw this.badOptions("socket needs { fd } of a socket");
        return [this.call(() => A.attachSocket(obj, name, fd), "attach socket filter")];
      }
      case "cgroup_skb":
      case "cgroup_sock":
      case "cgroup_sock_addr":
      case "cgroup_sockopt":
      case "cgroup_sysctl":
      case "cgroup_device":
      case "sock_ops":
      case "lsm_cgroup": {
        const cg = str("cgroup") ?? cgroup2Root();
        return [this.call(() => A.attachCgroup(obj, name, cg), "attach cgroup")];
      }
      case "iter":
        return [this.call(() => A.attachIter(obj, name), "attach iterator")];
      default:
        return [this.call(() => A.attachAuto(obj, name), "attach")];
    }
  }

  private attachPerfEvent(o: AttachOptions["perf_event"]): NativeLink[] {
    const A = addon();
    const raw = o as Record<string, unknown>;
    this.option(raw, "pid", "number", -1, 2 ** 31 - 1);
    this.option(raw, "period", "number", 1);
    this.option(raw, "frequency", "number", 1);
    if (o.cpus !== undefined && !(Array.isArray(o.cpus) && o.cpus.every((c) => Number.isInteger(c) && c >= 0))) {
      throw new TypeError(`attach ${this.name} (perf_event): options.cpus must be an array of CPU numbers, got ${describeValue(o.cpus)}`);
    }
    const ev = o.event ?? "cpu-clock";
    const spec = typeof ev === "string" ? perfEvents[ev] : ev;
    if (!spec) throw this.badOptions(`unknown perf event "${String(ev)}"`);
    const useFreq = o.period === undefined;
    const n = o.period ?? o.frequency ?? 99;
    const cpus = o.cpus ?? onlineCpus();
    const links: NativeLink[] = [];
    try {
      for (const cpu of cpus) {
        const pfd = this.call(() => A.perfEventOpen(spec.type, spec.config, cpu, o.pid ?? -1, n, useFreq), "open perf event for");
        links.push(this.call(() => A.attachPerfEvent(this.native, this.name, pfd), "attach perf event"));
      }
    } catch (e) {
      for (const l of links) l.close();
      throw e;
    }
    return links;
  }

  private badOptions(detail: string): BpfError {
    return new BpfError(`attach ${this.name}: ${detail}`, { errno: errno.EINVAL, code: "EINVAL", program: this.name });
  }

  /** Runs the program once (or `repeat` times) on `data`/`ctx` with BPF_PROG_TEST_RUN. */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    const fd = this.fd;
    const data = opts.data ?? null;
    const dataOut = opts.dataOutSize ?? (data ? data.length + 256 : 0);
    const ctx = opts.ctx ?? null;
    const r = addon().testRun(fd, data, dataOut, ctx, opts.ctxOutSize ?? 0, opts.repeat ?? 0, opts.flags ?? 0, opts.cpu ?? 0);
    if (r.ret !== 0) throw errnoError(`test run ${this.name}`, r.ret, { program: this.name });
    const out: TestRunResult = { retval: r.retval, duration: r.duration };
    if (r.dataOut) out.data = r.dataOut;
    if (r.ctxOut) out.ctx = r.ctxOut;
    return out;
  }
}
