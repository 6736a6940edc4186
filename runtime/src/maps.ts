// Where each map type is wrapped: typed get/set/delete/has, iteration, batch ops, per-CPU values,
// pinning. Every operation reuses the map's preallocated key/value buffers, so a lookup costs one
// encode, one native call and one decode.

import { addon, type Addon } from "./addon.js";
import { type Codec, describeValue, LE, rawCodec, codecs, withContext } from "./codec.js";
import { possibleCpuCount } from "./cpus.js";
import { BpfError, errno, errnoError, fromNative } from "./errors.js";
import type { MapHandle } from "./handles.js";

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST (/ BPF_F_LOCK for maps with a spin lock). */
export type UpdateFlag = "any" | "noexist" | "exist" | "lock";
const updateFlags: Record<UpdateFlag, number> = { any: 0, noexist: 1, exist: 2, lock: 4 };

/** The kernel's BPF_* flag for `flag`; a value outside UpdateFlag is a TypeError naming the call. */
function updateFlag(flag: UpdateFlag, map: string, call: string): number {
  if (flag === "any") return 0;
  if (typeof flag !== "string" || !Object.hasOwn(updateFlags, flag))
    throw new TypeError(`map ${map}: ${call}: flag must be one of ${Object.keys(updateFlags).map((k) => `"${k}"`).join(", ")}, got ${typeof flag === "string" ? `"${flag}"` : String(flag)}`);
  return updateFlags[flag];
}

function checkSize(handle: MapHandle, what: "key" | "value", codec: Codec<unknown>, expected: number): void {
  if (codec.size !== expected) {
    throw new BpfError(`map ${handle.name}: ${what} codec is ${codec.size} bytes, the map's ${what} is ${expected}`, {
      errno: errno.EINVAL,
      code: "EINVAL",
      map: handle.name,
    });
  }
}

/**
 * Any BPF map with a key and a value. `get` returns `undefined` when the key is absent: a miss is the
 * normal answer of a lookup, not an exception.
 */
export class BpfMap<K = Uint8Array, V = Uint8Array> {
  readonly handle: MapHandle;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  protected readonly native: Addon;
  protected readonly keyBuf: Uint8Array | null;
  protected readonly keyView: DataView;
  protected readonly valueBuf: Uint8Array;
  protected readonly valueView: DataView;
  /** Header of the native memory: [0] fd and [1] flags for the slot calls, [2] their 0 or -errno. */
  private readonly control: Int32Array;
  /** The addon's number for this wrapper's memory. */
  private readonly slot: number;
  /**
   * The addon's slot calls, held here: a load from the addon's exports object (too many properties
   * for a fast layout) would miss the inline cache on every call.
   */
  private readonly slotLookup: (slot: number) => void;
  private readonly slotUpdate: (slot: number) => void;
  private readonly slotDelete: (slot: number) => void;

  constructor(handle: MapHandle, key?: Codec<K>, value?: Codec<V>, valueBytes = handle.valueSize) {
    this.handle = handle;
    this.native = addon();
    this.keyCodec = key ?? (rawCodec(handle.keySize) as unknown as Codec<K>);
    this.valueCodec = value ?? (rawCodec(valueBytes) as unknown as Codec<V>);
    checkSize(handle, "key", this.keyCodec as Codec<unknown>, handle.keySize);
    checkSize(handle, "value", this.valueCodec as Codec<unknown>, valueBytes);
    // Native memory [fd, flags, result, (addon) | key | value], freed when this wrapper (and so the buffer) is collected.
    const [slot, block] = this.native.mapMemory(handle.keySize, valueBytes);
    const keyAt = 16;
    const valueAt = keyAt + ((handle.keySize + 7) & ~7);
    this.slot = slot;
    this.slotLookup = this.native.slotLookup;
    this.slotUpdate = this.native.slotUpdate;
    this.slotDelete = this.native.slotDelete;
    this.control = new Int32Array(block, 0, 3); // the 4th word is the addon's own
    this.keyBuf = handle.keySize > 0 ? new Uint8Array(block, keyAt, handle.keySize) : null;
    this.keyView = new DataView(block, keyAt, handle.keySize);
    this.valueBuf = new Uint8Array(block, valueAt, valueBytes);
    this.valueView = new DataView(block, valueAt, valueBytes);
  }

  get name(): string {
    return this.handle.name;
  }
  get type(): string {
    return this.handle.type;
  }
  get fd(): number {
    return this.handle.fd;
  }
  get keySize(): number {
    return this.handle.keySize;
  }
  get valueSize(): number {
    return this.handle.valueSize;
  }
  get maxEntries(): number {
    return this.handle.maxEntries;
  }

