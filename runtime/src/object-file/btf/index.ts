// The BTF wire reader: parseBtf and the type graph it builds; the walks every reader of it needs.
export { BtfError, BTF_MAGIC, readHeader, label, type BtfHeader, type Where } from "./wire.js";
export { StringTable } from "./strings.js";
export { parseBtf, type ParseBtfOptions, type ParsedBtf } from "./parse.js";
export * from "./types.js";
export { MAX_DEPTH, MAX_SIZE, typeError, kindName, typeAt, isQualifier, follow, skipQualifiers, resolve, type TypePlace, type TypeGraph } from "./query.js";
