// Where the maps that hold other kernel objects are wrapped: map-in-map (`BPF_MAP_TYPE_ARRAY_OF_MAPS`,
// `BPF_MAP_TYPE_HASH_OF_MAPS`) and program arrays. The kernel takes the object's fd on update and
// answers a lookup with its id, so `set` takes a map (a program), `get` gives its id and `getMap`
// opens an inner map, typed by the inner map's codecs.

import { type Codec, codecs } from "./codec.js";
import { BpfError, errno, errnoError } from "./errors.js";
import type { MapHandle } from "./handles.js";
import { BpfMap, type UpdateFlag } from "./maps.js";
import type { AnyMap, InnerMapDescriptor } from "./object.js";
import { createMap, openMapById } from "./pinned.js";

/** `BPF_F_INNER_MAP`: inner maps of any max_entries fit the outer map. */
const BPF_F_INNER_MAP = 1 << 12;

/**
 * An outer map. Values read back are inner maps' kernel ids (`get`, `entries`, `values`); `getMap`
 * opens one as a typed map. `set` takes any map object (or a raw fd) like the inner map template.
 */
export class MapOfMaps<K, I extends AnyMap = AnyMap> extends BpfMap<K, number> {
  /** The inner maps' template as the generator read it from `__array(values, …)`; absent for a map opened without one. */
  readonly inner: InnerMapDescriptor | undefined;

  constructor(handle: MapHandle, key?: Codec<K>, inner?: InnerMapDescriptor) {
    super(handle, key, codecs.u32);
    this.inner = inner;
  }

  /** Puts `map` (an object's map, one from `createInner`/`createMap`, or a raw fd) at `key`. */
  override set(key: K, map: I | { readonly fd: number } | number, flag: UpdateFlag = "any"): void {
    super.set(key, typeof map === "number" ? map : map.fd, flag);
  }

  /**
   * The inner map at `key`, opened by its id with the inner codecs; undefined when the key is absent
   * (or the map went away meanwhile). The caller owns it: `close()` it (or `using`).
   */
  getMap(key: K): I | undefined {
    const id = this.get(key);
    return id === undefined ? undefined : openMapById<I>(id, this.inner ?? {});
  }

  /**
   * A new map that fits this outer map (the template's type, sizes and flags), typed by its codecs;
   * `maxEntries` may differ only where the template has `BPF_F_INNER_MAP`. Close it once it is in
   * the outer map, which keeps it alive.
   */
  createInner(opts: { name?: string; maxEntries?: number } = {}): I {
    const t = this.inner;
    if (!t) throw new BpfError(`map ${this.name}: no inner map template (the descriptor has no \`inner\`): use createMap`, { errno: errno.EINVAL, code: "EINVAL", map: this.name });
    const flags = t.flags ?? 0;
    if (opts.maxEntries !== undefined && opts.maxEntries !== t.maxEntries && !(flags & BPF_F_INNER_MAP)) {
      throw new BpfError(`map ${this.name}: inner maps must have max_entries ${t.maxEntries}: the template lacks BPF_F_INNER_MAP (\`__uint(map_flags, BPF_F_INNER_MAP)\`)`, { errno: errno.EINVAL, code: "EINVAL", map: this.name });
    }
    const name = opts.name ?? this.name.slice(0, 12) + "_in";
    return createMap<I>({ type: t.type, name, keySize: t.keySize, valueSize: t.valueSize, maxEntries: opts.maxEntries ?? t.maxEntries, flags }, t);
  }

  protected override fail(op: string, ret: number, key?: K): never {
    if (op === "update" && (ret === -errno.EINVAL || ret === -errno.EBADF)) {
      const t = this.inner;
      const template = t ? `type ${t.type}, key ${t.keySize} bytes, value ${t.valueSize} bytes, flags ${t.flags ?? 0}, max_entries ${t.maxEntries}${(t.flags ?? 0) & BPF_F_INNER_MAP ? " (or any: BPF_F_INNER_MAP)" : ""}` : "the outer map's inner map template";
      throw errnoError(`map ${this.name}: update`, ret, { map: this.name, hint: `the value must be an open map like ${template}; createInner() makes one` });
    }
    return super.fail(op, ret, key);
  }
}

export class ArrayOfMaps<I extends AnyMap = AnyMap> extends MapOfMaps<number, I> {}
export class HashOfMaps<K, I extends AnyMap = AnyMap> extends MapOfMaps<K, I> {}

/**
 * A program array (`BPF_MAP_TYPE_PROG_ARRAY`), the table `bpf_tail_call` jumps through: `set` takes
 * a loaded program (or a raw fd), `get` gives the program's kernel id, `delete` empties a slot.
 */
export class ProgramArray extends BpfMap<number, number> {
  constructor(handle: MapHandle) {
    super(handle, codecs.u32, codecs.u32);
  }

  /** Puts `program` (an object's program, or a raw fd) at `index`. */
  override set(index: number, program: { readonly fd: number } | number, flag: UpdateFlag = "any"): void {
    super.set(index, typeof program === "number" ? program : program.fd, flag);
  }

  protected override fail(op: string, ret: number, key?: number): never {
    if (op === "update" && ret === -errno.EINVAL) {
      throw errnoError(`map ${this.name}: update`, ret, { map: this.name, hint: "a program array holds programs of one type (and attach type) that share its owner's; the first one loaded that uses the array decides" });
    }
    return super.fail(op, ret, key);
  }
}
