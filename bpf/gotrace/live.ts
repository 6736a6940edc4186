// The live view's model: gotrace records (live or replayed) in, compact frames out. A goroutine's
// state changes become closed intervals on its timeline row, allocations and channel operations
// become per-tick rates, GC phases become cycles with their durations. Frames carry only what
// changed since the last one and are capped, so a busy Go program cannot flood the page: what a
// cap cuts is counted (`dropped`), never silently lost.

import type { GoRecord } from "./probes.js";

/** The reader's own counters at one moment (cumulative), for its rates on the page. */
export interface ReaderStats {
  event: "reader";
  /** Kernel monotonic time of the sample, nanoseconds. */
  tsNs: number;
  /** Events taken from the ring buffer. */
  read: number;
  /** Events turned into records and handed to every sink (printer, file, model). */
  processed: number;
  /** Bytes written by the kernel into the ring buffer and not read yet. */
  queuedBytes: number;
  /** Events the BPF program could not deliver (ring buffer full). */
  lost: number;
  /** Probe handler runs and the nanoseconds they took, all CPUs (the programs' own measurement). */
  probeRuns: number;
  probeNs: number;
}

/** States on the timeline (goroutine_status & 0xfff); "dead" ends a row. */
const stateCodes: Readonly<Record<string, number>> = { idle: 0, runnable: 1, running: 2, syscall: 3, waiting: 4, dead: 6, copystack: 8, preempted: 9 };
const stateCode = (s: string | undefined) => stateCodes[(s ?? "").replace(/^scan\|/, "")] ?? 4;
const DEAD = 6;

interface Row {
  id: number;
  /** "pid/goid". */
  key: string;
  pid: number;
  goid: number;
  /** The function the goroutine runs and its creator (newproc). */
  fn?: string;
  parent?: number;
  created?: number;
  exited?: number;
  state: number;
  /** When it entered `state` (ms on the model's clock), or undefined before its first transition. */
  since?: number;
  lastActive: number;
}

interface GcCycle {
  pid: number;
  cycle: number;
  trigger?: string;
  start?: number;
  markDone?: number;
  sweepStart?: number;
  sweepDone?: number;
  markMs?: number;
  cycleMs?: number;
  sweepMs?: number;
}

/** One state interval of one row: [row id, state code, start ms, end ms]. */
export type Segment = [number, number, number, number];
/** One channel operation on a row: [row id, 0 send | 1 receive, start ms, duration ms]. */
export type ChanMark = [number, number, number, number];

export interface Rates {
  /** Per second, over the last tick (allocations scaled up by the mallocgc sampling). */
  allocs: number;
  allocBytes: number;
  chanOps: number;
  events: number;
  gcCycles: number;
}

export interface ReaderRates {
  readPerSec: number;
  processedPerSec: number;
  queuedBytes: number;
  /** Ring-buffer records pending (80-byte events plus the 8-byte record header). */
  queuedEvents: number;
  lost: number;
  /** Mean handler run time, and the share of one CPU the handlers used over the tick. */
  probeNsPerRun: number;
  probeCpuPercent: number;
  probeRunsPerSec: number;
}

export interface Totals {
  events: number;
  created: number;
  exited: number;
  live: number;
  gcCycles: number;
  allocs: number;
  allocBytes: number;
  chanOps: number;
}

export interface Frame {
  type: "frame";
  /** Model clock, ms since the first event (or the start of tracing). */
  now: number;
  rows: Row[];
  segments: Segment[];
  chan: ChanMark[];
  gc: GcCycle[];
  rates: Rates;
  reader?: ReaderRates;
  totals: Totals;
  /** Items the caps left out of this frame: rows, segments, channel marks. */
  dropped: { rows: number; segments: number; chan: number };
}

export interface Snapshot extends Omit<Frame, "type" | "rates" | "reader" | "dropped"> {
  type: "snapshot";
  history: { now: number; rates: Rates; reader?: ReaderRates }[];
}

export interface LiveOptions {
  /** mallocgc sampling (report one in N): allocation counts are scaled by it. */
  mallocSampling?: number;
  /** Caps per frame. */
  maxRowsPerFrame?: number;
  maxSegmentsPerFrame?: number;
  maxChanPerFrame?: number;
  /** Rows kept (the most recently active) and the history a new page gets, in ms. */
  maxRows?: number;
  windowMs?: number;
}

const RECORD_BYTES = 88;

export class LiveModel {
  readonly #opts: Required<LiveOptions>;
  /** Kernel time (ns) of model time 0. */
  #baseNs: number | undefined;
  #rows = new Map<string, Row>();
  /** Goroutines seen alive and not seen to exit (kept when their rows are trimmed away). */
  #live = new Set<string>();
  #nextRow = 1;
  #changed = new Set<Row>();
  #segments: Segment[] = [];
  #chan: ChanMark[] = [];
  #recentSegments: Segment[] = [];
  #cycles = new Map<string, GcCycle>();
  #changedCycles = new Set<GcCycle>();
  #dropped = { rows: 0, segments: 0, chan: 0 };
  #totals: Totals = { events: 0, created: 0, exited: 0, live: 0, gcCycles: 0, allocs: 0, allocBytes: 0, chanOps: 0 };
  #tick = { allocs: 0, allocBytes: 0, chanOps: 0, events: 0, gcCycles: 0 };
  #lastFrameMs: number | undefined;
  #reader: ReaderStats | undefined;
  #lastReader: ReaderStats | undefined;
  #history: Snapshot["history"] = [];

