// The loader: open an object from its descriptor's embedded bytes, configure it before load
// (constants, map sizes, which programs, pinning, log level), load it, and hand out typed programs,
// maps and variables that all die with the object.

import { addon, type NativeMapMeta, type NativeObject } from "./addon.js";
import { type Codec, describeValue, LE, withContext } from "./codec.js";
import { BpfError, closedError, errno, fromNative } from "./errors.js";
import type { Closeable, MapHandle, ResourceOwner } from "./handles.js";
import { mapTypeName, mapWrapper, type mapWrappers, type MapTypeName, type WrappedMapType } from "./contract/maps.js";
import { inflateRawSync } from "node:zlib";
import { Link, LinkSet } from "./links.js";
import {
  ArrayMap, BpfMap, HashMap, LruHashMap, LruPerCpuHashMap, PerCpuArrayMap, PerCpuHashMap, StackTraceMap,
} from "./maps.js";
import { BloomFilterMap, QueueMap, StackMap } from "./keyless-maps.js";
import { ArrayOfMaps, HashOfMaps, ProgramArray } from "./map-of-maps.js";
import { PerfEventArray } from "./perf.js";
import { cgroupKinds, parseSection, type AttachTarget, type ProgramKind } from "./contract/index.js";
import { Program } from "./programs.js";
import { RingBuf } from "./ringbuf.js";
import { Variable } from "./variables.js";
import { checkObject, ObjectFileError } from "./object-file/index.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyCodec = Codec<any>;

export interface ProgramDescriptor {
  /** The C function name. */
  name: string;
  section: string;
  kind: ProgramKind;
  /** Where the section says it attaches, as the contract's `parseSection` reads it (parsed at load when absent). */
  target?: AttachTarget;
}

export interface MapDescriptor {
  /** The map's C name. */
  name: string;
  /** libbpf's map type name without the prefix (`hash`, `ringbuf`, …). */
  type: MapTypeName;
  key?: AnyCodec;
  /** The value codec (for ring buffers and perf arrays: the event codec). */
  value?: AnyCodec;
  /** Map-in-map (`array_of_maps`, `hash_of_maps`): the inner maps' template, `__array(values, …)`. */
  inner?: InnerMapDescriptor;
}

/** The maps a map-in-map holds: their type, codecs and what the kernel checks an inner map against. */
export interface InnerMapDescriptor {
  type: MapTypeName;
  key?: AnyCodec;
  value?: AnyCodec;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  /** A map-in-map's own inner template, for maps of maps of maps. */
  inner?: InnerMapDescriptor;
}

export interface VariableDescriptor {
  /** The C name. */
  name: string;
  /** `.bss`, `.data`, `.rodata` or `.data.<name>`/`.rodata.<name>`. */
  section: string;
  offset: number;
  codec: AnyCodec;
}

/** What a generated module hands to `loadObject`: data only, no logic. */
export interface ObjectDescriptor {
  /** The stem (`exec`). */
  name: string;
  /** The compiled object per byte order, as base64 or bytes (with `deflated`: raw-deflate compressed). */
  objects: { le?: string | Uint8Array | undefined; be?: string | Uint8Array | undefined; deflated?: boolean };
  /** By TypeScript name. Programs of the object not listed here appear under their C name. */
  programs?: Record<string, ProgramDescriptor>;
  maps?: Record<string, MapDescriptor>;
  variables?: Record<string, VariableDescriptor>;
  /** `volatile const` globals: set before load through `LoadOptions.constants`, readable after. */
  constants?: Record<string, VariableDescriptor>;
}

