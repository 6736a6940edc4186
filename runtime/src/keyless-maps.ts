// Where the keyless map types are wrapped: queues and stacks (push, pop, peek) and bloom filters
// (add, mayContain). The kernel takes a NULL key for them: the map's key size is 0.

import type { Codec } from "./codec.js";
import { errno } from "./errors.js";
import type { MapHandle } from "./handles.js";
import { BpfMap } from "./maps.js";

/** "any" fails with E2BIG when full; "exist" makes room by dropping the oldest (queue) or bottom (stack) value. */
export type PushFlag = "any" | "exist";

/** Queue (FIFO) and stack (LIFO) maps: `push`, `pop`, `peek`; `drain()` pops until empty. */
class PushPopMap<V> extends BpfMap<undefined, V> {
  constructor(handle: MapHandle, value?: Codec<V>) {
    super(handle, undefined, value);
  }

  /** Adds `value`; with "exist" a full map drops its oldest (queue) / bottom (stack) value first. */
  push(value: V, flag: PushFlag = "any"): void {
    if (flag !== "any" && flag !== "exist") throw new TypeError(`map ${this.name}: push: flag must be "any" or "exist", got ${String(flag)}`);
    super.set(undefined, value, flag);
  }

  /** Takes the next value out (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`); undefined when empty. */
  pop(): V | undefined {
    return this.lookupAndDelete(undefined);
  }

  /** The next value, left in place; undefined when empty. */
  peek(): V | undefined {
    return this.get(undefined);
  }

  /** Pops every value there is now, in the map's order. */
  drain(): V[] {
    const out: V[] = [];
    for (let v = this.pop(); v !== undefined; v = this.pop()) out.push(v);
    return out;
  }
}

/** `BPF_MAP_TYPE_QUEUE`: first in, first out. */
export class QueueMap<V> extends PushPopMap<V> {}
/** `BPF_MAP_TYPE_STACK`: last in, first out. */
export class StackMap<V> extends PushPopMap<V> {}

/**
 * `BPF_MAP_TYPE_BLOOM_FILTER`: `add` values; `mayContain` answers "maybe" (true, at the filter's false
 * positive rate) or "certainly not" (false). Values cannot be listed or removed.
 */
export class BloomFilterMap<V> extends BpfMap<undefined, V> {
  constructor(handle: MapHandle, value?: Codec<V>) {
    super(handle, undefined, value);
  }

  add(value: V): void {
    super.set(undefined, value);
  }

  /** Whether `value` may have been added: a lookup that hands the kernel the value to test. */
  mayContain(value: V): boolean {
    this.putValue(value, this.valueView, 0);
    const r = this.lookupRaw(undefined);
    if (r === 0) return true;
    if (r === -errno.ENOENT) return false;
    return this.fail("lookup", r);
  }
}
