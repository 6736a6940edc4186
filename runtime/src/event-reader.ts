// What the ring buffer and perf buffer readers share: the two ways to receive events (callbacks
// pushed from the event loop, or reads/iterators pulling), the queue between the ring and pulling
// readers, AbortSignal handling and close semantics. Subclasses only know how to drain their ring.

import { type Codec, codecs, describeValue as describe } from "./codec.js";
import type { Closeable, MapHandle } from "./handles.js";
import { BpfError, errno } from "./errors.js";

/**
 * Errors of the event readers; `code` says which one: `EBADF` (reader closed), `EBUSY` (already
 * reading in another mode), or an errno name from the kernel. `map` is the map's name.
 */
export class EventReaderError extends BpfError {
  override readonly name: string = "EventReaderError";
  declare readonly map: string;
  constructor(map: string, code: string, message: string, options?: { cause?: unknown; errno?: number }) {
    const n = options?.errno ?? (errno as Record<string, number>)[code] ?? 0;
    super(message, { map, code, errno: n, ...(options?.cause !== undefined && { cause: options.cause }) });
  }
}

export interface ReadOptions {
  /** Aborting rejects a pending `read()` with `signal.reason`, and ends an `events()` loop cleanly. */
  signal?: AbortSignal;
}

export interface CallbackOptions {
  /** Aborting stops the callbacks (as `stop()`). */
  signal?: AbortSignal;
  /**
   * Errors from reading (a poll error, a codec that throws). Without this handler they
   * are thrown from the event loop, i.e. they reach `process.on("uncaughtException")`.
   */
  onError?: (error: Error) => void;
}

/**
 * `(event, ...extra)`: ring buffers pass the record's length in bytes, perf buffers the CPU and the
 * sample's length. (Events an earlier `read()` queued and `consume(cb)` hands over come without.)
 */
export type EventCallback<E, Extra extends unknown[]> = (event: E, ...extra: Extra) => void;

/** What drain() hands events to: with the record's length (ring) or the CPU and the length (perf). */
export type Sink<E> = (event: E, a?: number, b?: number) => void;

/** An event with its record: what `recordsOf(codec)` decodes to. */
export interface EventRecord<E> {
  /** The event as the codec decodes it (a short record partially; see `Codec.decode`). */
  event: E;
  /**
   * The record's length in bytes. Ring buffers: what the program submitted. Perf buffers: that,
   * padded with zero bytes so that the sample with its 4-byte size header ends 8-aligned.
   */
  length: number;
  /** A copy of the bytes past the codec's `size` (a longer record's tail; empty when none). */
  tail: Uint8Array;
}

const noTail = new Uint8Array(0);

/**
 * A codec for event readers that keeps each record's length and tail beside its event, in every
 * way of reading (callbacks, batches, `read()`, `events()`): `new RingBuf(map, recordsOf(Event))`.
 * Each event costs one more object (and a copy of its tail when there is one).
 */
export function recordsOf<E>(codec: Codec<E>): Codec<EventRecord<E>> {
  const size = codec.size;
  return {
    size,
    align: codec.align,
    decode(v: DataView, o = 0, n = size): EventRecord<E> {
      return { event: codec.decode(v, o, n), length: n, tail: n > size ? codecs.bytes(v, o + size, n - size) : noTail };
    },
    encode(x: EventRecord<E>, v: DataView, o = 0): void {
      codec.encode(x.event, v, o);
      if (x.tail.length > 0) codecs.setBytes(v, o + size, x.tail.length, x.tail);
    },
  };
}