export interface LoadOptions<C = Record<string, unknown>> {
  /** `.rodata` values, by TypeScript name of the descriptor's constants. */
  constants?: Partial<C>;
  /**
   * Directory on a bpf filesystem for pinned maps: maps declared with LIBBPF_PIN_BY_NAME are pinned
   * (or reused) there; with `pinMaps: "all"` every map is.
   */
  pinPath?: string;
  pinMaps?: "byName" | "all";
  /** BTF to run CO-RE against instead of /sys/kernel/btf/vmlinux. */
  btfPath?: string;
  /** Verifier log level (1 = basic, 2 = verbose); logs of successful loads are kept in `Program.verifierLog`. */
  logLevel?: number;
  /** New max_entries by map (TypeScript or C name); the same as `maps: { name: { maxEntries } }`. */
  maxEntries?: Record<string, number>;
  /** libbpf's per-map knobs before load, by map (TypeScript or C name). */
  maps?: Record<string, MapLoadOptions>;
  /**
   * A list: load only these programs (TypeScript or C names), the others not. A record: per program,
   * `autoload` (load it or not; unlisted programs keep their default, which is off for `SEC("?…")`)
   * and `attachTarget`.
   */
  programs?: string[] | Record<string, ProgramLoadOptions>;
  /**
   * Check the object's ELF and BTF in TypeScript before libbpf reads it (default true): a malformed
   * object is a BpfError naming the section and BTF type id, where libbpf 1.1 may crash or hang.
   */
  check?: boolean;
  /**
   * Milliseconds `loadObject` waits for libbpf and the verifier (default 60 000; 0: no limit). Past
   * it the promise rejects with ETIMEDOUT and the load is abandoned on its thread: it no longer keeps
   * the process alive, and the process can exit. (`loadObjectSync` runs on the calling thread and
   * cannot be bounded.)
   */
  timeout?: number;
}

const DEFAULT_LOAD_TIMEOUT = 60_000;

/** What `bpf_map__set_*` can change before load. */
export interface MapLoadOptions {
  maxEntries?: number;
  keySize?: number;
  /** E.g. a stack-trace map declared with value size 0: `perf_max_stack_depth * 8`. */
  valueSize?: number;
  /** false: the map is not created (for a map only programs that are not loaded use). */
  autocreate?: boolean;
  /**
   * Use this existing map instead of creating one (`bpf_map__reuse_fd`): another object's map, a
   * pinned or user-space map. Objects share a ring buffer or a config map this way.
   */
  reuse?: { readonly fd: number };
  /** For a map-in-map declared without `__array(values, …)`: a map like its inner maps (`bpf_map__set_inner_map_fd`). */
  innerMap?: { readonly fd: number };
}

export interface ProgramLoadOptions {
  /** Load the program (`bpf_program__set_autoload`). */
  autoload?: boolean;
  /**
   * Another kernel function or tracepoint for fentry/fexit/fmod_ret/tp_btf/lsm/freplace programs
   * (`bpf_program__set_attach_target`): one program serves several hooks.
   */
  attachTarget?: string;
}

export interface ProgramSpec {
  name: string;
  section: string;
  kind: ProgramKind;
  /** libbpf's program type name (`tracepoint`, `xdp`, …). */
  type: string;
  attachType: string;
  insnCount: number;
}

export interface MapSpec {
  name: string;
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/** An object as compiled, before load. */
export interface ObjectSpec {
  name: string;
  programs: Record<string, ProgramSpec>;
  maps: Record<string, MapSpec>;
}

export type AnyMap = BpfMap<any, any> | RingBuf<any> | PerfEventArray<any>;

function objectBytes(d: ObjectDescriptor): Uint8Array {
  const src = LE ? d.objects.le : d.objects.be;
  if (src === undefined || src === null) {
    throw new BpfError(`load ${d.name}: the descriptor has no ${LE ? "little" : "big"}-endian object for this host`, { errno: errno.EINVAL, code: "ENOEXEC" });
  }
  const bytes = typeof src === "string" ? Buffer.from(src, "base64") : src;
  return d.objects.deflated === true ? inflateRawSync(bytes) : bytes;
}

/** libbpf prefixes internal map names with the object name; keep it a plain identifier. */
function objectName(d: ObjectDescriptor): string {
  return d.name.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 15) || "bpf";
}

/**
 * The object's bytes, checked before libbpf reads them: libbpf 1.1 dereferences out-of-range type
 * ids and spins forever on a typedef that names itself, on the calling thread. `check: false` skips
 * it (for an object the check wrongly refuses; libbpf may then crash or hang on a corrupted one).
 */
function checkedBytes(d: ObjectDescriptor, check = true): Uint8Array {
  const bytes = objectBytes(d);
  if (!check) return bytes;
  try {
    checkObject(bytes, `${LE ? "bpfel" : "bpfeb"} object`);
  } catch (e) {
    if (!(e instanceof ObjectFileError)) throw e;
    const place = { ...(e.section !== undefined && { section: e.section }), ...(e.typeId !== undefined && { typeId: e.typeId }) };
    throw new BpfError(`open ${d.name}: ${e.message} (a malformed object: libbpf was not given it)`, { errno: errno.EINVAL, code: "EINVAL", ...place, cause: e });
  }
  return bytes;
}

