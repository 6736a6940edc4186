// The stages `generate` runs after starting clang (ELF/BTF reading, the source scan, the model, the
// emitters), gathered in one module that run.ts imports dynamically: loading them (tree-sitter, the
// emitters) then overlaps the compile instead of delaying clang's start.

export { buildRecord, formatRecord } from "../emit/build-record.js";
export { parseBtfExt } from "../btf/ext.js";
export { Kind, lookupType, parseBtf } from "../btf/index.js";
export { layoutModule } from "../layout/roots.js";
export { checkParsedObject, readElf } from "@bpf2ts/runtime/object-file";
export { embedObjectAsync, generate } from "../emit/files.js";
export { mergeTypes } from "../source/merge-types.js";
export { compareLineInfo, compareWithSource } from "../model/compare.js";
export { buildModel } from "../model/model.js";
export { compileSourceTypes, savedSourceTypes } from "../source/types-only.js";
