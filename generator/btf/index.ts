// BTF: the type graph is parsed by the runtime's reader (@bpf2ts/runtime/object-file); the questions every later stage asks about it are
// in query.ts (what a type resolves to, its size and alignment) and declarator.ts (how C spells it).


// The wire reader (parseBtf, the type graph, BtfError) is the runtime's, shared with its loader.
export { BtfError, parseBtf, Kind, kindNames, Linkage, type ParseBtfOptions, type ParsedBtf, type BtfHeader } from "@bpf2ts/runtime/object-file";
export type {
  TypeId, Void, Int, Ptr, Array, Member, Struct, Union, EnumValue, Enum, Enum64, Fwd, Typedef, Volatile, Const, Restrict, Func, Param, FuncProto, Var, VarSecinfo, Datasec, Float, DeclTag, TypeTag, Type, Btf,
} from "@bpf2ts/runtime/object-file";

// The questions about the graph (query.ts) and the C declarator printer (declarator.ts).
export { MAX_DEPTH, MAX_SIZE, typeError, kindName, typeAt, isQualifier, follow, skipQualifiers, resolve, sizeof, alignof, isPacked, lookupType, type TypePlace } from "./query.js";
export { cDeclaration, anonymousSpelling, MAX_DECLARATOR_STEPS, type DeclaratorStyle, type Anonymous } from "./declarator.js";