function open(d: ObjectDescriptor, btfPath?: string, pinRoot?: string, check?: boolean): NativeObject {
  const bytes = checkedBytes(d, check);
  const A = addon();
  try {
    return new A.NativeObject(bytes, objectName(d), btfPath, pinRoot);
  } catch (e) {
    throw fromNative(e, { context: `open ${d.name}` });
  }
}

/** Descriptor programs plus any the object has that the descriptor does not list (by C name). */
function programTable(d: ObjectDescriptor, native: NativeObject): Array<[string, ProgramDescriptor]> {
  const listed = Object.entries(d.programs ?? {});
  const known = new Set(listed.map(([, p]) => p.name));
  for (const p of native.programs()) {
    if (known.has(p.name)) continue;
    const info = parseSection(p.section);
    listed.push([p.name, { name: p.name, section: p.section, kind: info?.kind ?? "other", ...(info && { target: info.target }) }]);
  }
  return listed;
}

function mapTable(d: ObjectDescriptor, native: NativeObject): Array<[string, MapDescriptor]> {
  const listed = Object.entries(d.maps ?? {});
  const known = new Set(listed.map(([, m]) => m.name));
  for (const m of native.maps()) {
    if (!m.internal && !known.has(m.name)) listed.push([m.name, { name: m.name, type: mapTypeName(m.type) }]);
  }
  return listed;
}

/** Opens `descriptor`'s object without loading it and describes its programs and maps. */
export function objectSpec(descriptor: ObjectDescriptor, opts: { btfPath?: string; check?: boolean } = {}): ObjectSpec {
  const native = open(descriptor, opts.btfPath, undefined, opts.check);
  try {
    const progs = new Map(native.programs().map((p) => [p.name, p]));
    const maps = new Map(native.maps().map((m) => [m.name, m]));
    const spec: ObjectSpec = { name: descriptor.name, programs: {}, maps: {} };
    for (const [ts, p] of programTable(descriptor, native)) {
      const info = progs.get(p.name);
      if (!info) continue;
      spec.programs[ts] = { name: p.name, section: info.section, kind: p.kind, type: info.typeName, attachType: info.attachTypeName, insnCount: info.insnCount };
    }
    for (const [ts, m] of mapTable(descriptor, native)) {
      const info = maps.get(m.name);
      if (!info) continue;
      spec.maps[ts] = { name: m.name, type: mapTypeName(info.type), keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags };
    }
    return spec;
  } finally {
    native.close();
  }
}

/** The map of a loaded object as readers and wrappers see it; its fd dies with the object. */
class ObjectMap implements MapHandle {
  readonly type: MapTypeName;
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  constructor(
    readonly object: BpfObject,
    readonly name: string,
    private readonly mapFd: number,
    meta: NativeMapMeta,
  ) {
    this.type = mapTypeName(meta.type);
    this.typeId = meta.type;
    this.keySize = meta.keySize;
    this.valueSize = meta.valueSize;
    this.maxEntries = meta.maxEntries;
    this.flags = meta.flags;
  }
  get fd(): number {
    if (this.object.closed) throw closedError(`map ${this.name}`);
    return this.mapFd;
  }
}

// Every class the contract names, and no other (a renamed class fails to compile here). Built on
// first use: map-of-maps.ts imports this module (through pinned.ts), so at this module's top level
// its classes may not be defined yet.
let wrappers: Record<string, new (h: MapHandle, ...args: any[]) => AnyMap> | undefined;
const wrapperClasses = () =>
  ({ HashMap, LruHashMap, PerCpuHashMap, LruPerCpuHashMap, ArrayMap, PerCpuArrayMap, RingBuf, PerfEventArray, StackTraceMap, ArrayOfMaps, HashOfMaps, ProgramArray, QueueMap, StackMap, BloomFilterMap, BpfMap }) satisfies Record<(typeof mapWrappers)[WrappedMapType]["wrapper"] | "BpfMap", unknown>;

/**
 * The wrapper class for a map of type `handle.type` (the contract's `mapWrappers`), given the codecs
 * its shape takes (and, for a map-in-map, the inner maps' template).
 */
