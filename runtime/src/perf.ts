// Perf buffer reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY + bpf_perf_event_output): one perf ring per
// CPU, read by libbpf's perf_buffer in the native half (src/perfbuf.cc). Each wakeup drains every
// CPU's ring into one batch buffer that crosses to JS in a single call; lost-sample records are
// counted (total and per CPU) and reported through `onLost`, never skipped silently.
//
// Use it for kernels before 5.8 or programs that already use bpf_perf_event_output; otherwise a
// ring buffer (RingBuf) is cheaper: one shared ring, no per-CPU copies, ordered across CPUs.

import { addon } from "./addon.js";
import { type Codec, describeValue } from "./codec.js";
import type { NativePerfBatch, NativePerfBufHandle } from "./events-addon.js";
import { clockStride, EventReader, now, type PacingOptions, type Sink } from "./event-reader.js";
import type { MapHandle } from "./handles.js";
import { LE } from "./codec.js";

export interface PerfEventArrayOptions extends PacingOptions {
  /** Pages of each CPU's perf ring, a power of two. Default 64 (256 KiB with 4 KiB pages). */
  pagesPerCpu?: number;
  /**
   * Events without a codec are raw bytes: a Uint8Array view into the wakeup's batch buffer (a copy
   * of the kernel's data, so it stays valid as long as you keep it).
   */
  raw?: "view";
}

/** Called for each PERF_RECORD_LOST: `count` samples of `cpu` were overwritten before being read. */
export type LostCallback = (cpu: number, count: number) => void;

/**
 * Reads a perf event array's samples: `onEvent((event, cpu, length) => …)`, `onBatch`, `read()`,
 * `events()` or `consume()`, plus `lost` / `lostByCpu` / `onLost()` for samples the kernel dropped.
 *
 * Samples of any length decode (a short one partially, see `Codec.decode`). Their length is what the
 * program submitted padded with zero bytes so that the sample and its 4-byte size header end
 * 8-aligned (the kernel's layout); `recordsOf(codec)` keeps length and tail for every way of reading.
 *
 * Samples of one CPU arrive in order; across CPUs the order is per wakeup (CPU by CPU). The kernel
 * reports losses when it next has room in that CPU's buffer, so `lost` can lag until the next
 * sample. Events (raw views included) are copies owned by JS, safe to keep. One open reader per map.
 */
export class PerfEventArray<E = Uint8Array> extends EventReader<E, [cpu: number, length: number]> {
  #native: NativePerfBufHandle;
  #codec: Codec<E> | undefined;
  #lost = 0;
  #lostByCpu = new Map<number, number>();
  #onLost: LostCallback | undefined;
  /** The rest of a batch not handed over yet (when a drain asked for fewer than it held). */
  #batch: DataView | undefined;
  #batchOff = 0;
  #batchLeft = 0;

  constructor(map: MapHandle, codec?: Codec<E>, options: PerfEventArrayOptions = {}) {
    super(map, options);
    if (map.type !== "perf_event_array") {
      throw this.error("EINVAL", `map type is ${map.type}, not perf_event_array`);
    }
    if (map.object.closed) throw this.error("EBADF", "its object is closed");
    const pages = options.pagesPerCpu ?? 64;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new RangeError(`perf events ${map.name}: pagesPerCpu must be a power of two, got ${pages}`);
    }
    this.claimMap();
    try {
      this.#native = new (addon().PerfBufHandle)(map.fd, pages);
    } catch (e) {
      this.releaseMap();
      const err = e as { code?: string; errno?: number; message?: string };
      throw this.error(err.code ?? "EINVAL", `open: ${err.message ?? String(e)}`, { cause: e, errno: err.errno });
    }
    this.#codec = codec;
    map.object.own(this);
  }

  protected get kind(): string {
    return "perf events";
  }

  /** Samples lost so far, over all CPUs (from the kernel's PERF_RECORD_LOST records). */
  get lost(): number {
    return this.#lost;
  }

  /** Samples lost per CPU. */
  get lostByCpu(): ReadonlyMap<number, number> {
    return this.#lostByCpu;
  }

  /** Per-CPU perf rings opened. */
  get bufferCount(): number {
    return this.#native.bufferCount;
  }

  /** Calls `cb(cpu, count)` for every lost-samples record, as it is read. */
  onLost(cb: LostCallback | undefined): this {
    if (cb !== undefined && typeof cb !== "function") throw new TypeError(`${this.kind} ${this.map.name}: onLost(callback): the callback must be a function or undefined, got ${describeValue(cb)}`);
    this.#onLost = cb;
    return this;
  }

  protected override get drainsAfterStart(): boolean {
    return true;
  }

  protected startPoll(onReadable: (errno?: number) => void): void {
    this.#native.start(onReadable);
  }

  protected stopPoll(): void {
    this.#native.stop();
  }

  protected closeNative(): void {
    this.#batch = undefined;
    this.#native.close();
  }

  protected drain(sink: Sink<E>, max: number, _copy: boolean, deadline: number): number {
    let n = 0;
    this.caughtUp = false;
    while (n < max && !this.closed) {
      if (this.#batchLeft === 0) {
        const next = this.#native.closed ? undefined : this.#native.consume();
        if (!next) {
          this.caughtUp = true;
          break;
        }
        this.#accept(next);
        continue;
      }
      const handed = this.#deliver(sink, max - n, deadline);
      n += handed;
      if (this.#batchLeft > 0 && n < max) break; // stopped on the deadline
    }
    return n;
  }

  #accept(b: NativePerfBatch): void {
    this.#batch = new DataView(b.batch);
    this.#batchOff = 0;
    this.#batchLeft = b.count;
    const lost = b.lost;
    for (let i = 0; i + 1 < lost.length; i += 2) {
      const cpu = lost[i]!;
      const count = lost[i + 1]!;
      this.#lost += count;
      this.#lostByCpu.set(cpu, (this.#lostByCpu.get(cpu) ?? 0) + count);
      this.#onLost?.(cpu, count);
    }
  }

  #deliver(sink: Sink<E>, max: number, deadline: number): number {
    const view = this.#batch!;
    const codec = this.#codec;
    let off = this.#batchOff;
    let left = this.#batchLeft;
    let n = 0;
    try {
      const start = deadline < Infinity ? now() : 0;
      let clockAt = deadline < Infinity ? 1 : Infinity; // the next clock read, in samples handed over
      while (n < max && left > 0) {
        if (n >= clockAt) {
          const t = now();
          if (t >= deadline) break;
          clockAt = n + clockStride(n, t - start, deadline - t);
        }
        const cpu = view.getUint32(off, LE);
        const size = view.getUint32(off + 4, LE);
        const at = off + 8;
        off = at + ((size + 7) & ~7);
        left--;
        // Any length decodes (short samples partially, see Codec.decode): never rejected.
        const event = codec ? codec.decode(view, at, size) : (new Uint8Array(view.buffer, at, size) as E);
        n++;
        this.delivered++;
        sink(event, cpu, size);
        if (this.closed) break;
      }
    } finally {
      this.#batchOff = off;
      this.#batchLeft = left;
      if (left === 0) this.#batch = undefined;
    }
    return n;
  }
}