  protected encodeKey(k: K): Uint8Array | null {
    if (this.keyBuf) this.putKey(k, this.keyView, 0);
    return this.keyBuf;
  }

  /**
   * Encodes a key (value) into the map's buffers; a value the codec rejects (out of range, wrong
   * type) throws its RangeError/TypeError naming this map. Nothing reaches the kernel then.
   */
  protected putKey(k: K, view: DataView, offset: number): void {
    try {
      this.keyCodec.encode(k, view, offset);
    } catch (e) {
      throw withContext(e, `map ${this.handle.name}: key`);
    }
  }

  protected putValue(x: V, view: DataView, offset: number): void {
    try {
      this.valueCodec.encode(x, view, offset);
    } catch (e) {
      throw withContext(e, `map ${this.handle.name}: value`);
    }
  }

  protected fail(op: string, ret: number, key?: K): never {
    throw errnoError(`map ${this.handle.name}: ${op}`, ret, { map: this.handle.name, hint: this.hintFor(op, -ret, key) });
  }

  /** Hints that match the map and the call (E2BIG from an update means full map or index past the end). */
  private hintFor(op: string, e: number, key: K | undefined): string | undefined {
    const { type, maxEntries, name } = this.handle;
    const isArray = type === "array" || type === "percpu_array" || type === "prog_array" || type === "perf_event_array" || type === "array_of_maps" || type === "cgroup_array";
    if (isArray && (e === errno.E2BIG || e === errno.ENOENT) && typeof key === "number" && key >= maxEntries) {
      return `index ${key} is past the end of ${name}: it has max_entries ${maxEntries} (indexes 0..${maxEntries - 1})`;
    }
    if (op.startsWith("update") && e === errno.E2BIG && !isArray) return `${name} is full (max_entries ${maxEntries}): delete entries, or raise max_entries (LoadOptions.maxEntries)`;
    if (op === "update" && e === errno.EEXIST) return "the key is present and the flag was \"noexist\"";
    if (op === "update" && e === errno.ENOENT) return "the key is absent and the flag was \"exist\"";
    return undefined;
  }

  /** The value at `key`, or `undefined` if there is none. */
  get(key: K): V | undefined {
    const r = this.lookupRaw(key);
    if (r === 0) return this.valueCodec.decode(this.valueView, 0);
    if (r === -errno.ENOENT) return undefined;
    return this.fail("lookup", r);
  }

  has(key: K): boolean {
    const r = this.lookupRaw(key);
    if (r === 0) return true;
    if (r === -errno.ENOENT) return false;
    return this.fail("lookup", r);
  }

  /** One lookup into the value buffer: 0 or -errno. The fd is read first: a closed map throws EBADF. */
  protected lookupRaw(key: K): number {
    const control = this.control;
    control[0] = this.handle.fd;
    control[1] = 0;
    if (this.keyBuf) this.putKey(key, this.keyView, 0);
    control[2] = -errno.EINVAL; // stays for a bad slot
    this.slotLookup(this.slot);
    return control[2]!;
  }

  /** Sets `key` to `value`. "noexist" fails with EEXIST if present, "exist" with ENOENT if absent. */
  set(key: K, value: V, flag: UpdateFlag = "any"): void {
    const control = this.control;
    control[0] = this.handle.fd;
    control[1] = updateFlag(flag, this.handle.name, "set");
    // Encoded here rather than through putValue/putKey: the two calls would not fit V8's inlining
    // budget in the caller's loop (~6 ns an update).
    let part = "value";
    try {
      this.valueCodec.encode(value, this.valueView, 0);
      part = "key";
      if (this.keyBuf) this.keyCodec.encode(key, this.keyView, 0);
    } catch (e) {
      throw withContext(e, `map ${this.handle.name}: ${part}`);
    }
    control[2] = -errno.EINVAL;
    this.slotUpdate(this.slot);
    const r = control[2]!;
    if (r !== 0) this.fail("update", r, key);
  }

  /** Deletes `key`; false if it was not there. */
  delete(key: K): boolean {
    const control = this.control;
    control[0] = this.handle.fd;
    if (this.keyBuf) this.putKey(key, this.keyView, 0);
    control[2] = -errno.EINVAL;
    this.slotDelete(this.slot);
    const r = control[2]!;
    if (r === 0) return true;
    if (r === -errno.ENOENT) return false;
    return this.fail("delete", r);
  }

