// Ring buffer reader (BPF_MAP_TYPE_RINGBUF, Linux 5.8+), reading the ring straight from its mapped
// pages as cilium/ebpf's reader does. The native side (src/ringbuf.cc) only maps the pages and
// watches the fd; the records are walked here, decoded in place, and released by storing
// consumer_pos.
//
// Ring layout (kernel/bpf/ringbuf.c): a consumer page (consumer_pos, u64, written by us), a producer
// page (producer_pos, u64, written by the kernel) and the data pages, mapped twice back to back so
// that a record near the end continues contiguously. Each record: an 8-byte header { u32 len; u32
// pg_off } — len has BUSY (bit 31: reserved, not committed yet) and DISCARD (bit 30) — then len bytes
// of data; records start 8-byte aligned.
//
// Memory ordering: producer_pos and each header are read with Atomics.load (acquire on every
// platform V8 supports; plain loads for headers on x86, see ACQUIRE_HEADERS) before the bytes they
// guard; consumer_pos is published with Atomics.store after the records before it were decoded (or,
// for raw views, after their callbacks returned).
//
// consumer_pos is published every PUBLISH_BYTES of records and whenever a drain stops (caught up,
// batch full or closed). The kernel's adaptive wakeup fires only when a commit finds the consumer
// caught up (consumer_pos == the record's position), so a consumer that has caught up must show it
// at once, which the store at the end of each drain does. Publishing after every record, as libbpf
// and cilium/ebpf do, frees space sooner but costs a cache-line transfer per record, because the
// producer reads consumer_pos on every reservation: measured, it cut the reader's rate in the
// benchmark's block mode from 9.0 to 3.9 M events/s. It is stored as two 32-bit halves, low first,
// so a store costs no BigInt; see #publish.
//
// There is no kernel-side loss count for ring buffers: a full ring makes bpf_ringbuf_reserve/output
// fail in the BPF program, which must count its own drops (e.g. in a global variable).

import { addon } from "./addon.js";
import { type Codec, LE } from "./codec.js";
import type { NativeRingBufHandle } from "./events-addon.js";
import { type CallbackOptions, clockStride, type EventCallback, EventReader, now, type PacingOptions, type Sink } from "./event-reader.js";
import type { MapHandle } from "./handles.js";

// Header bits: BUSY is bit 31 (tested as `header < 0` on the Int32Array), DISCARD bit 30.
const DISCARD_BIT = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HEADER_SIZE = 8;
/** Bytes of records released at a time while draining (at most a quarter of the ring). */
const PUBLISH_BYTES = 4096;
/**
 * Most events one #walk call hands over. Walking a turn's records in short calls lets V8 use the
 * walk's regular TurboFan code from its next call, instead of also compiling it on the stack
 * mid-loop (OSR) for one long call: fewer compiles of the walk with its decoder and callback
 * inlined, each 10–50 ms on a busy 2-core host, sharing the reader's core while it runs
 * unoptimised (measured on pre-filled drains: +2–4 % on a quiet host, +6–14 % on a busy one). Longer chunks let ticks inside the loop ask
 * for OSR again; the clock is read between chunks anyway (see clockStride).
 */
const CHUNK = 64;

/**
 * Whether record headers need Atomics.load (an acquire, but a builtin call per record in V8). x86 is
 * TSO: a plain load is not reordered with later loads, so the payload is never read ahead of the
 * header that says it is committed. Elsewhere (arm64, …) the acquire is required.
 */
const ACQUIRE_HEADERS = process.arch !== "x64" && process.arch !== "ia32";

export interface RingBufOptions extends PacingOptions {
  /**
   * Events without a codec are raw bytes. `"copy"` (default): a fresh Uint8Array per event, safe to
   * keep. `"view"`: a Uint8Array over the ring's own memory — no copy, but only valid until the
   * `onEvent` callback returns (the kernel reuses the space afterwards, and `close()` detaches it),
   * and read-only: the kernel maps ring data read-only, so writing into a view faults the process.
   * Queued and batched events (read(), events(), onBatch, consume()) are always copies.
   */
  raw?: "copy" | "view";
  /**
   * With a `Struct` codec: hand `onEvent` callbacks lazy views (`codec.view`) over the ring memory
   * instead of decoded objects — valid only until the callback returns, and read-only (do not use
   * their setters), like raw views.
   */
  lazy?: boolean;
}

