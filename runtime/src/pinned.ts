// Maps outside any loaded object: opened from a pin on a bpf filesystem, or created from user space.

import { addon } from "./addon.js";
import type { Codec } from "./codec.js";
import { BpfError, closedError, errno, fromNative } from "./errors.js";
import { mapTypeNumber } from "./features.js";
import { mapTypeName } from "./contract/maps.js";
import type { Closeable, MapHandle, MapTypeName, ResourceOwner } from "./handles.js";
import { type AnyMap, type InnerMapDescriptor, wrapMap } from "./object.js";

/** The codecs of a standalone map (and, for a map-in-map, its inner maps' template). */
export interface StandaloneCodecs {
  key?: Codec<any>;
  value?: Codec<any>;
  inner?: InnerMapDescriptor;
}

/** Owns one pinned map's fd (and readers made on it); `map.close()` closes it. */
class PinnedMapOwner implements ResourceOwner, MapHandle {
  readonly standalone = true;
  readonly type: MapTypeName;
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  #fd: number;
  #owned: Closeable[] = [];

  constructor(fd: number, path: string) {
    // Owns fd from here on.
    const meta = addon().mapInfo(fd);
    this.#fd = fd;
    this.name = meta.name || path;
    this.type = mapTypeName(meta.type);
    this.typeId = meta.type;
    this.keySize = meta.keySize;
    this.valueSize = meta.valueSize;
    this.maxEntries = meta.maxEntries;
    this.flags = meta.flags;
  }
  get object(): ResourceOwner {
    return this;
  }
  get closed(): boolean {
    return this.#fd < 0;
  }
  get fd(): number {
    if (this.#fd < 0) throw closedError(`pinned map ${this.name}`);
    return this.#fd;
  }
  own(r: Closeable): void {
    this.#owned.push(r);
  }
  disown(r: Closeable): void {
    const i = this.#owned.indexOf(r);
    if (i >= 0) this.#owned.splice(i, 1);
  }
  close(): void {
    if (this.#fd < 0) return;
    for (const r of this.#owned.splice(0).reverse()) r.close();
    addon().closeFd(this.#fd);
    this.#fd = -1;
  }
}

const finalizer = new FinalizationRegistry<number>((fd) => addon().closeFd(fd));

/** Wraps an fd this module owns into the map class of its type. */
function standalone<M extends AnyMap>(fd: number, label: string, codecs: StandaloneCodecs): M {
  try {
    const owner = new PinnedMapOwner(fd, label);
    const map = wrapMap(owner, codecs.key, codecs.value, codecs.inner);
    const close = owner.close.bind(owner);
    // The fd is closed when the wrapper is collected; an explicit close unregisters first.
    finalizer.register(map, fd, owner);
    owner.close = () => {
      finalizer.unregister(owner);
      close();
    };
    return map as M;
  } catch (e) {
    addon().closeFd(fd);
    throw e;
  }
}

/**
 * Opens the map pinned at `path` with typed codecs. The wrapper is chosen by the map's real type;
 * `map.close()` releases its fd (a FinalizationRegistry does it if you forget).
 */
export function openPinnedMap<M extends AnyMap = AnyMap>(path: string, codecs: StandaloneCodecs = {}): M {
  let fd: number;
  try {
    fd = addon().objGet(path);
  } catch (e) {
    throw fromNative(e, { context: `open pinned map ${path}` });
  }
  return standalone<M>(fd, path, codecs);
}

export interface MapOptions {
  /** libbpf's type name (`hash`, `array`, `percpu_hash`, `lru_hash`, `ringbuf`, …). */
  type: string;
  name?: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  /**
   * For `array_of_maps` / `hash_of_maps`: a map like the ones it will hold (the kernel's template
   * for them; the outer map's `valueSize` is 4).
   */
  innerMap?: { readonly fd: number };
}

/** Creates a map from user space (no BPF object needed), typed by `codecs`; `map.close()` frees it. */
export function createMap<M extends AnyMap = AnyMap>(opts: MapOptions, codecs: StandaloneCodecs = {}): M {
  const type = mapTypeNumber(opts.type);
  for (const k of ["keySize", "valueSize", "maxEntries"] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) throw new BpfError(`create map ${opts.name ?? ""}: ${k} must be a non-negative integer`, { errno: errno.EINVAL, code: "EINVAL" });
  }
  let fd: number;
  try {
    fd = addon().mapCreate(type, opts.name ?? "", opts.keySize, opts.valueSize, opts.maxEntries, opts.flags ?? 0, opts.innerMap?.fd);
  } catch (e) {
    throw fromNative(e, { context: `create map ${opts.name ?? ""}` });
  }
  return standalone<M>(fd, opts.name ?? opts.type, codecs);
}

/**
 * Opens the map with kernel id `id` (what a map-in-map lookup returns) with typed codecs; undefined
 * when no map has that id any more. `map.close()` releases the new fd.
 */
export function openMapById<M extends AnyMap = AnyMap>(id: number, codecs: StandaloneCodecs = {}): M | undefined {
  let fd: number;
  try {
    fd = addon().mapFdById(id);
  } catch (e) {
    const err = fromNative(e, { context: `open map id ${id}` });
    if (err.code === "ENOENT") return undefined;
    throw err;
  }
  return standalone<M>(fd, `map id ${id}`, codecs);
}