  constructor(opts: LiveOptions = {}) {
    this.#opts = { mallocSampling: 1, maxRowsPerFrame: 300, maxSegmentsPerFrame: 4000, maxChanPerFrame: 1000, maxRows: 400, windowMs: 15_000, ...opts };
  }

  /** Sets model time 0 (kernel monotonic ns); otherwise the first record's time is. */
  start(baseNs: number): void {
    this.#baseNs ??= baseNs;
  }

  /** Model time (ms, to the microsecond: shorter frames) of a kernel time (ns). */
  ms(tsNs: number): number {
    this.#baseNs ??= tsNs;
    return Math.round((tsNs - this.#baseNs) / 1e3) / 1e3;
  }

  get totals(): Readonly<Totals> {
    return this.#totals;
  }

  #row(pid: number, goid: number, t: number): Row {
    const key = `${pid}/${goid}`;
    let row = this.#rows.get(key);
    if (!row) {
      row = { id: this.#nextRow++, key, pid, goid, state: DEAD, lastActive: t };
      this.#rows.set(key, row);
    }
    row.lastActive = t;
    this.#changed.add(row);
    return row;
  }

  #segment(s: Segment): void {
    if (s[3] < s[2]) return;
    this.#recentSegments.push(s);
    if (this.#segments.length < this.#opts.maxSegmentsPerFrame) this.#segments.push(s);
    else this.#dropped.segments++;
  }

  #cycle(r: GoRecord): GcCycle {
    const key = `${r.pid}/${r.cycle}`;
    let c = this.#cycles.get(key);
    if (!c) {
      c = { pid: r.pid, cycle: r.cycle ?? 0 };
      this.#cycles.set(key, c);
    }
    this.#changedCycles.add(c);
    return c;
  }

  add(r: GoRecord | ReaderStats): void {
    if (r.event === "reader") {
      this.#reader = r as ReaderStats;
      return;
    }
    const rec = r as GoRecord;
    const t = this.ms(rec.tsNs);
    if (rec.event !== "exit") {
      this.#totals.events++;
      this.#tick.events++;
    }
    switch (rec.event) {
      case "newproc": {
        const row = this.#row(rec.pid, rec.newGoid ?? 0, t);
        row.fn = rec.fn;
        row.parent = rec.goid;
        row.created = t;
        this.#totals.created++;
        if (row.since === undefined) {
          row.state = stateCode("runnable");
          row.since = t;
          this.#live.add(row.key);
        }
        break;
      }
      case "casgstatus": {
        const from = stateCode(rec.from);
        const to = stateCode(rec.to);
        // newproc1 makes a g runnable before it gives it its id: a transition out of dead carries
        // the id of the g's previous goroutine (or 0). The newproc event, sent later, has the new one.
        if (from === DEAD || rec.goid === 0) break;
        const row = this.#row(rec.pid, rec.goid, t);
        if (row.since !== undefined && row.state !== DEAD) this.#segment([row.id, row.state, row.since, t]);
        else this.#segment([row.id, from, Math.max(t - 1, 0), t]); // first sight: a sliver of the state left
        if (to === DEAD) {
          this.#live.delete(row.key);
          row.exited = t;
          this.#totals.exited++;
        } else this.#live.add(row.key);
        row.state = to;
        row.since = t;
        break;
      }
      case "mallocgc": {
        const n = this.#opts.mallocSampling;
        this.#tick.allocs += n;
        this.#tick.allocBytes += (rec.size ?? 0) * n;
        this.#totals.allocs += n;
        this.#totals.allocBytes += (rec.size ?? 0) * n;
        break;
      }
      case "gc-start": {
        const c = this.#cycle(rec);
        c.trigger = rec.trigger;
        c.start = t;
        this.#tick.gcCycles++;
        this.#totals.gcCycles++;
        break;
      }
      case "gc-mark-done":
        Object.assign(this.#cycle(rec), { markDone: t, markMs: (rec.durationNs ?? 0) / 1e6 });
        break;
      case "gc-sweep-start":
        Object.assign(this.#cycle(rec), { sweepStart: t, cycleMs: (rec.durationNs ?? 0) / 1e6 });
        break;
      case "gc-sweep-done":
        Object.assign(this.#cycle(rec), { sweepDone: t, sweepMs: (rec.durationNs ?? 0) / 1e6 });
        break;
      case "exit": // the process is gone: its goroutines with it
        for (const row of this.#rows.values()) {
          if (row.pid !== rec.pid || row.state === DEAD) continue;
          if (row.since !== undefined) this.#segment([row.id, row.state, row.since, t]);
          row.state = DEAD;
          row.since = t;
          row.exited = t;
          row.lastActive = t;
          this.#changed.add(row);
        }
        for (const k of this.#live) if (k.startsWith(`${rec.pid}/`)) (this.#live.delete(k), this.#totals.exited++);
        break;
      case "chansend":
      case "chanrecv": {
        this.#tick.chanOps++;
        this.#totals.chanOps++;
        const row = this.#row(rec.pid, rec.goid, t);
        if (this.#chan.length < this.#opts.maxChanPerFrame) this.#chan.push([row.id, rec.event === "chansend" ? 0 : 1, t, Math.round((rec.durationNs ?? 0) / 1e3) / 1e3]);
        else this.#dropped.chan++;
        break;
      }
    }
  }

  #readerRates(): ReaderRates | undefined {
    const r = this.#reader;
    if (!r) return undefined;
    const p = this.#lastReader;
    this.#lastReader = r;
    const dt = p && r.tsNs > p.tsNs ? (r.tsNs - p.tsNs) / 1e9 : 0;
    const rate = (a: number, b: number) => (dt > 0 ? (a - b) / dt : 0);
    const runs = p ? r.probeRuns - p.probeRuns : r.probeRuns;
    const ns = p ? r.probeNs - p.probeNs : r.probeNs;
    return {
      readPerSec: p ? rate(r.read, p.read) : 0,
      processedPerSec: p ? rate(r.processed, p.processed) : 0,
      queuedBytes: r.queuedBytes,
      queuedEvents: Math.round(r.queuedBytes / RECORD_BYTES),
      lost: r.lost,
      probeNsPerRun: runs > 0 ? ns / runs : 0,
      probeCpuPercent: dt > 0 ? (100 * ns) / (dt * 1e9) : 0,
      probeRunsPerSec: p ? rate(r.probeRuns, p.probeRuns) : 0,
    };
  }

  /** What changed since the last frame, at model time `now` (ms); resets the per-frame state. */
  frame(now: number): Frame {
    const dt = this.#lastFrameMs === undefined ? 0 : (now - this.#lastFrameMs) / 1000;
    this.#lastFrameMs = now;
    const per = (x: number) => (dt > 0 ? x / dt : 0);
    const rates: Rates = { allocs: per(this.#tick.allocs), allocBytes: per(this.#tick.allocBytes), chanOps: per(this.#tick.chanOps), events: per(this.#tick.events), gcCycles: per(this.#tick.gcCycles) };
    this.#tick = { allocs: 0, allocBytes: 0, chanOps: 0, events: 0, gcCycles: 0 };
    const changed = [...this.#changed];
    const rows = changed.slice(-this.#opts.maxRowsPerFrame).map((r) => ({ ...r }));
    this.#dropped.rows += changed.length - rows.length;
    const reader = this.#readerRates();
    const f: Frame = {
      type: "frame",
      now,
      rows,
      segments: this.#segments,
      chan: this.#chan,
      gc: [...this.#changedCycles].map((c) => ({ ...c })),
      rates,
      ...(reader && { reader }),
      totals: { ...this.#totals, live: this.#live.size },
      dropped: this.#dropped,
    };
    this.#changed.clear();
    this.#changedCycles.clear();
    this.#segments = [];
    this.#chan = [];
    this.#dropped = { rows: 0, segments: 0, chan: 0 };
    this.#history.push({ now, rates, ...(reader && { reader }) });
    if (this.#history.length > 240) this.#history.splice(0, this.#history.length - 240);
    this.#trim(now);
    return f;
  }

  /** Forgets rows and segments older than the window, keeping at most maxRows rows. */
  #trim(now: number): void {
    const horizon = now - this.#opts.windowMs;
    this.#recentSegments = this.#recentSegments.filter((s) => s[3] >= horizon).slice(-20 * this.#opts.maxSegmentsPerFrame);
    for (const [k, r] of this.#rows) if (r.state === DEAD && r.lastActive < horizon) this.#rows.delete(k);
    if (this.#rows.size > this.#opts.maxRows) {
      const byAge = [...this.#rows.entries()].sort((a, b) => a[1].lastActive - b[1].lastActive);
      for (const [k] of byAge.slice(0, this.#rows.size - this.#opts.maxRows)) this.#rows.delete(k);
    }
    for (const [k, c] of this.#cycles) if ((c.sweepDone ?? c.sweepStart ?? c.start ?? now) < now - 4 * this.#opts.windowMs) this.#cycles.delete(k);
  }

  /** Everything a page that connects now needs: rows, the window's segments, recent cycles, history. */
  snapshot(now: number): Snapshot {
    const rows = [...this.#rows.values()].sort((a, b) => a.lastActive - b.lastActive).slice(-this.#opts.maxRows).map((r) => ({ ...r }));
    const ids = new Set(rows.map((r) => r.id));
    return {
      type: "snapshot",
      now,
      rows,
      segments: this.#recentSegments.filter((s) => ids.has(s[0])),
      chan: [],
      gc: [...this.#cycles.values()].map((c) => ({ ...c })),
      totals: { ...this.#totals, live: this.#live.size },
      history: this.#history,
    };
  }
}