/**
 * A record in place: its bytes are `data[offset, offset + length)`, in the ring's own memory. Valid
 * (and read-only) only while the callback runs.
 */
export type RecordCallback = (data: DataView, offset: number, length: number) => void;

const ignore = (): void => undefined;

/** `view` of a `Struct`, present when the codec is one. */
type MaybeStruct<E> = Codec<E> & { view?: (v: DataView, o?: number, length?: number) => E };

/**
 * Reads a ring buffer map's events: `onEvent(cb)` / `onBatch(cb)` from the event loop, or
 * `read()` / `for await (const e of rb.events())`, or `consume()` synchronously.
 *
 * ```ts
 * const obj = await loadExec();
 * await obj.attach();
 * for await (const e of obj.maps.events.events({ signal })) console.log(e.pid, e.comm);
 * ```
 *
 * - Events are decoded with the codec straight from the ring's memory; decoded objects are plain
 *   copies. Records of any length decode (a short one partially, see `Codec.decode`); callbacks get
 *   `(event, length)`, and `recordsOf(codec)` keeps length and tail for every way of reading. Raw views (`raw: "view"`) and lazy views (`lazy: true`) point into the ring and are only
 *   valid until the `onEvent` callback returns; after `close()` they read as empty.
 * - Each wakeup hands over what is available for up to `turnBudget` ms (5) and `maxBatch` events,
 *   then the event loop gets a turn (timers, I/O, AbortSignals) and reading continues; the ring
 *   space of handled records goes back to the kernel every 4 KiB and when the batch ends.
 * - Losses: ring buffers have no kernel-side loss counter. When the ring is full,
 *   `bpf_ringbuf_reserve`/`bpf_ringbuf_output` fail in the BPF program, which must count its own
 *   drops (a global variable is the usual way). `discarded` counts records the program discarded.
 * - One open reader per map: the object's `maps.<name>` is one; close it before making another
 *   (e.g. with other options).
 * - Pulling readers (`read`, `events`) stop polling while nobody waits, so a slow reader leaves
 *   events in the ring (the kernel's backpressure) rather than in memory.
 */
export class RingBuf<E = Uint8Array> extends EventReader<E, [length: number]> {
  /** Data bytes of the ring (the map's max_entries). */
  readonly size: number;
  #native: NativeRingBufHandle;
  #open = true;
  #consumerPos: BigUint64Array;
  /** consumer_pos as two u32 halves, and the index of the low one (host byte order). */
  #consumerHalves: Uint32Array;
  #lowHalf: number;
  #producerPos: BigUint64Array;
  #headers: Int32Array;
  #data: DataView;
  #buffer: ArrayBuffer;
  #dataStart: number;
  #mask: number;
  /** Our position (bytes since the ring was created; exact as a double up to 2^53). */
  #pos: number;
  /** The position consumer_pos was last set to (during a drain; equal to #pos between drains). */
  #published = 0;
  /** producer_pos as the walk last read it. */
  #producerSeen = 0;
  #codec: MaybeStruct<E> | undefined;
  #raw: "copy" | "view";
  #lazy: boolean;
  #discarded = 0;
  #onRecord: RecordCallback | undefined;