export function wrapMap(handle: MapHandle, key?: AnyCodec, value?: AnyCodec, inner?: InnerMapDescriptor): AnyMap {
  const { wrapper, shape } = mapWrapper(handle.type);
  const W = (wrappers ??= wrapperClasses() as Record<string, new (h: MapHandle, ...args: any[]) => AnyMap>)[wrapper]!;
  switch (shape) {
    case "kv": return new W(handle, key, value);
    case "maps": return new W(handle, key, inner);
    case "none": return new W(handle);
    default: return new W(handle, value);
  }
}

/** The wrapper a descriptor's map entry gets, by its type and codecs (see the contract's `mapWrappers`). */
export interface MapWrappers<K, V, I extends AnyMap = AnyMap> {
  hash: HashMap<K, V>;
  lru_hash: LruHashMap<K, V>;
  percpu_hash: PerCpuHashMap<K, V>;
  lru_percpu_hash: LruPerCpuHashMap<K, V>;
  array: ArrayMap<V>;
  percpu_array: PerCpuArrayMap<V>;
  ringbuf: RingBuf<V>;
  perf_event_array: PerfEventArray<V>;
  stack_trace: StackTraceMap;
  array_of_maps: ArrayOfMaps<I>;
  hash_of_maps: HashOfMaps<K, I>;
  prog_array: ProgramArray;
  queue: QueueMap<V>;
  stack: StackMap<V>;
  bloom_filter: BloomFilterMap<V>;
}

type CodecValue<C, Else> = C extends Codec<infer T> ? T : Else;
type MapOf<M> = M extends { type: infer T; key?: infer K; value?: infer V }
  ? T extends WrappedMapType
    ? MapWrappers<CodecValue<K, Uint8Array>, CodecValue<V, Uint8Array>, M extends { inner: infer I } ? MapOf<I> : AnyMap>[T]
    : BpfMap<CodecValue<K, Uint8Array>, CodecValue<V, Uint8Array>>
  : AnyMap;
type Entries<D, K extends string> = D extends { [P in K]: infer E } ? (E extends undefined ? {} : E) : {};

/**
 * The loaded object a descriptor describes: its programs typed by kind, its maps by type and
 * codecs, its variables by codec. Members keep the docs written on the descriptor's entries.
 */
// BpfObject's own records are replaced, not intersected: `keyof X["maps"]` must be the object's maps
// exactly (a metric spec or a helper typed by it rejects a wrong name), not `string`.
// A descriptor typed only as ObjectDescriptor (no literal entries) gives a plain BpfObject.
export type ObjectsOf<D extends ObjectDescriptor> = ObjectDescriptor extends D ? BpfObject : Omit<BpfObject, "programs" | "maps" | "variables" | "constants"> & {
  readonly programs: { readonly [P in keyof Entries<D, "programs">]: Program<Entries<D, "programs">[P] extends { kind: infer K extends ProgramKind } ? K : ProgramKind> };
  readonly maps: { readonly [M in keyof Entries<D, "maps">]: MapOf<Entries<D, "maps">[M]> };
  readonly variables: { readonly [V in keyof Entries<D, "variables">]: Variable<CodecValue<Entries<D, "variables">[V] extends { codec: infer C } ? C : never, unknown>> };
  readonly constants: { readonly [V in keyof Entries<D, "constants">]?: Variable<CodecValue<Entries<D, "constants">[V] extends { codec: infer C } ? C : never, unknown>> };
};

/** The values of a descriptor's constants, by TypeScript name (what `LoadOptions.constants` takes). */
export type ConstantsOf<D extends ObjectDescriptor> = { [V in keyof Entries<D, "constants">]?: CodecValue<Entries<D, "constants">[V] extends { codec: infer C } ? C : never, unknown> };

// Objects dropped without close() are released when collected. The held value is the native
// object, never the BpfObject itself (that would keep it alive forever).
const finalizer = new FinalizationRegistry<NativeObject>((native) => {
  try {
    native.close();
  } catch {
    // nothing to report to at this point
  }
});

/**
 * A loaded object. `close()` detaches its links, closes its readers and releases the object; it is
 * idempotent, and any use afterwards throws a BpfError (code EBADF).
 */
export class BpfObject implements Disposable, ResourceOwner {
  readonly name: string;
  readonly programs: Record<string, Program<any>>;
  readonly maps: Record<string, AnyMap>;
  readonly variables: Record<string, Variable<any>>;
  /** The `.rodata` constants as loaded (read-only). */
  readonly constants: Record<string, Variable<any>>;
  #native: NativeObject | undefined;
  #owned: Closeable[] = [];