  /**
   * Looks up and deletes in one step (hash maps since 5.14, queues and stacks always); `undefined`
   * when absent.
   */
  lookupAndDelete(key: K): V | undefined {
    const fd = this.handle.fd;
    const r = this.native.mapLookupAndDelete(fd, this.encodeKey(key), this.valueBuf);
    if (r === 0) return this.valueCodec.decode(this.valueView, 0);
    if (r === -errno.ENOENT) return undefined;
    return this.fail("lookup and delete", r);
  }

  /**
   * The keys, walked with BPF_MAP_GET_NEXT_KEY. When the current key is deleted underneath (by this
   * loop or another process), the kernel restarts from the first key; keys already yielded are
   * remembered and skipped, and the walk is bounded (4 × maxEntries + 64 steps), so it always ends —
   * under heavy concurrent churn possibly before seeing keys inserted meanwhile.
   */
  *keys(): Generator<K, void, undefined> {
    const size = this.handle.keySize;
    const next = new Uint8Array(new ArrayBuffer(size));
    const nextView = new DataView(next.buffer);
    let prev: Uint8Array | null = null;
    const dedupe = !this.handle.type.includes("array");
    const seen = new Set<string>();
    const bound = 4 * this.handle.maxEntries + 64;
    for (let steps = 0; steps < bound; steps++) {
      const r = this.native.mapGetNextKey(this.handle.fd, prev, next);
      if (r === -errno.ENOENT) return;
      if (r !== 0) this.fail("get next key", r);
      let fresh = true;
      if (dedupe) {
        const id = Buffer.from(next.buffer, 0, size).toString("latin1");
        fresh = !seen.has(id);
        if (fresh) seen.add(id);
      }
      prev = next.slice();
      if (fresh) yield this.keyCodec.decode(nextView, 0);
    }
  }

