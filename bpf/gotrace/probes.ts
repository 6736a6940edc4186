// Which runtime functions of a Go binary gotrace probes, by event group, and how its events read as
// JSON records: the one form the CLI prints (--json), records (--record), replays and streams to the
// live page. Uretprobes break Go (the runtime moves stacks), so returns are probed at each RET;
// entries past the stack-bound check, where a probe fires once per call (see lib/go-prologue.ts).

import { type GoBinary, goroutineStatus } from "../lib/go-binary.js";
import { GotraceEventKind, GotraceGcTrigger, type GotraceEvent, type GotraceObjects } from "./gotrace.js";

/** The event groups `--events` names, each a set of probes. */
export const eventGroups = ["newproc", "casgstatus", "mallocgc", "gc", "chan"] as const;
export type EventGroup = (typeof eventGroups)[number];

/** GC phase functions, in cycle order (Go 1.19–1.22 amd64 have them all). */
const gcFunctions = ["runtime.gcStart", "runtime.gcBgMarkStartWorkers", "runtime.gcMarkTermination", "runtime.gcSweep", "runtime.freeSomeWbufs"] as const;

/**
 * Attaches the probes of `groups` to `go`: every process running it, or only `pid` (a uprobe bound to
 * one pid needs ptrace access to it — CAP_SYS_PTRACE against a root target — so the CLI attaches to
 * all and filters with `targPid` in the kernel). Throws a
 * GoBinaryError naming the function when the binary lacks one. Returns the number of probes.
 */
export function attachGotrace(objs: GotraceObjects, go: GoBinary, groups: ReadonlySet<EventGroup>, pid?: number): number {
  const p = objs.programs;
  let n = 0;
  const at = (symbol: string, offset = go.entryOffset(symbol)) => ({ path: go.path, symbol, offset, ...(pid !== undefined && { pid }) });
  const entryAndReturns = (symbol: string, entry: typeof p.handleNewproc1, ret: typeof p.handleNewproc1) => {
    const rets = go.returnOffsets(symbol);
    entry.attach(at(symbol));
    for (const offset of rets) ret.attach(at(symbol, offset));
    n += 1 + rets.length;
  };
  if (groups.has("gc")) for (const f of gcFunctions) go.func(f); // all or none: check before attaching
  if (groups.has("newproc")) entryAndReturns("runtime.newproc1", p.handleNewproc1, p.handleNewproc1Return);
  if (groups.has("casgstatus")) (p.handleCasgstatus.attach(at("runtime.casgstatus")), n++);
  if (groups.has("mallocgc")) (p.handleMallocgc.attach(at("runtime.mallocgc")), n++);
  if (groups.has("gc")) {
    const handlers = [p.handleGcStart, p.handleGcBgMarkStartWorkers, p.handleGcMarkTermination, p.handleGcSweep, p.handleFreeSomeWbufs];
    gcFunctions.forEach((f, i) => handlers[i]!.attach(at(f)));
    n += gcFunctions.length;
  }
  if (groups.has("chan")) {
    entryAndReturns("runtime.chansend1", p.handleChansend, p.handleChansendReturn);
    entryAndReturns("runtime.chanrecv1", p.handleChanrecv, p.handleChanrecvReturn);
    entryAndReturns("runtime.chanrecv2", p.handleChanrecv, p.handleChanrecvReturn);
  }
  return n;
}

/** Event names in records, by kind. */
export const eventNames: Readonly<Record<number, string>> = {
  [GotraceEventKind.EVENT_NEWPROC]: "newproc",
  [GotraceEventKind.EVENT_CASGSTATUS]: "casgstatus",
  [GotraceEventKind.EVENT_MALLOCGC]: "mallocgc",
  [GotraceEventKind.EVENT_GC_START]: "gc-start",
  [GotraceEventKind.EVENT_GC_MARK_DONE]: "gc-mark-done",
  [GotraceEventKind.EVENT_GC_SWEEP_START]: "gc-sweep-start",
  [GotraceEventKind.EVENT_GC_SWEEP_DONE]: "gc-sweep-done",
  [GotraceEventKind.EVENT_CHAN_SEND]: "chansend",
  [GotraceEventKind.EVENT_CHAN_RECV]: "chanrecv",
};

const triggerNames: Readonly<Record<number, string>> = {
  [GotraceGcTrigger.GC_TRIGGER_HEAP]: "heap",
  [GotraceGcTrigger.GC_TRIGGER_TIME]: "time",
  [GotraceGcTrigger.GC_TRIGGER_CYCLE]: "forced",
  [GotraceGcTrigger.GC_TRIGGER_UNKNOWN]: "unknown",
};

/** One event as a JSON-ready record. Numbers are exact below 2^53; addresses are hex strings. */
export interface GoRecord {
  event: string;
  /** Kernel monotonic time (CLOCK_MONOTONIC), nanoseconds. */
  tsNs: number;
  pid: number;
  tid: number;
  goid: number;
  newGoid?: number;
  fn?: string;
  caller?: string;
  from?: string;
  to?: string;
  size?: number;
  type?: string;
  trigger?: string;
  cycle?: number;
  durationNs?: number;
  chan?: string;
}