  /** @internal Use `loadObject`. */
  constructor(descriptor: ObjectDescriptor, native: NativeObject, retargeted: ReadonlyMap<string, string> = new Map()) {
    this.name = descriptor.name;
    this.#native = native;
    finalizer.register(this, native, this);
    const host = { native, owner: this as ResourceOwner };

    const progs: Record<string, Program<any>> = {};
    for (const [ts, p] of programTable(descriptor, native)) {
      // Hand-written descriptors may leave the target out: read it from the section once, here.
      const moved = retargeted.get(p.name);
      const target: AttachTarget = moved !== undefined ? { type: "btf", name: moved } : p.target ?? parseSection(p.section)?.target ?? { type: "none" };
      progs[ts] = new Program(host, p.name, p.section, p.kind, target);
    }
    this.programs = progs;

    // Map wrappers are made on first use: a ring buffer reader maps its pages when constructed.
    const maps: Record<string, AnyMap> = {};
    const infos = new Map(native.maps().map((m) => [m.name, m]));
    for (const [ts, m] of mapTable(descriptor, native)) {
      const info = infos.get(m.name);
      if (!info) throw new BpfError(`load ${this.name}: map ${m.name} is not in the object`, { errno: errno.ENOENT, code: "ENOENT", map: m.name });
      let made: AnyMap | undefined;
      Object.defineProperty(maps, ts, {
        enumerable: true,
        get: () => {
          if (this.closed) throw closedError(`map ${m.name}`);
          if (info.fd < 0) throw new BpfError(`map ${m.name}: not created (loaded with autocreate: false)`, { errno: errno.ENOENT, code: "ENOENT", map: m.name });
          // A reader the user closed (to stop reading) is replaced by a fresh one on next access.
          if (made instanceof RingBuf || made instanceof PerfEventArray) if (made.closed) made = undefined;
          made ??= wrapMap(new ObjectMap(this, m.name, info.fd, addon().mapInfo(info.fd)), m.key, m.value, m.inner);
          return made;
        },
      });
    }
    this.maps = maps;

    this.variables = this.makeVariables(descriptor.variables ?? {});
    this.constants = this.makeVariables(descriptor.constants ?? {});
  }

