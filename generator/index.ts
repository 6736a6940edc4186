// bpf2ts as a library: the same pipeline the CLI runs, stage by stage.

export { Bpf2tsError, CompileError, ModelError, SourceError, ToolNotFoundError, UsageError, isBpf2tsError } from "./errors.js";
export type { ErrorPlace } from "./errors.js";
export { readElf, ElfError } from "@bpf2ts/runtime/object-file";
export type { ElfFile, ElfSection, ElfSymbol } from "@bpf2ts/runtime/object-file";
export { parseBtf, BtfError, typeName } from "./btf/index.js";
export type { Btf, Type, TypeId, ParsedBtf } from "./btf/index.js";
export { buildModel, mapTypeNames, resolveTypeName } from "./model.js";
export type { AttachTarget, EventTypeRef, ExternModel, MapModel, ModelOptions, ObjectModel, ProgramKind, ProgramModel, TypeRef, VariableModel } from "./model.js";
export { parseSection, sectionDefs } from "@bpf2ts/runtime/contract";
export type { SectionInfo } from "@bpf2ts/runtime/contract";
export { scanSource } from "./source.js";
export { scanSourceTree } from "./source-tree.js";
export type { SourceDocs, SourceScan } from "./source.js";
export { clangArgs, compile, compileTypesOnly, findClang, findStrip, formatDepfile, objectStem, parseDepfile, parseTargets, splitShellWords } from "./clang.js";
export type { CompileOptions, CompileResult, Target, Tool } from "./clang.js";
export { mergeTypes } from "./merge-types.js";
export { generate } from "./generate.js";
export type { GenerateInput, GeneratedFile, TargetObject } from "./generate.js";
export { buildOutputs, runGenerate, writeFilesAtomically, VERSION } from "./pipeline.js";
export type { BuiltOutput, GenerateOptions } from "./pipeline.js";
export { formatInspect } from "./inspect.js";
export { main } from "./cli.js";
