// The object model's shape: what a compiled eBPF object holds, as the emitters and `inspect` see it.
// Types are cited by BTF type id into `ObjectModel.btf` (built by model.ts).

import type { AttachTarget, ProgramKind } from "@bpf2ts/runtime/contract";
import type { Btf, TypeId } from "@bpf2ts/runtime/object-file";
import type { SourceDocs } from "../source/scan.js";

export type { AttachTarget, ProgramKind };

export interface ProgramModel {
  /** The C function name. */
  readonly name: string;
  /** The full `SEC()` string (the ELF section name). */
  readonly section: string;
  readonly kind: ProgramKind;
  /** libbpf's program type name without the prefix (`tracepoint`, `sched_cls`, `cgroup_skb`, …). */
  readonly progType: string;
  /** libbpf's expected attach type without the prefix (`cgroup_inet_ingress`, `trace_fentry`, …), if any. */
  readonly attachType?: string;
  readonly sleepable: boolean;
  /** False for `SEC("?…")`: libbpf does not load it unless asked to (`bpf_program__set_autoload`). */
  readonly autoload: boolean;
  /** True when libbpf can attach it from the section name alone (`bpf_program__attach`). */
  readonly autoAttach: boolean;
  readonly target: AttachTarget;
  /** Number of 8-byte instructions (a 16-byte `ld_imm64` counts as two, as the kernel counts). */
  readonly instructions: number;
  /** BTF FUNC id, when the object has one for it. */
  readonly funcTypeId?: TypeId;
  /** Doc comment from the source, without comment markers. */
  readonly doc?: string;
}

/** A C type referred to by spelling, resolved to a BTF id when the graph has it. */
export interface TypeRef {
  /** As written in C: `struct event`, `union u`, `enum e` or a typedef name. */
  readonly cType: string;
  readonly typeId?: TypeId;
}

export interface EventTypeRef extends TypeRef {
  /** Where the event type came from: the user's `--event map=type`, or the source scan. */
  readonly origin: "override" | "source";
}

export interface MapModel {
  /** The map variable's C name. */
  readonly name: string;
  /** libbpf's map type name without the prefix: `hash`, `ringbuf`, `perf_event_array`, …. */
  readonly type: string;
  /** `BPF_MAP_TYPE_*` value. */
  readonly typeNumber: number;
  /** BTF id of the key type, when declared with `__type(key, …)`. */
  readonly keyTypeId?: TypeId;
  readonly valueTypeId?: TypeId;
  /** Key/value size in bytes: from the key/value type, else `__uint(key_size, …)`, else 0. */
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinning: "none" | "by_name";
  readonly numaNode?: number;
  readonly mapExtra?: bigint;
  /** Map-in-map (`__array(values, struct inner)`): the inner map's definition. */
  readonly inner?: MapModel;
  /** Prog array or map-in-map initial contents: slot index → program or map name. */
  readonly initialValues?: ReadonlyArray<{ readonly index: number; readonly name: string }>;
  /** The map's BTF VAR id and the id of its definition struct. */
  readonly varTypeId: TypeId;
  readonly defTypeId: TypeId;
  /** Ring buffer / perf event array: the type of the records, when known. */
  readonly event?: EventTypeRef;
  readonly doc?: string;
}

export interface VariableModel {
  readonly name: string;
  /** `.rodata`, `.data`, `.bss`, `.data.custom`, …. */
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  /** BTF id of the variable's type (the VAR's target), and of the VAR itself. */
  readonly typeId: TypeId;
  readonly varTypeId: TypeId;
  /** In a `.rodata*` section: set before load, read-only afterwards. */
  readonly constant: boolean;
  /**
   * `static` (BTF linkage static, a local ELF symbol, or a function-scope static such as
   * `bpf_printk`'s `func.____fmt`): listed by `inspect` but, as in `bpftool gen skeleton`, not part
   * of the generated API.
   */
  readonly linkage: "static" | "global";
  readonly doc?: string;
}

/** `extern` variables and functions resolved by libbpf (`.kconfig`, `.ksyms`): listed, never emitted. */
export interface ExternModel {
  readonly name: string;
  readonly section: ".kconfig" | ".ksyms";
  readonly typeId: TypeId;
}

export interface ObjectModel {
  /** The object file as the user named it (for messages). */
  readonly file: string;
  readonly littleEndian: boolean;
  readonly license?: string;
  /** Sorted by name. */
  readonly programs: readonly ProgramModel[];
  /** Sorted by name. */
  readonly maps: readonly MapModel[];
  /** Sorted by section, then offset. */
  readonly variables: readonly VariableModel[];
  readonly externs: readonly ExternModel[];
  /** Types asked for by name (`--type`), resolved where the graph has them. */
  readonly types: readonly TypeRef[];
  /** C type spellings the graph lacks (event types, `--type` names): candidates for a types-only compile. */
  readonly missingTypes: readonly string[];
  /** Doc comments from the source scan (empty records when no source was scanned). */
  readonly docs: SourceDocs;
  readonly btf: Btf;
  /** Things a user should know but that do not stop generation (unknown sections, …). */
  readonly warnings: readonly string[];
}
