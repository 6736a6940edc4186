// The native half of the event readers (src/ringbuf.cc, src/perfbuf.cc), merged into the addon type.
// Errors thrown by these carry `errno` and `code` like the rest of the addon.

/**
 * A ring buffer map's pages, mapped into this process, and a libuv poll on (a dup of) its fd.
 * `new RingBufHandle(mapFd)` throws if the fd is not a `BPF_MAP_TYPE_RINGBUF` map.
 */
export interface NativeRingBufHandle {
  /** One page, read-write: the consumer position (u64) at offset 0. `undefined` once closed. */
  readonly consumer: ArrayBuffer | undefined;
  /**
   * Read-only: the producer position (u64) at offset 0, then from `pageSize` the data area mapped
   * twice back to back (`2 * size` bytes), so a record starting near the end reads on contiguously.
   * `undefined` once closed; the ArrayBuffer itself is detached by `close()`.
   */
  readonly producer: ArrayBuffer | undefined;
  /** The ring's data size in bytes (the map's max_entries, a power of two). */
  readonly size: number;
  readonly pageSize: number;
  readonly closed: boolean;
  /**
   * Calls `onReadable()` from the event loop while the ring holds unread data (level-triggered: again
   * after each return as long as data is left). `onReadable(errno)` reports a poll error.
   */
  start(onReadable: (errno?: number) => void): void;
  /** No more callbacks until `start()` again. */
  stop(): void;
  /** Idempotent: stops the poll, detaches both ArrayBuffers, unmaps, closes the dup'ed fd. */
  close(): void;
}

/** One `perf_buffer__consume` pass. */
export interface NativePerfBatch {
  /** Records `{ u32 cpu; u32 size; u8 data[size]; pad to 8 }`, host-endian, a fresh copy. */
  readonly batch: ArrayBuffer;
  /** Number of records in `batch`. */
  readonly count: number;
  /** Lost-sample notifications in this pass as pairs: cpu, count, cpu, count, … */
  readonly lost: number[];
}

/** libbpf's `perf_buffer` over a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`, one perf ring per CPU. */
export interface NativePerfBufHandle {
  readonly closed: boolean;
  /** Number of per-CPU buffers libbpf opened. */
  readonly bufferCount: number;
  /** Calls `onReadable()` from the event loop while any CPU's buffer has data. */
  start(onReadable: (errno?: number) => void): void;
  stop(): void;
  /** Drains every CPU's buffer once (never blocks); `undefined` when nothing was pending. */
  consume(): NativePerfBatch | undefined;
  /** Idempotent: stops the poll and frees the perf buffer (its perf events, mmaps and epoll fd). */
  close(): void;
}

export interface EventsAddon {
  RingBufHandle: new (mapFd: number) => NativeRingBufHandle;
  /** `pagesPerCpu` must be a power of two. */
  PerfBufHandle: new (mapFd: number, pagesPerCpu: number) => NativePerfBufHandle;
}
