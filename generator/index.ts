// bpf2ts as a library: the same pipeline the CLI runs, stage by stage.

export { Bpf2tsError, CompileError, ModelError, SourceError, ToolNotFoundError, UsageError, isBpf2tsError, isKnownError, errorReport } from "./errors.js";
export type { ErrorPlace } from "./errors.js";
export { readElf, ElfError } from "@bpf2ts/runtime/object-file";
export type { ElfFile, ElfSection, ElfSymbol } from "@bpf2ts/runtime/object-file";
export { parseBtf, BtfError, cDeclaration, lookupType, resolve, sizeof, alignof } from "./btf/index.js";
/** @deprecated Use `cDeclaration` and `lookupType` (the names of 0.1). */
export { cDeclaration as typeName, lookupType as resolveTypeName } from "./btf/index.js";
export type { Btf, Type, TypeId, ParsedBtf, DeclaratorStyle } from "./btf/index.js";
export { buildModel, mapTypeNames } from "./model/model.js";
export type { AttachTarget, EventTypeRef, ExternModel, MapModel, ModelOptions, ObjectModel, ProgramKind, ProgramModel, TypeRef, VariableModel } from "./model/model.js";
export { parseSection, sectionDefs } from "@bpf2ts/runtime/contract";
export type { SectionInfo } from "@bpf2ts/runtime/contract";
export { scanSource } from "./source/scan.js";
export { scanSourceTree } from "./source/tree.js";
export type { SourceDocs, SourceScan } from "./source/scan.js";
export { clangArgs, compile, compileTypesOnly, findClang, formatDepfile, objectStem, parseDepfile, parseTargets, splitShellWords } from "./compile/clang.js";
export type { CompileOptions, CompileResult, Target, Tool } from "./compile/clang.js";
export { mergeTypes } from "./source/merge-types.js";
export { generate } from "./emit/files.js";
export type { GenerateInput, GeneratedFile, TargetObject } from "./emit/files.js";
export { buildOutputs, runGenerate, writeFilesAtomically, VERSION } from "./pipeline/run.js";
export type { BuiltOutput, GenerateOptions } from "./pipeline/run.js";
export { formatInspect } from "./cli/inspect.js";
export { main } from "./cli/cli.js";