type Mode = "idle" | "callback" | "pull";

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * The open reader of each map. Two readers of one ring would both advance its consumer position
 * (and a second perf buffer would take over the map's per-CPU slots), so a map has one at a time.
 */
const readers = new WeakMap<MapHandle, EventReader<unknown, unknown[]>>();

/** Events decoded ahead for read() / events() (batch reads take up to maxBatch). */
const PULL_CHUNK = 256;

/** Events drained per wakeup at most before the loop gets a turn, and most events queued for pulling readers. */
export const DEFAULT_MAX_BATCH = 65536;

/**
 * Milliseconds a reader hands events over (to callbacks, or to an `events()` loop) before the event
 * loop gets a turn, so timers, I/O and AbortSignals keep running under a slow consumer. At the fast
 * path's rates that is tens of thousands of events per turn, so the yield costs nothing measurable.
 */
export const DEFAULT_TURN_BUDGET_MS = 5;

/**
 * Events to hand over before the next clock read in a drain that has handed over `n` in `elapsed`
 * ms with `left` ms of its budget to go: about a quarter of what is left at the rate so far, at
 * most 1024. A fast consumer reads the clock once per ~1000 events (a read costs about as much as
 * a small decode), a slow one after every event, so its turn ends right at the budget.
 */
export function clockStride(n: number, elapsed: number, left: number): number {
  if (elapsed <= 0) return 1024;
  const stride = Math.floor((left * n) / (4 * elapsed));
  return stride < 1 ? 1 : stride > 1024 ? 1024 : stride;
}

/** Pulled events between two clock reads: a pull costs a promise anyway, the clock is cheap beside it. */
const PULL_CLOCK_EVERY = 4;

/** First batch size of `onBatch`/`batches()`; it doubles while callbacks stay within the budget. */
const FIRST_BATCH = 16;

export const now = (): number => performance.now();

/** Resolves in the event loop's next check phase: timers and I/O run before it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface PacingOptions {
  /** Most events handled per wakeup (and queued for read()/events()). Default 65536. */
  maxBatch?: number;
  /**
   * Milliseconds of handing over events (callbacks included) before the event loop gets a turn.
   * Default 5. Batches (`onBatch`, `batches()`) shrink to what the callback handles in this time.
   */
  turnBudget?: number;
}