const hex = (x: bigint) => `0x${x.toString(16)}`;

/**
 * Turns events into records, naming PCs after the binary's functions. PCs are run-time addresses:
 * each event carries the run-time address of the probed function, so the load base of a
 * position-independent binary is known even after its process has exited.
 */
export class Recorder {
  readonly #go: GoBinary;
  /** Link-time addresses of the functions each kind's probes sit on. */
  readonly #probed: Map<number, bigint[]>;

  constructor(go: GoBinary) {
    this.#go = go;
    // Where the probes sit: funcIp is the probe's address, past the function's stack-bound check.
    const addr = (f: string) => {
      const s = go.elf.symbol(f);
      return s && s.size > 0 ? s.address + BigInt(go.entryOffset(f)) : undefined;
    };
    const kinds: [number, string[]][] = [
      [GotraceEventKind.EVENT_NEWPROC, ["runtime.newproc1"]],
      [GotraceEventKind.EVENT_CASGSTATUS, ["runtime.casgstatus"]],
      [GotraceEventKind.EVENT_MALLOCGC, ["runtime.mallocgc"]],
      [GotraceEventKind.EVENT_CHAN_SEND, ["runtime.chansend1"]],
      [GotraceEventKind.EVENT_CHAN_RECV, ["runtime.chanrecv1", "runtime.chanrecv2"]],
    ];
    this.#probed = new Map(kinds.map(([k, fs]) => [k, fs.map(addr).filter((a): a is bigint => a !== undefined)]));
  }

  /** The function containing run-time address `pc` of the process `e` came from, or the address in hex. */
  symbol(e: GotraceEvent, pc: bigint): string {
    // A PIE's load bias is page aligned: of the candidate functions (chanrecv1 and chanrecv2 lie
    // within a page of each other) the one at a page-aligned distance from funcIp is the probed one.
    const link = this.#probed.get(e.kind)?.find((a) => e.funcIp >= a && (e.funcIp - a) % 4096n === 0n);
    const bias = link === undefined ? 0n : e.funcIp - link;
    return this.#go.elf.functionAt(pc - bias)?.name ?? hex(pc);
  }

  record(e: GotraceEvent): GoRecord {
    const r: GoRecord = { event: eventNames[e.kind] ?? String(e.kind), tsNs: Number(e.tsNs), pid: e.pid, tid: e.tid, goid: Number(e.goid) };
    switch (e.kind) {
      case GotraceEventKind.EVENT_NEWPROC:
        return { ...r, newGoid: Number(e.newGoid), fn: this.symbol(e, e.arg), caller: this.symbol(e, e.pc) };
      case GotraceEventKind.EVENT_CASGSTATUS:
        return { ...r, from: goroutineStatus(e.oldStatus), to: goroutineStatus(e.newStatus) };
      case GotraceEventKind.EVENT_MALLOCGC:
        return { ...r, size: Number(e.arg), type: hex(e.pc) };
      case GotraceEventKind.EVENT_GC_START:
        return { ...r, cycle: e.gcCycle, trigger: triggerNames[Number(e.arg)] ?? String(e.arg) };
      case GotraceEventKind.EVENT_GC_MARK_DONE:
      case GotraceEventKind.EVENT_GC_SWEEP_START:
      case GotraceEventKind.EVENT_GC_SWEEP_DONE:
        return { ...r, cycle: e.gcCycle, durationNs: Number(e.durationNs) };
      case GotraceEventKind.EVENT_CHAN_SEND:
      case GotraceEventKind.EVENT_CHAN_RECV:
        return { ...r, chan: hex(e.arg), caller: this.symbol(e, e.pc), durationNs: Number(e.durationNs) };
      default:
        return r;
    }
  }
}

/** A record as one text line (after TIME and PID columns). */
export function describe(r: GoRecord): string {
  const ms = (ns = 0) => `${(ns / 1e6).toFixed(3)} ms`;
  switch (r.event) {
    case "newproc":
      return `go ${r.fn} -> goroutine ${r.newGoid} (from ${r.caller})`;
    case "casgstatus":
      return `${r.from} -> ${r.to}`;
    case "mallocgc":
      return `${r.size} bytes`;
    case "gc-start":
      return `cycle ${r.cycle} (${r.trigger})`;
    case "gc-mark-done":
      return `cycle ${r.cycle}: marked in ${ms(r.durationNs)}`;
    case "gc-sweep-start":
      return `cycle ${r.cycle}: done marking after ${ms(r.durationNs)}, sweeping`;
    case "gc-sweep-done":
      return `cycle ${r.cycle}: swept in ${ms(r.durationNs)}`;
    case "chansend":
    case "chanrecv":
      return `${r.chan} in ${r.caller} (${ms(r.durationNs)})`;
    default:
      return "";
  }
}
