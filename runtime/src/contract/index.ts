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