  private makeVariables(table: Record<string, VariableDescriptor>): Record<string, Variable<any>> {
    const native = this.#native!;
    const sections = new Map<string, { handle: ObjectMap; bytes: ArrayBuffer | undefined; readonly: boolean }>();
    const out: Record<string, Variable<any>> = {};
    for (const [ts, v] of Object.entries(table)) {
      if (typeof v?.codec?.decode !== "function" || typeof v.section !== "string" || !Number.isInteger(v.offset)) {
        throw new BpfError(`load ${this.name}: variable ${ts}: the descriptor needs section, offset and codec`, { errno: errno.EINVAL, code: "EINVAL" });
      }
      let s = sections.get(v.section);
      if (!s) {
        let fd: number;
        try {
          fd = native.mapFd(v.section);
        } catch (e) {
          throw fromNative(e, { context: `variable ${v.name}`, map: v.section });
        }
        const meta = addon().mapInfo(fd);
        const readonly = v.section.startsWith(".rodata") || v.section.startsWith(".kconfig");
        s = { handle: new ObjectMap(this, v.section, fd, meta), bytes: native.mmap(v.section), readonly };
        sections.set(v.section, s);
      }
      out[ts] = new Variable(s.handle, v.name, v.section, v.offset, v.codec, s.bytes, s.readonly);
    }
    return out;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  own(r: Closeable): void {
    if (this.closed) {
      r.close();
      throw closedError(`object ${this.name}`);
    }
    this.#owned.push(r);
  }

  disown(r: Closeable): void {
    const i = this.#owned.lastIndexOf(r);
    if (i >= 0) this.#owned.splice(i, 1);
  }

  /**
   * Attaches every program libbpf can attach from its SEC() name alone (tracepoints, raw_tp,
   * tp_btf, kprobes, fentry, iterators, uprobes with a path in the section, …); programs whose
   * section names no target (xdp, tc, socket, cgroup, perf_event, plain uprobe) are left for
   * `program.attach(opts)`. If one fails, those already attached are detached and the error thrown.
   */
  async attach(opts: { programs?: string[] } = {}): Promise<LinkSet> {
    if (this.closed) throw closedError(`object ${this.name}`);
    const made: Link[] = [];
    const wanted = opts.programs ? new Set(opts.programs) : undefined;
    try {
      for (const [ts, p] of Object.entries(this.programs)) {
        if (wanted && !wanted.has(ts) && !wanted.has(p.name)) continue;
        if (this.#native!.programFd(p.name) < 0) continue; // not loaded
        if (manualKinds.has(p.kind)) continue;
        try {
          made.push(p.attachAuto());
        } catch (e) {
          if ((e as BpfError).errno === errno.EOPNOTSUPP && !wanted) continue; // nothing to auto-attach to
          throw e;
        }
      }
    } catch (e) {
      for (const l of made.reverse()) l.close();
      throw e;
    }
    return new LinkSet(made);
  }

  close(): void {
    const native = this.#native;
    if (native === undefined) return;
    const owned = this.#owned;
    this.#owned = [];
    for (const r of owned.reverse()) {
      try {
        r.close();
      } catch {
        // keep closing the rest
      }
    }
    this.#native = undefined;
    finalizer.unregister(this);
    native.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

// Kinds that need an object only the caller has (an interface, a socket, a cgroup, a perf event).
const manualKinds = new Set<ProgramKind>(["xdp", "tc", "socket", "perf_event", "syscall", ...cgroupKinds]);

/** The C name for a TypeScript or C name, or an error naming what exists. */
function resolveName<T extends { name: string }>(d: ObjectDescriptor, table: Array<[string, T]>, key: string, what: "map" | "program", option: string): string {
  for (const [ts, x] of table) if (ts === key || x.name === key) return x.name;
  const known = table.map(([ts, x]) => (ts === x.name ? ts : `${ts} (${x.name})`)).join(", ") || "none";
  throw new BpfError(`load ${d.name}: ${option}: no ${what} "${key}" (the object has: ${known})`, { errno: errno.ENOENT, code: "ENOENT", [what]: key });
}

function positiveInteger(d: ObjectDescriptor, map: string, option: string, n: unknown, allowZero = false): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 0xffffffff) {
    throw new BpfError(`load ${d.name}: ${option} of map ${map} must be a ${allowZero ? "non-negative" : "positive"} integer below 2^32, not ${String(n)}`, { errno: errno.EINVAL, code: "EINVAL", map });
  }
  return n;
}

/** Applies the load options to the opened object; returns the programs given another attach target. */
function configure<C>(d: ObjectDescriptor, native: NativeObject, opts: LoadOptions<C>): Map<string, string> {
  const retargeted = new Map<string, string>();
  const progs = programTable(d, native);
  if (Array.isArray(opts.programs)) {
    const keep = new Set<string>();
    for (const p of opts.programs) keep.add(resolveName(d, progs, p, "program", "programs"));
    for (const p of native.programs()) native.setAutoload(p.name, keep.has(p.name));
  } else if (opts.programs) {
    for (const [key, o] of Object.entries(opts.programs)) {
      const c = resolveName(d, progs, key, "program", "programs");
      if (typeof o !== "object" || o === null) throw new BpfError(`load ${d.name}: programs.${key} must be { autoload?, attachTarget? }, not ${String(o)}`, { errno: errno.EINVAL, code: "EINVAL", program: c });
      if (o.autoload !== undefined) native.setAutoload(c, o.autoload);
      if (o.attachTarget !== undefined) {
        if (typeof o.attachTarget !== "string" || !o.attachTarget) throw new BpfError(`load ${d.name}: programs.${key}.attachTarget must be a function or tracepoint name`, { errno: errno.EINVAL, code: "EINVAL", program: c });
        const name = o.attachTarget;
        call(() => native.setAttachTarget(c, name), `load ${d.name}: program ${c}: attach target "${name}"`, { program: c });
        retargeted.set(c, name);
      }
    }
  }
  const maps = mapTable(d, native);
  for (const [key, n] of Object.entries(opts.maxEntries ?? {})) {
    const c = resolveName(d, maps, key, "map", "maxEntries");
    native.setMaxEntries(c, positiveInteger(d, c, "maxEntries", n));
  }
  for (const [key, o] of Object.entries(opts.maps ?? {})) {
    const c = resolveName(d, maps, key, "map", "maps");
    if (typeof o !== "object" || o === null) throw new BpfError(`load ${d.name}: maps.${key} must be { maxEntries?, keySize?, valueSize?, autocreate?, reuse?, innerMap? }, not ${String(o)}`, { errno: errno.EINVAL, code: "EINVAL", map: c });
    const at = `load ${d.name}: map ${c}`;
    if (o.maxEntries !== undefined) native.setMaxEntries(c, positiveInteger(d, c, "maxEntries", o.maxEntries));
    if (o.keySize !== undefined) call(() => native.setKeySize(c, positiveInteger(d, c, "keySize", o.keySize, true)), `${at}: key size`, { map: c });
    if (o.valueSize !== undefined) call(() => native.setValueSize(c, positiveInteger(d, c, "valueSize", o.valueSize, true)), `${at}: value size`, { map: c });
    if (o.autocreate !== undefined) call(() => native.setAutocreate(c, o.autocreate === true), `${at}: autocreate`, { map: c });
    if (o.reuse !== undefined) {
      const fd = mapFdOf(o.reuse, `${at}: reuse`);
      call(() => native.reuseFd(c, fd), `${at}: reuse`, { map: c });
    }
    if (o.innerMap !== undefined) {
      const fd = mapFdOf(o.innerMap, `${at}: innerMap`);
      call(() => native.setInnerMapFd(c, fd), `${at}: innerMap`, { map: c });
    }
  }
  if (opts.pinPath && opts.pinMaps === "all") {
    for (const m of native.maps()) if (!m.internal) native.setPinPath(m.name, `${opts.pinPath}/${m.name}`);
  }
  if (opts.constants) setConstants(d, native, opts.constants as Record<string, unknown>);
  if (opts.logLevel) native.setLogLevel(opts.logLevel);
  return retargeted;
}

/** The fd of a map given as a load option (reading it throws EBADF when that map's owner is closed). */
function mapFdOf(m: unknown, context: string): number {
  const fd = (m as { fd?: unknown } | null)?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) throw new TypeError(`${context}: expected a map (an object with an fd), got ${describeValue(m)}`);
  return fd;
}

function call(fn: () => void, context: string, place: { map?: string; program?: string }): void {
  try {
    fn();
  } catch (e) {
    throw fromNative(e, { context, ...place });
  }
}

/** Encodes constants into their sections' initial values at the descriptor's offsets. */
function setConstants(d: ObjectDescriptor, native: NativeObject, values: Record<string, unknown>): void {
  const table = d.constants ?? {};
  const bySection = new Map<string, Uint8Array>();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const c = table[key] ?? Object.values(table).find((x) => x.name === key);
    if (!c) throw new BpfError(`load ${d.name}: no constant "${key}" (known: ${Object.keys(table).join(", ") || "none"})`, { errno: errno.ENOENT, code: "ENOENT" });
    let bytes = bySection.get(c.section);
    if (!bytes) {
      const iv = native.initialValue(c.section);
      if (!iv) throw new BpfError(`load ${d.name}: constant ${c.name}: the object has no ${c.section} section`, { errno: errno.ENOENT, code: "ENOENT", map: c.section });
      bytes = new Uint8Array(iv);
      bySection.set(c.section, bytes);
    }
    if (c.offset < 0 || c.offset + c.codec.size > bytes.length) {
      throw new BpfError(`load ${d.name}: constant ${c.name} at ${c.offset}+${c.codec.size} is outside ${c.section} (${bytes.length} bytes)`, { errno: errno.EINVAL, code: "EINVAL" });
    }
    // Encoded aside first, so that a rejected value leaves nothing half-written.
    const encoded = new Uint8Array(c.codec.size);
    try {
      c.codec.encode(value, new DataView(encoded.buffer), 0);
    } catch (e) {
      throw withContext(e, `load ${d.name}: constant ${key}${key === c.name ? "" : ` (${c.name})`}`);
    }
    bytes.set(encoded, c.offset);
  }
  for (const [section, bytes] of bySection) native.setInitialValue(section, bytes);
}

