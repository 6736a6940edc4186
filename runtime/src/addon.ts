// The native addon's interface and its loader. Arguments are validated by the TypeScript callers
// before they cross into C++; the addon itself only wraps libbpf and fds.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EventsAddon } from "./events-addon.js";
import { BpfError } from "./errors.js";

/** The ABI this TypeScript expects; the addon exports its own and a mismatch refuses to load. */
export const ABI_VERSION = 7;

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: number;
  typeName: string;
  attachType: number;
  attachTypeName: string;
  insnCount: number;
  autoload: boolean;
  fd: number;
}

/** A map's kernel shape, as both libbpf (before load) and the kernel (by fd) describe it. */
export interface NativeMapShape {
  name: string;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/** A map of a loaded object, from libbpf. */
export interface NativeMapInfo extends NativeMapShape {
  internal: boolean;
  pinPath?: string;
  fd: number;
}

/** An opened libbpf `bpf_object`. Every method throws an errno error (`errno`, `code`, `log`). */
export interface NativeObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  setMaxEntries(map: string, n: number): void;
  setKeySize(map: string, n: number): void;
  setValueSize(map: string, n: number): void;
  /** false: libbpf does not create the map (its fd stays -1). */
  setAutocreate(map: string, create: boolean): void;
  reuseFd(map: string, fd: number): void;
  setInnerMapFd(map: string, fd: number): void;
  /** `bpf_program__set_attach_target(prog, 0, target)`: a kernel function/tracepoint from BTF. */
  setAttachTarget(program: string, target: string): void;
  initialValue(map: string): Uint8Array | undefined;
  setInitialValue(map: string, bytes: Uint8Array): void;
  setPinPath(map: string, path: string | null): void;
  setAutoload(program: string, load: boolean): void;
  setLogLevel(level: number): void;
  /** Returns what libbpf printed while loading. */
  load(): string;
  /** The same on a thread of its own; the object is busy (EBUSY) until it settles. */
  loadAsync(): Promise<string>;
  /**
   * Gives up a running loadAsync: its promise never settles, it no longer keeps the event loop
   * alive, and the object is left closed (the thread frees it if libbpf ever returns). False when
   * no load is running or it has just finished (its result is on its way).
   */
  abandonLoad(): boolean;
  programFd(program: string): number;
  mapFd(map: string): number;
  programLog(program: string): string | undefined;
  /** Live bytes of a writable mmapable map (detached at close), a copy for read-only ones. */
  mmap(map: string): ArrayBuffer | undefined;
  close(): void;
}

export interface NativeLink {
  /** -1 for attachments that are not bpf_links (tc, XDP with flags, socket filters). */
  fd(): number;
  pin(path: string): void;
  unpin(): void;
  detach(): void;
  close(): void;
}

export interface NativeTestRunResult {
  ret: number;
  retval: number;
  duration: number;
  dataOut?: Uint8Array;
  ctxOut?: Uint8Array;
}

/** Any map by fd, from the kernel (BPF_OBJ_GET_INFO_BY_FD). */
export interface NativeMapMeta extends NativeMapShape {
  id: number;
}

type Buf = Uint8Array | null;

export interface CoreAddon {
  abiVersion: number;
  libbpfVersion: string;
  NativeObject: new (elf: Uint8Array, name: string, btfPath?: string, pinRoot?: string) => NativeObject;
  probeProgType(type: number): number;
  probeMapType(type: number): number;
  probeHelper(progType: number, helper: number): number;
  mapTypeName(type: number): string | undefined;
  progTypeName(type: number): string | undefined;
  closeFd(fd: number): void;
  /** BTF id of kernel FUNC `name` (vmlinux, or the module's BTF): > 0, 0 when absent, -errno. */
  kernelFunctionId(name: string, module?: string): number;
  /** 1 when a trial fentry program on `name` loads and attaches, 0 when no such FUNC, else -errno. */
  probeFentry(name: string, module?: string): number;
  numPossibleCpus(): number;