  constructor(map: MapHandle, codec?: Codec<E>, options: RingBufOptions = {}) {
    super(map, options);
    if (map.type !== "ringbuf") {
      throw this.error("EINVAL", `map type is ${map.type}, not ringbuf`);
    }
    if (map.object.closed) throw this.error("EBADF", "its object is closed");
    this.claimMap();
    let native: NativeRingBufHandle;
    try {
      native = new (addon().RingBufHandle)(map.fd);
    } catch (e) {
      this.releaseMap();
      const err = e as { code?: string; errno?: number; message?: string };
      throw this.error(err.code ?? "EINVAL", `open: ${err.message ?? String(e)}`, { cause: e, errno: err.errno });
    }
    this.#native = native;
    this.size = native.size;
    const consumer = native.consumer!;
    const producer = native.producer!;
    this.#buffer = producer;
    this.#dataStart = native.pageSize;
    this.#consumerPos = new BigUint64Array(consumer, 0, 1);
    this.#producerPos = new BigUint64Array(producer, 0, 1);
    this.#consumerHalves = new Uint32Array(consumer, 0, 2);
    this.#lowHalf = LE ? 0 : 1;
    // Over both copies of the data, so records crossing the end read on contiguously.
    this.#headers = new Int32Array(producer, native.pageSize, (2 * this.size) / 4);
    this.#data = new DataView(producer, native.pageSize, 2 * this.size);
    this.#mask = this.size - 1;
    this.#pos = Number(Atomics.load(this.#consumerPos, 0));
    this.#codec = codec as MaybeStruct<E> | undefined;
    this.#raw = options.raw ?? "copy";
    this.#lazy = options.lazy === true && typeof this.#codec?.view === "function";
    map.object.own(this);
  }

  protected get kind(): string {
    return "ringbuf events";
  }

  /** Records the BPF program reserved and then discarded (bpf_ringbuf_discard); skipped, not delivered. */
  get discarded(): number {
    return this.#discarded;
  }