export abstract class EventReader<E, Extra extends unknown[] = []> implements AsyncIterable<E>, Disposable, Closeable {
  readonly map: MapHandle;
  #closed = false;
  #mode: Mode = "idle";
  #polling = false;
  #eventCb: Sink<E> | undefined;
  #batchCb: ((events: E[]) => void) | undefined;
  #onError: ((e: Error) => void) | undefined;
  #stopSignal: { signal: AbortSignal; listener: () => void } | undefined;
  #queue: E[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  #wakeups = 0;
  protected readonly maxBatch: number;
  protected readonly turnBudget: number;
  /** Batch size of onBatch/batches()/read({ batch }): adapts to the callback's speed (see #adapt). */
  #batchLimit: number;
  /** Pulling readers: when the current run of synchronously available events began, and its length. */
  #burstStart = now();
  #burstCount = 0;
  /** read({ batch: true }): the size of the last batch returned, and when. */
  #lastBatch = 0;
  #lastBatchAt = 0;
  /** A continuation is scheduled (setImmediate) for a callback drain that stopped on its budget. */
  #continuing = false;
  /** Set by drain(): whether it stopped because nothing was left (rather than on `max` or the deadline). */
  protected caughtUp = true;
  readonly #onReadable = (errno?: number): void => this.#readable(errno);
  readonly #pushToQueue = (e: E): void => {
    this.#queue.push(e);
  };

  /** The map's fd (to put the map into a map-in-map, or pin it by hand). */
  get fd(): number {
    return this.map.fd;
  }

  protected constructor(map: MapHandle, options: PacingOptions) {
    this.map = map;
    const { maxBatch, turnBudget } = options;
    if (maxBatch !== undefined && !(Number.isInteger(maxBatch) && maxBatch > 0)) {
      throw new RangeError(`${map.name}: maxBatch must be a positive integer, got ${String(maxBatch)}`);
    }
    if (turnBudget !== undefined && !(typeof turnBudget === "number" && turnBudget > 0 && turnBudget < Infinity)) {
      throw new RangeError(`${map.name}: turnBudget must be a positive number of milliseconds, got ${String(turnBudget)}`);
    }
    this.maxBatch = maxBatch ?? DEFAULT_MAX_BATCH;
    this.turnBudget = turnBudget ?? DEFAULT_TURN_BUDGET_MS;
    this.#batchLimit = Math.min(FIRST_BATCH, this.maxBatch);
  }

  /**
   * Hands up to `max` available events to `sink`, in order, without blocking, stopping early once
   * `now()` passes `deadline` (read as `clockStride` says; Infinity: never). Sets `caughtUp`
   * when it stopped for lack of events. With `copy`, every event must stay valid after `sink`
   * returns (raw views become copies). Returns how many were handed over. A `sink` that throws has
   * had its event consumed; the error propagates.
   */
  protected abstract drain(sink: Sink<E>, max: number, copy: boolean, deadline: number): number;
  protected abstract startPoll(onReadable: (errno?: number) => void): void;
  protected abstract stopPoll(): void;
  protected abstract closeNative(): void;
  /** "ringbuf events" / "perf events": the context of messages. */
  protected abstract get kind(): string;

  /** Events handed over so far (to callbacks, or into the queue of read()/events()). Subclasses count. */
  protected delivered = 0;

  /** Events handed to callbacks or queued for readers so far (the current one included, inside a callback). */
  get eventsRead(): number {
    return this.delivered;
  }
  /** Times the event loop woke this reader up. */
  get wakeups(): number {
    return this.#wakeups;
  }
  get closed(): boolean {
    return this.#closed;
  }

  /** Makes this the map's only open reader; subclasses call it right before opening the native side. */
  protected claimMap(): void {
    const other = readers.get(this.map);
    if (other && !other.closed) {
      throw this.error("EBUSY", "another reader of this map is open (e.g. the object's own `maps.<name>`); close it first");
    }
    readers.set(this.map, this as EventReader<unknown, unknown[]>);
  }

  /** Undoes claimMap() (on close, or when opening failed). */
  protected releaseMap(): void {
    if (readers.get(this.map) === (this as EventReader<unknown, unknown[]>)) readers.delete(this.map);
  }

  protected error(code: string, detail: string, options?: { cause?: unknown; errno?: number }): EventReaderError {
    return new EventReaderError(this.map.name, code, `${this.kind} ${this.map.name}: ${detail}`, options);
  }

  #assertOpen(): void {
    if (this.#closed) throw this.error("EBADF", "reader is closed");
  }

  // ---- callbacks -------------------------------------------------------------------------------

  /**
   * Calls `cb` for every event, from the event loop, as events arrive: for up to `turnBudget` ms
   * (and `maxBatch` events) per turn, then timers and I/O run and the rest follows in the next turn.
   * Replaces an earlier callback.
   */
  onEvent(cb: EventCallback<E, Extra>, options?: CallbackOptions): this {
    this.checkCallback("onEvent", cb, options);
    this.#startCallbacks(options);
    this.#eventCb = cb as unknown as Sink<E>;
    this.#batchCb = undefined;
    this.#setPolling(true);
    return this;
  }

  /**
   * Calls `cb` with the events available (copies, safe to keep), in batches sized to what `cb`
   * handles in `turnBudget` ms: they start at 16 events, double while `cb` keeps within the budget
   * (up to `maxBatch`) and shrink when it does not; the event loop gets a turn between batches.
   */
  onBatch(cb: (events: E[]) => void, options?: CallbackOptions): this {
    this.checkCallback("onBatch", cb, options);
    this.#startCallbacks(options);
    this.#batchCb = cb;
    this.#eventCb = undefined;
    this.#setPolling(true);
    return this;
  }

  /** Rejects what is not a function at the call, rather than as an uncaught exception later. */
  protected checkCallback(method: string, cb: unknown, options?: CallbackOptions): void {
    if (typeof cb !== "function") throw new TypeError(`${this.kind} ${this.map.name}: ${method}(callback): the callback must be a function, got ${describe(cb)}`);
    const onError: unknown = options?.onError;
    if (onError !== undefined && typeof onError !== "function") throw new TypeError(`${this.kind} ${this.map.name}: ${method}: options.onError must be a function, got ${describe(onError)}`);
    this.checkSignal(method, options);
  }

  /** `options.signal`, when given, is an AbortSignal (else it would be ignored, or fail later). */
  protected checkSignal(method: string, options: unknown): void {
    if (options === undefined) return;
    if (typeof options !== "object" || options === null) throw new TypeError(`${this.kind} ${this.map.name}: ${method}: options must be an object, got ${describe(options)}`);
    const signal: unknown = (options as ReadOptions).signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${this.kind} ${this.map.name}: ${method}: options.signal must be an AbortSignal, got ${describe(signal)}`);
  }

  #startCallbacks(options: CallbackOptions | undefined): void {
    this.#assertOpen();
    if (this.#mode === "pull" && (this.#waiters.length > 0 || this.#queued() > 0)) {
      throw this.error("EBUSY", "read()/events() are pending or hold queued events; use one way of reading at a time");
    }
    this.#clearStopSignal();
    this.#mode = "callback";
    this.#onError = options?.onError;
    const signal = options?.signal;
    if (signal) {
      if (signal.aborted) {
        this.stop();
        return;
      }
      const listener = (): void => this.stop();
      signal.addEventListener("abort", listener, { once: true });
      this.#stopSignal = { signal, listener };
    }
  }

  #clearStopSignal(): void {
    if (this.#stopSignal) this.#stopSignal.signal.removeEventListener("abort", this.#stopSignal.listener);
    this.#stopSignal = undefined;
  }

  /** Stops the callbacks; events stay in the ring until read again. */
  stop(): void {
    if (this.#mode !== "callback") return;
    this.#clearStopSignal();
    this.#setPolling(false);
    this.#eventCb = this.#batchCb = this.#onError = undefined;
    this.#mode = "idle";
  }

  // ---- pulling ---------------------------------------------------------------------------------

  /**
   * Drains what is available now, synchronously. With `cb`, hands each event to it and returns how
   * many; without, returns the events (copies). For tests and for callers that poll on their own.
   */
  consume(): E[];
  consume(cb: EventCallback<E, Extra>): number;
  consume(cb?: EventCallback<E, Extra>): E[] | number {
    if (cb !== undefined) this.checkCallback("consume", cb);
    this.#assertOpen();
    if (this.#mode === "callback") throw this.error("EBUSY", "callbacks are running; stop() them before consume()");
    const queued = this.#takeAll();
    if (cb) {
      const sink = cb as unknown as Sink<E>;
      for (const e of queued) sink(e);
      let total = queued.length;
      for (let n; (n = this.drain(sink, this.maxBatch, false, Infinity)) > 0; ) total += n;
      return total;
    }
    const out = queued;
    const push = (e: E): void => {
      out.push(e);
    };
    while (this.drain(push, this.maxBatch, true, Infinity) > 0);
    return out;
  }

  /**
   * The next event. Rejects with an `EventReaderError` (code `EBADF`) when the reader closes
   * first, and with `signal.reason` when the signal aborts.
   */
  read(options?: ReadOptions & { batch?: false }): Promise<E>;
  /**
   * Events available at the next wakeup: at least one, at most `maxBatch`, and about what the caller
   * handled in `turnBudget` ms since its last batch (batches start at 16 and double while it keeps up).
   */
  read(options: ReadOptions & { batch: true }): Promise<E[]>;
  async read(options?: ReadOptions & { batch?: boolean }): Promise<E | E[]> {
    this.checkSignal("read", options);
    const signal = options?.signal;
    for (;;) {
      this.#assertOpen();
      signal?.throwIfAborted();
      this.#beginPull();
      if (options?.batch) {
        // The consumer's time since the last batch sizes this one, as for batches().
        if (this.#lastBatch > 0) this.#adapt(this.#lastBatch, now() - this.#lastBatchAt);
        this.#lastBatch = 0;
        this.#fill(this.#batchLimit);
      }
      else if (this.#queued() === 0) this.#fill();
      if (this.#queued() > 0) {
        // A loop of reads of available events settles only microtasks: give the loop its turn.
        if (this.#pace()) {
          await this.#yieldTurn();
          continue;
        }
        if (!options?.batch) return this.#takeOne();
        const batch = this.#takeAll();
        this.#lastBatch = batch.length;
        this.#lastBatchAt = now();
        return batch;
      }
      await this.#waitForData(signal);
      this.#newBurst();
    }
  }

  /**
   * Every event, in order, as an async iterator. Ends (without an error) when the reader or its
   * object is closed or `signal` aborts. Events the loop has not taken yet stay queued for the next
   * reader when you `break` out of it.
   */
  events(options?: ReadOptions): AsyncIterableIterator<E> {
    this.checkSignal("events", options);
    // A hand-written iterator rather than an async generator: with events already queued, next()
    // returns a settled promise, several times cheaper per event than a generator's yield. Settled
    // promises run as microtasks, which starve timers and I/O: every turnBudget ms, next() waits for
    // the loop's next turn instead.
    const signal = options?.signal;
    let finished = false;
    const end = (): IteratorResult<E> => {
      finished = true;
      return { value: undefined, done: true };
    };
    const next = (): Promise<IteratorResult<E>> => {
      if (finished || this.#closed || signal?.aborted) return Promise.resolve(end());
      try {
        this.#beginPull();
        if (this.#queued() === 0) this.#fill();
      } catch (e) {
        return Promise.reject(e);
      }
      if (this.#queued() > 0) {
        if (this.#pace()) return this.#yieldTurn().then(next);
        return Promise.resolve({ value: this.#takeOne(), done: false });
      }
      return this.#waitForData(signal).then(
        () => {
          this.#newBurst();
          return next();
        },
        (e: unknown) => {
          if (this.#closed || signal?.aborted) return end();
          throw e;
        },
      );
    };
    return {
      next,
      return: (): Promise<IteratorResult<E>> => Promise.resolve(end()),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Like `events()`, in arrays sized as `onBatch`'s to what the loop body handles in `turnBudget` ms. */
  batches(options?: ReadOptions): AsyncGenerator<E[], void, undefined> {
    this.checkSignal("batches", options); // at the call, not at the first next()
    return this.#batches(options);
  }

  async *#batches(options?: ReadOptions): AsyncGenerator<E[], void, undefined> {
    const signal = options?.signal;
    for (;;) {
      if (this.#closed || signal?.aborted) return;
      this.#beginPull();
      this.#fill(this.#batchLimit);
      if (this.#queued() > 0) {
        const batch = this.#takeAll();
        const t0 = now();
        yield batch; // the loop body runs here
        this.#adapt(batch.length, now() - t0);
        if (now() - this.#burstStart >= this.turnBudget) await this.#yieldTurn();
        continue;
      }
      try {
        await this.#waitForData(signal);
        this.#newBurst();
      } catch (e) {
        if (this.#closed || signal?.aborted) return;
        throw e;
      }
    }
  }

  // ---- pacing ----------------------------------------------------------------------------------

  /** Whether a pulling reader has handed over events for turnBudget ms without the loop getting a turn. */
  #pace(): boolean {
    if ((++this.#burstCount & (PULL_CLOCK_EVERY - 1)) !== 0) return false;
    return now() - this.#burstStart >= this.turnBudget;
  }

  #newBurst(): void {
    this.#burstStart = now();
    this.#burstCount = 0;
  }

  /** Lets timers, I/O and abort listeners run, then starts a new burst. */
  async #yieldTurn(): Promise<void> {
    await nextTurn();
    this.#newBurst();
  }

  /**
   * Sizes the next batch from how long the consumer took for this one: shrinks it to what fits in
   * the turn budget, doubles it (up to maxBatch) while a full batch stays within budget.
   */
  #adapt(size: number, ms: number): void {
    if (ms > this.turnBudget) this.#batchLimit = Math.max(1, Math.floor((size * this.turnBudget) / ms));
    else if (size >= this.#batchLimit) this.#batchLimit = Math.min(this.maxBatch, this.#batchLimit * 2);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<E> {
    return this.events();
  }

  #beginPull(): void {
    if (this.#mode === "callback") throw this.error("EBUSY", "callbacks are running; stop() them before read()/events()");
    this.#mode = "pull";
  }

  #queued(): number {
    return this.#queue.length - this.#head;
  }

  #takeOne(): E {
    const e = this.#queue[this.#head++]!;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    return e;
  }

  #takeAll(): E[] {
    const q = this.#head === 0 ? this.#queue : this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return q;
  }

  /**
   * Moves available events from the ring into the queue (copies, so the ring space is freed): up to
   * `limit` queued. Single-event pulls take small chunks, so decoded events die young (a queue of
   * tens of thousands of decoded events would be promoted by the GC and cost more than decoding).
   */
  #fill(limit = PULL_CHUNK): void {
    const room = Math.min(limit, this.maxBatch) - this.#queued();
    if (room > 0) this.drain(this.#pushToQueue, room, true, Infinity);
  }

  #waitForData(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (signal) {
        const onAbort = (): void => {
          this.#removeWaiter(waiter);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.resolve = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        waiter.reject = (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        };
      }
      this.#waiters.push(waiter);
      this.#setPolling(true);
    });
  }

  #removeWaiter(w: Waiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (this.#waiters.length === 0 && this.#mode === "pull") this.#setPolling(false);
  }

  #wakeWaiters(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w.resolve();
  }

  #failWaiters(e: unknown): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w.reject(e);
  }

  // ---- the loop --------------------------------------------------------------------------------

  /**
   * Whether a wakeup can be lost for data that arrived before polling started (perf buffers: the
   * kernel's readiness flag is cleared by the first poll). Such readers drain once, after the loop
   * has registered the fd, on every start.
   */
  protected get drainsAfterStart(): boolean {
    return false;
  }

  #setPolling(on: boolean): void {
    if (on === this.#polling || this.#closed) return;
    if (on) this.startPoll(this.#onReadable);
    else this.stopPoll();
    this.#polling = on;
    if (on && this.drainsAfterStart) {
      // Two turns: the loop registers the fd in its next poll phase, which may come after this
      // turn's check phase.
      setImmediate(() =>
        setImmediate(() => {
          if (this.#polling && !this.#closed) this.#readable(undefined, false);
        }),
      );
    }
  }

  #readable(errno: number | undefined, wakeup = true): void {
    if (this.#closed) return;
    if (wakeup) this.#wakeups++;
    if (errno !== undefined) {
      this.#fail(this.error("EPOLL", `poll failed: errno ${errno}`, { errno }));
      return;
    }
    if (this.#mode === "callback") {
      // At most turnBudget ms (or maxBatch events) per turn; what is left continues in the loop's
      // next turn, after timers and I/O. While a continuation is scheduled, the poll's wakeups
      // (level-triggered: the ring still holds data) leave the draining to it: one drain per turn.
      if (this.#continuing && wakeup) return;
      this.caughtUp = true;
      try {
        if (this.#eventCb) {
          this.drain(this.#eventCb, this.maxBatch, false, now() + this.turnBudget);
        } else if (this.#batchCb) {
          const batch: E[] = [];
          this.drain((e: E) => void batch.push(e), this.#batchLimit, true, now() + this.turnBudget);
          if (batch.length > 0) {
            const t0 = now();
            this.#batchCb(batch);
            this.#adapt(batch.length, now() - t0);
          }
        }
      } catch (e) {
        if (e instanceof EventReaderError && this.#onError) this.#onError(e);
        else throw e; // a callback's own error: the loop reports it like any listener's
      } finally {
        if (!this.caughtUp) this.#continueNextTurn();
      }
      return;
    }
    // Pulling: queue what is there, wake the readers, and stop polling while nobody waits so that a
    // slow reader leaves events in the ring (the kernel's backpressure) instead of in memory.
    try {
      this.#fill();
    } catch (e) {
      this.#failWaiters(e);
    }
    if (this.#queued() > 0 || this.#waiters.length === 0) {
      this.#wakeWaiters();
      this.#setPolling(false);
    }
  }

  #continueNextTurn(): void {
    if (this.#continuing) return;
    this.#continuing = true;
    setImmediate(() => {
      this.#continuing = false;
      if (this.#polling && this.#mode === "callback" && !this.#closed) this.#readable(undefined, false);
    });
  }

  #fail(e: EventReaderError): void {
    if (this.#mode === "callback") {
      if (this.#onError) this.#onError(e);
      else throw e;
    } else {
      this.#failWaiters(e);
      this.#setPolling(false);
    }
  }

  /**
   * Idempotent. Stops the loop's callbacks, ends iterators, rejects pending reads and releases the
   * kernel resources (for a ring buffer: unmaps it; views of its memory read as empty afterwards).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearStopSignal();
    this.#polling = false;
    this.#eventCb = this.#batchCb = this.#onError = undefined;
    this.#queue = [];
    this.#head = 0;
    try {
      this.closeNative();
    } finally {
      this.releaseMap();
      this.#failWaiters(this.error("EBADF", "reader is closed"));
      this.map.object.disown(this);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