  /** [key, value] pairs; keys that disappear between the key walk and the lookup are skipped. */
  *entries(): Generator<[K, V], void, undefined> {
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  *values(): Generator<V, void, undefined> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  /**
   * All entries with BPF_MAP_LOOKUP_BATCH (optionally deleting them), `batchSize` per syscall. Falls
   * back to the key walk when the kernel or map type has no batch ops (EINVAL/ENOTSUPP on the first
   * call).
   */
  lookupBatch(opts: { batchSize?: number; delete?: boolean } = {}): Array<[K, V]> {
    const del = opts.delete ?? false;
    const n = Math.max(1, Math.min(opts.batchSize ?? 256, this.handle.maxEntries));
    const ksize = this.handle.keySize;
    const vsize = this.valueCodec.size;
    const keys = new Uint8Array(new ArrayBuffer(n * ksize));
    const vals = new Uint8Array(new ArrayBuffer(n * vsize));
    const kv = new DataView(keys.buffer);
    const vv = new DataView(vals.buffer);
    // The batch cursor is opaque (a bucket index for hash maps); key size, at least 8 bytes, holds it.
    let inBatch: Uint8Array | null = null;
    const outBatch = new Uint8Array(new ArrayBuffer(Math.max(ksize, 8)));
    const out: Array<[K, V]> = [];
    for (;;) {
      const [r, count] = this.native.mapLookupBatch(this.handle.fd, inBatch, outBatch, keys, vals, n, del);
      if (r !== 0 && r !== -errno.ENOENT) {
        if (inBatch === null && out.length === 0 && (r === -errno.EINVAL || r === -errno.ENOTSUPP || r === -errno.EOPNOTSUPP)) {
          return this.batchFallback(del);
        }
        this.fail(del ? "lookup and delete batch" : "lookup batch", r);
      }
      for (let i = 0; i < count; i++) out.push([this.keyCodec.decode(kv, i * ksize), this.valueCodec.decode(vv, i * vsize)]);
      if (r === -errno.ENOENT) return out;
      inBatch = outBatch.slice();
    }
  }

  private batchFallback(del: boolean): Array<[K, V]> {
    const out = [...this.entries()];
    if (del) for (const [k] of out) this.delete(k);
    return out;
  }

  /**
   * Sets every `[key, value]` of `entries` with BPF_MAP_UPDATE_BATCH (one syscall for all; one by one
   * where the kernel or map type has none); returns how many were written. On an error the entries
   * before the failing one are written, and the error says which key failed.
   */
  updateBatch(entries: Iterable<readonly [K, V]>, flag: UpdateFlag = "any"): number {
    const list = [...entries];
    if (list.length === 0) return 0;
    const f = updateFlag(flag, this.handle.name, "updateBatch");
    const ksize = this.handle.keySize;
    const vsize = this.valueCodec.size;
    const keys = new Uint8Array(new ArrayBuffer(list.length * ksize));
    const vals = new Uint8Array(new ArrayBuffer(list.length * vsize));
    const kv = new DataView(keys.buffer);
    const vv = new DataView(vals.buffer);
    list.forEach(([k, v], i) => {
      this.putKey(k, kv, i * ksize);
      this.putValue(v, vv, i * vsize);
    });
    // The kernel's batch update takes BPF_F_LOCK alone: "noexist"/"exist" go one key at a time.
    if (flag === "any" || flag === "lock") {
      const [r, count] = this.native.mapUpdateBatch(this.handle.fd, keys, vals, list.length, f);
      if (r === 0) return count;
      // No batch command for this kernel or map type: writing again one by one is harmless.
      if (!(r === -errno.EINVAL || r === -errno.ENOTSUPP || r === -errno.EOPNOTSUPP)) return this.fail("update batch", r, list[count]?.[0]);
    }
    for (const [k, v] of list) this.set(k, v, flag);
    return list.length;
  }

  /** Deletes `keys` with BPF_MAP_DELETE_BATCH (one by one where unsupported); returns how many went. */
  deleteBatch(keys: readonly K[]): number {
    if (keys.length === 0) return 0;
    const ksize = this.handle.keySize;
    const buf = new Uint8Array(new ArrayBuffer(keys.length * ksize));
    const view = new DataView(buf.buffer);
    keys.forEach((k, i) => this.putKey(k, view, i * ksize));
    const [r, count] = this.native.mapDeleteBatch(this.handle.fd, buf, keys.length);
    if (r === 0) return count;
    if (r === -errno.EINVAL || r === -errno.ENOTSUPP || r === -errno.EOPNOTSUPP) {
      let n = 0;
      for (const k of keys) if (this.delete(k)) n++;
      return n;
    }
    if (r === -errno.ENOENT) return count; // stopped at a missing key
    return this.fail("delete batch", r);
  }

  /**
   * Closes a map opened on its own (`openPinnedMap`). Maps of a loaded object live as long as the
   * object: for them this does nothing (close the object).
   */
  close(): void {
    const o = this.handle.object as { standalone?: boolean; close?: () => void };
    if (o.standalone) o.close?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Pins the map at `path` (on a bpf filesystem, e.g. /sys/fs/bpf/name). */
  pin(path: string): void {
    try {
      this.native.objPin(this.handle.fd, path);
    } catch (e) {
      throw fromNative(e, { map: this.handle.name });
    }
  }
}

export class HashMap<K, V> extends BpfMap<K, V> {}
export class LruHashMap<K, V> extends HashMap<K, V> {}

/** BPF_F_MMAPABLE, BPF_F_RDONLY (user space may not write), BPF_F_RDONLY_PROG from <linux/bpf.h>. */
const BPF_F_MMAPABLE = 1 << 10;
const BPF_F_RDONLY = 1 << 3;

/**
 * An array map: keys are indexes 0 … maxEntries-1, every slot exists (zeroed) from the start.
 * Created with BPF_F_MMAPABLE, its values are read and written straight through their mapped memory
 * (no syscall per access; `mapped` says so); the mapping goes when the map's owner closes.
 */
export class ArrayMap<V> extends BpfMap<number, V> {
  /** The values in place, index i at i × stride; null: every access is a syscall. */
  private readonly memory: DataView | null;
  private readonly memoryBytes: Uint8Array | null;
  private readonly stride: number;
  private readonly writable: boolean;

  constructor(handle: MapHandle, value?: Codec<V>) {
    super(handle, codecs.u32, value);
    this.stride = (handle.valueSize + 7) & ~7;
    const flags = handle.flags ?? 0;
    let memory: ArrayBuffer | null = null;
    this.writable = false;
    if (flags & BPF_F_MMAPABLE && handle.maxEntries > 0) {
      // Writable unless user space may not write; a frozen map refuses a writable mapping (EPERM): read-only then.
      const bytes = this.stride * handle.maxEntries;
      for (const writable of flags & BPF_F_RDONLY ? [false] : [true, false]) {
        try {
          memory = this.native.mapMmap(handle.fd, bytes, writable);
          this.writable = writable;
          break;
        } catch {
          memory = null; // the syscalls still work
        }
      }
    }
    this.memory = memory && new DataView(memory);
    this.memoryBytes = memory && new Uint8Array(memory);
    if (memory) {
      const unmap = { close: () => this.native.mapUnmap(memory) };
      handle.object.own(unmap);
    }
  }

  get length(): number {
    return this.handle.maxEntries;
  }

  /** Whether values are accessed through mapped memory (BPF_F_MMAPABLE) rather than syscalls. */
  get mapped(): boolean {
    return this.memory !== null;
  }

  /** An index the mapped memory holds; anything else takes the syscall path and its errors. */
  private inMemory(i: number): boolean {
    return this.memory !== null && (i >>> 0) === i && i < this.handle.maxEntries && !this.handle.object.closed;
  }

  override get(i: number): V | undefined {
    if (this.inMemory(i)) return this.valueCodec.decode(this.memory!, i * this.stride);
    return super.get(i);
  }

  override has(i: number): boolean {
    if (this.inMemory(i)) return true;
    return super.has(i);
  }

  override set(i: number, value: V, flag: UpdateFlag = "any"): void {
    if (this.writable && (flag === "any" || flag === "exist") && this.inMemory(i)) {
      // Encoded into the scratch buffer first: a value the codec rejects leaves the map untouched.
      this.putValue(value, this.valueView, 0);
      this.memoryBytes!.set(this.valueBuf, i * this.stride);
      return;
    }
    super.set(i, value, flag);
  }
}

/** Per-CPU value slots are 8-byte aligned: round_up(value_size, 8) each, one per possible CPU. */
export function perCpuStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/** A codec for a per-CPU value: an array of `cpus` values of `inner`, each at an 8-byte stride. */
export function perCpuCodec<V>(inner: Codec<V>, cpus = possibleCpuCount()): Codec<V[]> {
  const stride = perCpuStride(inner.size);
  return {
    size: stride * cpus,
    align: 8,
    decode(v, o = 0) {
      const out = new Array<V>(cpus);
      for (let c = 0; c < cpus; c++) out[c] = inner.decode(v, o + c * stride);
      return out;
    },
    encode(x, v, o = 0) {
      if (!Array.isArray(x)) throw new TypeError(`per-CPU value: expected an array of ${cpus} values (one per possible CPU), got ${describeValue(x)}`);
      if (x.length !== cpus) throw new RangeError(`per-CPU value: expected ${cpus} values (one per possible CPU), got ${x.length}`);
      for (let c = 0; c < cpus; c++) inner.encode(x[c]!, v, o + c * stride);
    },
  };
}

function sumOf<V>(values: V[] | undefined): V | undefined {
  if (values === undefined) return undefined;
  let acc: number | bigint | undefined;
  for (const x of values) {
    if (typeof x === "bigint") acc = ((acc as bigint | undefined) ?? 0n) + x;
    else if (typeof x === "number") acc = ((acc as number | undefined) ?? 0) + x;
    else throw new TypeError("sum: per-CPU values are not numbers or bigints");
  }
  return acc as V;
}

/** A per-CPU hash: `get` returns one value per possible CPU, `set` takes as many. */
export class PerCpuHashMap<K, V> extends BpfMap<K, V[]> {
  readonly cpus: number;
  constructor(handle: MapHandle, key?: Codec<K>, value?: Codec<V>) {
    const cpus = possibleCpuCount();
    const inner = value ?? (rawCodec(handle.valueSize) as unknown as Codec<V>);
    if (inner.size !== handle.valueSize) checkSize(handle, "value", inner as Codec<unknown>, handle.valueSize);
    super(handle, key, perCpuCodec(inner, cpus), perCpuStride(handle.valueSize) * cpus);
    this.cpus = cpus;
  }
  /** The values of all CPUs added up (number or bigint values); `undefined` when the key is absent. */
  sum(key: K): V | undefined {
    return sumOf(this.get(key));
  }
}

export class LruPerCpuHashMap<K, V> extends PerCpuHashMap<K, V> {}

export class PerCpuArrayMap<V> extends PerCpuHashMap<number, V> {
  constructor(handle: MapHandle, value?: Codec<V>) {
    super(handle, codecs.u32, value);
  }
  get length(): number {
    return this.handle.maxEntries;
  }
}

/** Stack traces by id (from bpf_get_stackid): instruction pointers, innermost first, zeros trimmed. */
export class StackTraceMap extends BpfMap<number, bigint[]> {
  constructor(handle: MapHandle) {
    const depth = Math.floor(handle.valueSize / 8);
    super(handle, codecs.u32, {
      size: handle.valueSize,
      align: 8,
      decode(v, o = 0) {
        const out: bigint[] = [];
        for (let i = 0; i < depth; i++) {
          const ip = v.getBigUint64(o + i * 8, LE);
          if (ip === 0n) break;
          out.push(ip);
        }
        return out;
      },
      encode(x, v, o = 0) {
        for (let i = 0; i < depth; i++) v.setBigUint64(o + i * 8, x[i] ?? 0n, LE);
      },
    });
  }
}