  /** Bytes written by the kernel and not yet read (0 once closed). */
  get pending(): number {
    if (!this.#open) return 0;
    return Number(Atomics.load(this.#producerPos, 0)) - this.#pos;
  }

  /**
   * The fastest way to read: `cb(data, offset, length)` per record, no decoding and no allocation.
   * Read just the fields you need with the codec's field offsets, e.g.
   * `data.getUint32(offset + Event.fields.pid.offset, LE)`. The memory is the ring's: valid only
   * during the callback, and read-only. Otherwise like `onEvent` (replaces it; `stop()` ends it).
   */
  onRecord(cb: RecordCallback, options?: CallbackOptions): this {
    this.checkCallback("onRecord", cb, options);
    super.onEvent(ignore, options);
    this.#onRecord = cb;
    return this;
  }

  override onEvent(cb: EventCallback<E, [length: number]>, options?: CallbackOptions): this {
    this.#onRecord = undefined;
    return super.onEvent(cb, options);
  }

  override onBatch(cb: (events: E[]) => void, options?: CallbackOptions): this {
    this.#onRecord = undefined;
    return super.onBatch(cb, options);
  }

  override stop(): void {
    this.#onRecord = undefined;
    super.stop();
  }

  protected startPoll(onReadable: (errno?: number) => void): void {
    this.#native.start(onReadable);
  }

  protected stopPoll(): void {
    this.#native.stop();
  }

  protected closeNative(): void {
    // Release what was handed over, also when a callback closes mid-drain: the next reader of the
    // map starts where this one stopped, not at its last 4 KiB step (which would repeat records).
    if (this.#open) this.#publish(this.#pos);
    this.#open = false;
    this.#native.close();
  }

  protected drain(sink: Sink<E>, max: number, copy: boolean, deadline: number): number {
    this.caughtUp = true;
    if (!this.#open) return 0;
    // Kept in a local and stored once, in `finally`: a store to `this` on a path that first runs
    // after the JIT optimised the loop (a batch that fills `max`) throws the optimised code away
    // ("insufficient type feedback", seen with --trace-deopt when a pre-filled ring first fills a
    // batch), and the drain runs unoptimised until the recompile (50–100 ms on a busy 2-core host).
    let caughtUp = true;
    let n = 0;
    const start = deadline < Infinity ? now() : 0;
    let clockAt = deadline < Infinity ? 1 : Infinity; // the next clock read, in events handed over
    this.#published = this.#pos;
    try {
      for (;;) {
        if (n >= max) {
          caughtUp = false;
          break;
        }
        if (n >= clockAt) {
          const t = now();
          if (t >= deadline) {
            caughtUp = false;
            break;
          }
          clockAt = n + clockStride(n, t - start, deadline - t);
        }
        const limit = Math.min(max, clockAt, n + CHUNK);
        const handed = this.#walk(sink, n, limit, copy);
        if (!this.#open) return handed; // closed by a callback: released, and the pages are gone
        const short = handed < limit; // caught up (or at a record not yet committed)
        n = handed;
        if (short) break;
      }
    } finally {
      this.caughtUp = caughtUp;
      // Also releases a record whose decoding or callback threw (it counts as consumed).
      if (this.#open && this.#pos !== this.#published) this.#publish(this.#pos);
    }
    return n;
  }

  /**
   * Hands records over from #pos until `limit` events in all (`n` so far), the end of what the
   * kernel committed, or a callback's close(); returns the new count. Called per chunk of at most
   * CHUNK events (see there).
   */
  #walk(sink: Sink<E>, n: number, limit: number, copy: boolean): number {
    const headers = this.#headers;
    const data = this.#data;
    const mask = this.#mask;
    const codec = this.#codec;
    const lazy = this.#lazy && !copy;
    const rawView = this.#raw === "view" && !copy;
    const onRecord = copy ? undefined : this.#onRecord;
    const halves = this.#consumerHalves;
    const low = this.#lowHalf;
    const publishEvery = Math.min(PUBLISH_BYTES, this.size >>> 2);
    let pos = this.#pos;
    let published = this.#published;
    // consumer_pos's high half is that of `published` (each store below keeps it so); below this
    // limit it stays the same (it changes every 4 GiB), so storing the low half is enough.
    const highLimit = (Math.floor(published / 2 ** 32) + 1) * 2 ** 32;
    let off = pos % this.size;
    // producer_pos as last read: read again only once caught up with it (with a producer running,
    // each read is a cache-line transfer from its core).
    let prod = this.#producerSeen;
    while (n < limit) {
      if (pos >= prod) {
        prod = Number(Atomics.load(this.#producerPos, 0));
        if (pos >= prod) break;
      }
      const header = ACQUIRE_HEADERS ? Atomics.load(headers, off >>> 2) : headers[off >>> 2]!;
      if (header < 0) break; // BUSY: reserved but not yet committed; its commit wakes us again
      const len = header & LEN_MASK;
      const step = (len + HEADER_SIZE + 7) & ~7;
      const at = off + HEADER_SIZE;
      pos += step;
      off = (off + step) & mask;
      if ((header & DISCARD_BIT) !== 0) {
        this.#discarded++;
      } else if (onRecord !== undefined) {
        n++;
        this.delivered++;
        this.#pos = pos; // handed over: a close() from the callback releases it
        onRecord(data, at, len);
        if (!this.#open) return n;
      } else {
        // Any length decodes (short records partially, see Codec.decode): never rejected.
        let event: E;
        if (codec === undefined) {
          event = (rawView ? new Uint8Array(this.#buffer, this.#dataStart + at, len) : this.#copy(at, len)) as E;
        } else if (lazy) {
          event = codec.view!(data, at, len);
        } else {
          event = codec.decode(data, at, len);
        }
        n++;
        this.delivered++;
        this.#pos = pos; // handed over: a close() from the callback releases it
        sink(event, len);
        if (!this.#open) return n; // closed by the callback: the pages are gone
      }
      if (pos - published >= publishEvery) {
        if (pos < highLimit) Atomics.store(halves, low, pos >>> 0);
        else this.#publish(pos);
        published = pos;
      }
    }
    this.#pos = pos;
    this.#published = published;
    this.#producerSeen = prod;
    return n;
  }

  /**
   * Stores consumer_pos in full (after each drain, and when its high half changes): the low half
   * first, so that a kernel reading between the two stores sees a position behind ours (less free
   * space for a moment), never ahead of it (which would let the producer overwrite a record not yet
   * read).
   */
  #publish(pos: number): void {
    Atomics.store(this.#consumerHalves, this.#lowHalf, pos >>> 0);
    Atomics.store(this.#consumerHalves, 1 - this.#lowHalf, Math.floor(pos / 2 ** 32));
  }

  #copy(at: number, len: number): Uint8Array {
    const start = this.#dataStart + at;
    return new Uint8Array(this.#buffer.slice(start, start + len));
  }
}
