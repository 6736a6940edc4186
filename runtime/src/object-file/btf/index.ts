// The BTF wire reader: parseBtf and the type graph it builds.
export { BtfError, BTF_MAGIC, readHeader, label, type BtfHeader, type Where } from "./wire.js";
export { StringTable } from "./strings.js";
export { parseBtf, type ParseBtfOptions, type ParsedBtf } from "./parse.js";
export * from "./types.js";
