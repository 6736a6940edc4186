// The small interfaces other runtime modules (ring/perf readers, maps, links) use to talk about things
// the loader owns, without importing the loader itself.

/** Anything that releases a kernel resource. `close()` is idempotent. */
export interface Closeable {
  close(): void;
}

/**
 * What owns resources and closes them when it is closed: a loaded `BpfObject`, or a standalone owner
 * for a pinned map opened on its own. Readers and links register themselves so `object.close()`
 * closes everything it made.
 */
export interface ResourceOwner {
  readonly closed: boolean;
  /** Registers `r` to be closed (in reverse order of registration) when the owner closes. */
  own(r: Closeable): void;
  /** Forgets `r` (it was closed on its own). */
  disown(r: Closeable): void;
}

/** libbpf's map type name (the contract's table), or `unknown_<n>` for a type it has no name for. */
export type { MapTypeName } from "./contract/maps.js";
import type { MapTypeName } from "./contract/maps.js";

/** One map of a loaded object (or a pinned map), as readers and map wrappers see it. */
export interface MapHandle {
  /** The map's name in the object (`events`, `.bss`, …). */
  readonly name: string;
  /** The map's fd. Reading it after the owner closed throws a `BpfError` with code `EBADF`. */
  readonly fd: number;
  readonly type: MapTypeName;
  /** The kernel's numeric `enum bpf_map_type`. */
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** The map's creation flags (`BPF_F_MMAPABLE`, `BPF_F_RDONLY`, …); absent where unknown. */
  readonly flags?: number;
  readonly object: ResourceOwner;
}
