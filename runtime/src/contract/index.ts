// The contract between generated code and the runtime, as plain data: what the generator writes
// and the runtime reads. `@bpf2ts/runtime/contract` loads no native addon, so the generator (and
// any tool) can import it on a machine without libbpf.

export {
  cgroupKinds, parseSection, programKinds, sectionDefs, sectionMatches,
  type AttachTarget, type ProgramKind, type SectionDef, type SectionInfo,
} from "./sections.js";
export {
  checkSpec, defineMetrics, labelFormats, unitScale, units,
  type BucketSpec, type LabelFormat, type LabelSpec, type MetricKind, type MetricSpec, type Unit,
} from "./metrics.js";
export { baseCapabilities, capabilitiesFor, type CapabilityNeed, type ProgramCapabilityInput } from "./capabilities.js";
export { parseFieldType, scalarTypes, type FieldType, type ParsedFieldType, type ScalarName, type StructRef } from "./fields.js";
export { isEventMap, mapTypeName, mapTypeNames, mapWrapper, mapWrappers, type MapShape, type MapTypeName, type WrappedMapType } from "./maps.js";
export { symbols, type RuntimeSymbol, type RuntimeSymbolName } from "./symbols.js";