  // Maps: 0 or -errno, never a throw on the hot path.
  mapLookup(fd: number, key: Buf, value: Uint8Array, flags: number): number;
  mapUpdate(fd: number, key: Buf, value: Uint8Array, flags: number): number;
  mapDelete(fd: number, key: Uint8Array): number;
  mapLookupAndDelete(fd: number, key: Buf, value: Uint8Array): number;
  mapGetNextKey(fd: number, key: Buf, next: Uint8Array): number;
  mapLookupBatch(fd: number, inBatch: Buf, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: number, del: boolean): [number, number];
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, flags: number): [number, number];
  mapDeleteBatch(fd: number, keys: Uint8Array, count: number): [number, number];
  mapFreeze(fd: number): number;
  /**
   * Native memory for one map wrapper, [fd i32, flags u32, result i32, (addon) | key (8-aligned) | value],
   * and its slot number for the slot calls.
   */
  mapMemory(keySize: number, valueSize: number): [number, ArrayBuffer];
  /**
   * Act on whatever fd, flags, key and value the slot's memory holds and leave 0 or -errno in its
   * `result` (untouched for a bad slot).
   */
  slotLookup(slot: number): void;
  slotUpdate(slot: number): void;
  slotDelete(slot: number): void;
  /** The values of a BPF_F_MMAPABLE array map (`bytes` of them) as shared memory; throws on error. */
  mapMmap(fd: number, bytes: number, writable: boolean): ArrayBuffer;
  /** Detaches a buffer from mapMmap and unmaps it now. */
  mapUnmap(buffer: ArrayBuffer): void;
  mapInfo(fd: number): NativeMapMeta;
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags: number, innerFd?: number): number;
  mapFdById(id: number): number;
  objGet(path: string): number;
  objPin(fd: number, path: string): void;

  // Links.
  attachAuto(obj: NativeObject, prog: string): NativeLink;
  attachTracepoint(obj: NativeObject, prog: string, category: string, name: string): NativeLink;
  attachRawTracepoint(obj: NativeObject, prog: string, name: string): NativeLink;
  attachTrace(obj: NativeObject, prog: string): NativeLink;
  attachLsm(obj: NativeObject, prog: string): NativeLink;
  attachKprobe(obj: NativeObject, prog: string, retprobe: boolean, func: string, offset: number): NativeLink;
  attachUprobe(obj: NativeObject, prog: string, retprobe: boolean, pid: number, path: string, offset: number, refCtrOffset?: number, cookie?: bigint): NativeLink;
  attachUsdt(obj: NativeObject, prog: string, pid: number, path: string, provider: string, name: string, cookie?: bigint): NativeLink;
  perfEventOpen(type: number, config: number, cpu: number, pid: number, periodOrFreq: number, useFreq: boolean): number;
  attachPerfEvent(obj: NativeObject, prog: string, perfFd: number): NativeLink;
  attachXdp(obj: NativeObject, prog: string, ifindex: number, flags: number): NativeLink;
  attachTc(obj: NativeObject, prog: string, ifindex: number, ingress: boolean, priority?: number, handle?: number): NativeLink;
  attachCgroup(obj: NativeObject, prog: string, cgroupPath: string): NativeLink;
  attachSocket(obj: NativeObject, prog: string, socketFd: number): NativeLink;
  openPacketSocket(ifindex: number): number;
  attachIter(obj: NativeObject, prog: string): NativeLink;
  iterRead(link: NativeLink): Uint8Array;

  // Programs.
  testRun(fd: number, dataIn: Buf, dataOutSize: number, ctxIn: Buf, ctxOutSize: number, repeat: number, flags: number, cpu: number): NativeTestRunResult;
}

export type Addon = CoreAddon & EventsAddon;

/** Thrown when the native addon is missing, fails to load, or was built for another ABI. */
export class AddonError extends BpfError {
  override readonly name: string = "AddonError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : {});
  }
}

let cached: Addon | undefined;

/**
 * Where the addon is looked for, in order (as node-gyp-build does, but prebuilt first): the one built
 * for this platform when the package was packed, then a local build from source (`npm rebuild`).
 */
export function addonPaths(): string[] {
  const root = fileURLToPath(new URL("..", import.meta.url));
  return [join(root, "prebuilds", `${process.platform}-${process.arch}`, "bpf2ts.node"), join(root, "build", "Release", "bpf2ts.node")];
}

/** What a host needs for the addon to load, or to build it when no prebuilt one fits. */
const INSTALL_HINT =
  "The prebuilt addon (linux-x64, linux-arm64) needs only libbpf.so.1 at run time: apt-get install libbpf1 " +
  "(Debian 12+, Ubuntu 23.04+; it brings libelf1 and zlib1g). Elsewhere build it from source: " +
  "apt-get install libbpf-dev libelf-dev zlib1g-dev pkg-config g++ make python3, then BPF2TS_BUILD_FROM_SOURCE=1 npm rebuild @bpf2ts/runtime";

/** The addon, loaded once from the first of `addonPaths()` that loads and has this runtime's ABI. */
export function addon(): Addon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of addonPaths()) {
    if (!existsSync(path)) {
      failures.push(`${path}: not there`);
      continue;
    }
    let a: Addon;
    try {
      a = require(path) as Addon;
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message}`);
      continue;
    }
    if (a.abiVersion !== ABI_VERSION) {
      failures.push(`${path}: built for ABI version ${a.abiVersion}, this runtime expects ${ABI_VERSION}`);
      continue;
    }
    cached = a;
    return a;
  }
  throw new AddonError(`load native addon: none loads:\n  ${failures.join("\n  ")}\n${INSTALL_HINT}`);
}
