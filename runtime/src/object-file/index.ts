// @bpf2ts/runtime/object-file: the ELF and BTF reader shared by the generator and the loader, as
// plain TypeScript (no addon). checkObject is what the loader runs before handing bytes to libbpf.
export { ObjectFileError, type ObjectFilePlace } from "./errors.js";
export * from "./elf.js";
export * from "./btf/index.js";
export { checkObject, checkParsedObject, checkBtf } from "./check.js";
