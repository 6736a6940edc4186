// Maps opened from a pin on a bpf filesystem, outside any loaded object.

import { addon } from "./addon.js";
import type { Codec } from "./codec.js";
import { closedError, fromNative } from "./errors.js";
import type { Closeable, MapHandle, MapTypeName, ResourceOwner } from "./handles.js";
import { type AnyMap, wrapMap } from "./object.js";

/** Owns one pinned map's fd (and readers made on it); `map.close()` closes it. */
class PinnedMapOwner implements ResourceOwner, MapHandle {
  readonly standalone = true;
  readonly type: MapTypeName;
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly name: string;
  #fd: number;
  #owned: Closeable[] = [];

  constructor(fd: number, path: string) {
    const meta = addon().mapInfo(fd);
    this.#fd = fd;
    this.name = meta.name || path;
    this.type = (meta.typeName === "unknown" ? `unknown_${meta.type}` : meta.typeName) as MapTypeName;
    this.typeId = meta.type;
    this.keySize = meta.keySize;
    this.valueSize = meta.valueSize;
    this.maxEntries = meta.maxEntries;
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

/**
 * Opens the map pinned at `path` with typed codecs. The wrapper is chosen by the map's real type;
 * `map.close()` releases its fd (a FinalizationRegistry does it if you forget).
 */
export function openPinnedMap<M extends AnyMap = AnyMap>(path: string, codecs: { key?: Codec<any>; value?: Codec<any> } = {}): M {
  let fd: number;
  try {
    fd = addon().objGet(path);
  } catch (e) {
    throw fromNative(e, { context: `open pinned map ${path}` });
  }
  try {
    const owner = new PinnedMapOwner(fd, path);
    const map = wrapMap(owner, codecs.key, codecs.value);
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