/**
 * Opens, configures and loads `descriptor`'s object for this host. A load failure throws a BpfError
 * with errno, the failing program and the verifier log (tail in the message, all of it in `.log`).
 */
export async function loadObject<D extends ObjectDescriptor>(descriptor: D, opts: LoadOptions<ConstantsOf<D>> = {}): Promise<ObjectsOf<D>> {
  // The load itself (verifier, CO-RE against the kernel's BTF) runs off the JS thread.
  const ms = opts.timeout ?? DEFAULT_LOAD_TIMEOUT;
  if (typeof ms !== "number" || !(ms >= 0) || ms > 0x7fffffff)
    throw new BpfError(`load ${descriptor.name}: timeout must be a number of milliseconds (0: none), not ${String(ms)}`, { errno: errno.EINVAL, code: "EINVAL" });
  return load(descriptor, opts, (native) => (ms === 0 ? native.loadAsync() : bounded(descriptor, native, ms))) as Promise<unknown> as Promise<ObjectsOf<D>>; // typed by the descriptor it was loaded from
}

/** native.loadAsync(), abandoned after `ms`: a load libbpf never finishes must not hold the process. */
function bounded(d: ObjectDescriptor, native: NativeObject, ms: number): Promise<string> {
  const pending = native.loadAsync();
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (!native.abandonLoad()) return; // finished meanwhile: its result is on its way
      reject(new BpfError(`load ${d.name}: libbpf did not finish within ${ms} ms; the load was abandoned (LoadOptions.timeout)`, { errno: errno.ETIMEDOUT, code: "ETIMEDOUT" }));
    }, ms);
    timer.unref(); // the running load keeps the loop alive, not this timer
    pending.then(
      (log) => { clearTimeout(timer); resolve(log); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}

/**
 * For a load libbpf refused because a program's section is newer than the libbpf the addon links
 * (`SEC("tcx/ingress")` under libbpf 1.1 says only "missing BPF prog type"): which libbpf it needs.
 */
function newerSectionHint(sections: ReadonlyMap<string, string>, log: string): string | undefined {
  const have = addon().libbpfVersion.replace(/^v/, "");
  for (const [program, section] of sections) {
    const needs = parseSection(section)?.needsLibbpf;
    if (!needs || !log.includes(`prog '${program}'`) || !olderVersion(have, needs)) continue;
    return `SEC("${section}") needs libbpf ≥ ${needs}, and this runtime's addon is built against libbpf ${have}: build it against a newer libbpf, or use a section name libbpf ${have} knows`;
  }
  return undefined;
}

/** Whether dotted version `a` is older than `b` ("1.1.2" < "1.3"). */
function olderVersion(a: string, b: string): boolean {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

/** `loadObject` without the promise (the verifier runs on the calling thread), for scripts and tests. */
export function loadObjectSync<D extends ObjectDescriptor>(descriptor: D, opts: LoadOptions<ConstantsOf<D>> = {}): ObjectsOf<D> {
  return load(descriptor, opts, (native) => native.load()) as unknown as ObjectsOf<D>;
}

function load<C, R extends string | Promise<string>>(descriptor: ObjectDescriptor, opts: LoadOptions<C>, run: (n: NativeObject) => R): R extends Promise<string> ? Promise<BpfObject> : BpfObject;
function load<C>(descriptor: ObjectDescriptor, opts: LoadOptions<C>, run: (n: NativeObject) => string | Promise<string>): BpfObject | Promise<BpfObject> {
  const pinRoot = opts.pinPath && opts.pinMaps !== "all" ? opts.pinPath : undefined;
  const native = open(descriptor, opts.btfPath, pinRoot, opts.check);
  let sections = new Map<string, string>();
  const failed = (e: unknown): never => {
    native.close();
    if (e instanceof RangeError || e instanceof TypeError) throw e; // a bad value (a constant's), as the caller gave it
    const n = e as { errno?: number; log?: string };
    // With a custom BTF path, a BTF failure is about that file, not the kernel.
    const hint =
      opts.btfPath && n.errno === errno.ENOENT && /BTF/.test(n.log ?? "") ? `the BTF file given as btfPath (${opts.btfPath}) could not be read` : newerSectionHint(sections, n.log ?? "");
    throw fromNative(e, { context: `load ${descriptor.name}`, sectionOf: (p) => sections.get(p), ...(hint ? { hint } : {}) });
  };
  const finish = (): BpfObject => {
    try {
      return new BpfObject(descriptor, native, retargeted);
    } catch (e) {
      native.close();
      throw e;
    }
  };
  let pending: string | Promise<string>;
  let retargeted = new Map<string, string>();
  try {
    retargeted = configure(descriptor, native, opts);
    sections = new Map(native.programs().map((p) => [p.name, p.section]));
    pending = run(native);
  } catch (e) {
    return failed(e);
  }
  return typeof pending === "string" ? finish() : pending.then(finish, failed);
}
