// Map types as the kernel numbers them, and which runtime class wraps each (with the codecs it
// takes): the generator reads the table to type a module's maps, the loader to construct them.

/** libbpf's map type names by `BPF_MAP_TYPE_*` value (libbpf.c `map_type_name`). */
export const mapTypeNames = [
  "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
  "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
  "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
  "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
  "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter", "user_ringbuf",
  "cgrp_storage", "arena",
] as const;

/** A map type's name; `unknown_<n>` for a number this table does not know. */
export type MapTypeName = (typeof mapTypeNames)[number] | `unknown_${number}`;

/** The name of map type number `type` (`BPF_MAP_TYPE_*`); `unknown_<n>` past the table. */
export function mapTypeName(type: number): MapTypeName {
  return mapTypeNames[type] ?? `unknown_${type}`;
}

/**
 * What a wrapper takes: `kv` a key and a value codec, `v` a value codec (array maps, keyed by
 * index), `keyless` a value codec (queues, stacks, bloom filters: no keys at all), `event` the record
 * codec (ring buffers, perf event arrays), `maps` a key codec and the inner map's template
 * (map-in-map), `none` nothing.
 */
export type MapShape = "kv" | "v" | "keyless" | "event" | "maps" | "none";

/** The runtime's wrapper class per map type; every other type is a plain `BpfMap` (shape `kv`). */
export const mapWrappers = {
  hash: { wrapper: "HashMap", shape: "kv" },
  lru_hash: { wrapper: "LruHashMap", shape: "kv" },
  percpu_hash: { wrapper: "PerCpuHashMap", shape: "kv" },
  lru_percpu_hash: { wrapper: "LruPerCpuHashMap", shape: "kv" },
  array: { wrapper: "ArrayMap", shape: "v" },
  percpu_array: { wrapper: "PerCpuArrayMap", shape: "v" },
  ringbuf: { wrapper: "RingBuf", shape: "event" },
  perf_event_array: { wrapper: "PerfEventArray", shape: "event" },
  stack_trace: { wrapper: "StackTraceMap", shape: "none" },
  array_of_maps: { wrapper: "ArrayOfMaps", shape: "maps" },
  hash_of_maps: { wrapper: "HashOfMaps", shape: "maps" },
  prog_array: { wrapper: "ProgramArray", shape: "none" },
  queue: { wrapper: "QueueMap", shape: "keyless" },
  stack: { wrapper: "StackMap", shape: "keyless" },
  bloom_filter: { wrapper: "BloomFilterMap", shape: "keyless" },
} as const satisfies Partial<Record<MapTypeName, { wrapper: string; shape: MapShape }>>;

export type WrappedMapType = keyof typeof mapWrappers;

/** The wrapper of a map type: its class name and shape. */
export function mapWrapper(type: string): { readonly wrapper: string; readonly shape: MapShape } {
  return Object.hasOwn(mapWrappers, type) ? mapWrappers[type as WrappedMapType] : { wrapper: "BpfMap", shape: "kv" };
}

/** Ring buffers and perf event arrays: the maps read as streams of records, not by key. */
export function isEventMap(type: string): boolean {
  return mapWrapper(type).shape === "event";
}
