// @bpf2ts/runtime: load, attach and talk to eBPF objects from Node.js. Generated modules import only
// from here (contract/symbols.ts lists exactly what they may use).

export { LE, codecs, rawCodec, toBytes, fromBytes, type Codec, type Struct, type FieldInfo } from "./codec.js";
export { struct, codecOf, type FieldSpec, type StructSpec } from "./struct.js";
export {
  loadObject, loadObjectSync, objectSpec, wrapMap, BpfObject,
  type ObjectDescriptor, type InnerMapDescriptor, type ObjectsOf, type ConstantsOf, type MapWrappers, type ProgramDescriptor, type MapDescriptor, type VariableDescriptor,
  type LoadOptions, type MapLoadOptions, type ProgramLoadOptions, type ObjectSpec, type ProgramSpec, type MapSpec, type AnyMap,
} from "./object.js";
export {
  Program, kindOfSection, socketFd, packetSocket, cgroup2Root, type PacketSocket,
  type ProgramKind, type AttachOptions, type InterfaceRef, type TestRunOptions, type TestRunResult,
} from "./programs.js";
export { Link, IterLink, LinkSet } from "./links.js";
export {
  BpfMap, HashMap, LruHashMap, ArrayMap, PerCpuHashMap, LruPerCpuHashMap, PerCpuArrayMap, StackTraceMap,
  perCpuCodec, perCpuStride, type UpdateFlag,
} from "./maps.js";
export { ArrayOfMaps, HashOfMaps, MapOfMaps, ProgramArray } from "./map-of-maps.js";
export { QueueMap, StackMap, BloomFilterMap, type PushFlag } from "./keyless-maps.js";
export { openPinnedMap, createMap, openMapById, type MapOptions, type StandaloneCodecs } from "./pinned.js";
export { Variable } from "./variables.js";
export { RingBuf, type RingBufOptions, type RecordCallback } from "./ringbuf.js";
export { PerfEventArray, type PerfEventArrayOptions, type LostCallback } from "./perf.js";
export { EventReaderError, recordsOf, type EventRecord, type EventCallback } from "./event-reader.js";
export { BpfError, type BpfErrorFields } from "./errors.js";
// Metric descriptors (plain data, emitted by `@metric` tags); serving them: @bpf2ts/runtime/metrics, /otlp.
export type { MetricSpec, LabelSpec, BucketSpec, MetricKind, LabelFormat, Unit } from "./contract/metrics.js";
export { AddonError } from "./addon.js";
export { possibleCpus, possibleCpuCount, onlineCpus, parseCpuList } from "./cpus.js";
export {
  ElfImage, ElfSymbolsError, readFunctionSymbols, resolveSymbolOffset, STT_FUNC, STT_OBJECT,
  type ElfSymbol, type FunctionSymbol,
} from "./elf-symbols.js";
export type { MapHandle, MapTypeName, ResourceOwner, Closeable } from "./handles.js";
export {
  haveProgramType, haveMapType, haveHelper, haveMapBatchOps, libbpfVersion, haveKernelFunction, fentryCanAttach, kprobeExists, tracepointExists,
} from "./features.js";
export {
  cgroupKinds, parseSection, programKinds, sectionDefs, mapTypeNames, mapWrappers, parseFieldType,
  type AttachTarget, type SectionDef, type SectionInfo, type FieldType, type MapShape,
} from "./contract/index.js";
