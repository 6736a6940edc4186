// The BTF type graph as the rest of the generator sees it.
//
// One interface per BTF kind, as a union keyed on `kind`. Types refer to each other by id (an index
// into `Btf.types`), never by object reference: the graph is cyclic (a struct may point to itself) and
// ids are what error messages and TSDoc cite. Id 0 is `void`.
//
// Kernel reference: include/uapi/linux/btf.h and Documentation/bpf/btf.rst. The kernel version that
// added each kind is noted beside it.

export type TypeId = number;

export const enum Kind {
  Void = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12, // 5.0
  FuncProto = 13, // 5.0
  Var = 14, // 5.2
  Datasec = 15, // 5.2
  Float = 16, // 5.13
  DeclTag = 17, // 5.16
  TypeTag = 18, // 5.17
  Enum64 = 19, // 6.0
}

/** Human-readable kind names, as bpftool prints them. */
export const kindNames: Readonly<Record<Kind, string>> = {
  [Kind.Void]: "VOID",
  [Kind.Int]: "INT",
  [Kind.Ptr]: "PTR",
  [Kind.Array]: "ARRAY",
  [Kind.Struct]: "STRUCT",
  [Kind.Union]: "UNION",
  [Kind.Enum]: "ENUM",
  [Kind.Fwd]: "FWD",
  [Kind.Typedef]: "TYPEDEF",
  [Kind.Volatile]: "VOLATILE",
  [Kind.Const]: "CONST",
  [Kind.Restrict]: "RESTRICT",
  [Kind.Func]: "FUNC",
  [Kind.FuncProto]: "FUNC_PROTO",
  [Kind.Var]: "VAR",
  [Kind.Datasec]: "DATASEC",
  [Kind.Float]: "FLOAT",
  [Kind.DeclTag]: "DECL_TAG",
  [Kind.TypeTag]: "TYPE_TAG",
  [Kind.Enum64]: "ENUM64",
};

interface Base {
  readonly id: TypeId;
  /** Empty string for anonymous types. */
  readonly name: string;
}

export interface Void extends Base {
  readonly kind: Kind.Void;
}

export interface Int extends Base {
  readonly kind: Kind.Int;
  /** Size in bytes (1, 2, 4, 8 or 16). */
  readonly size: number;
  readonly signed: boolean;
  readonly char: boolean;
  readonly bool: boolean;
  /** BTF_INT_OFFSET: bit offset of the value inside its storage (almost always 0). */
  readonly bitOffset: number;
  /** BTF_INT_BITS: number of value bits (≤ size * 8). */
  readonly bits: number;
}

export interface Ptr extends Base {
  readonly kind: Kind.Ptr;
  readonly type: TypeId;
}

export interface Array extends Base {
  readonly kind: Kind.Array;
  readonly type: TypeId;
  readonly indexType: TypeId;
  readonly nelems: number;
}

export interface Member {
  /** Empty string for an anonymous struct/union member. */
  readonly name: string;
  readonly type: TypeId;
  /** Offset of the member in bits from the start of the composite. */
  readonly bitOffset: number;
  /** Non-zero only for bitfields (when the composite has kind_flag set, or legacy INT-encoded bitfields are normalised into this). */
  readonly bitSize: number;
}

export interface Struct extends Base {
  readonly kind: Kind.Struct;
  readonly size: number;
  /** Built on first read by a prototype getter: `{ ...t }` does not copy it, read it explicitly. */
  readonly members: readonly Member[];
}

export interface Union extends Base {
  readonly kind: Kind.Union;
  readonly size: number;
  /** Built on first read by a prototype getter: `{ ...t }` does not copy it, read it explicitly. */
  readonly members: readonly Member[];
}

export interface EnumValue {
  readonly name: string;
  /** Always a bigint so ENUM and ENUM64 read the same; signedness already applied. */
  readonly value: bigint;
}

export interface Enum extends Base {
  readonly kind: Kind.Enum;
  /** Size in bytes (1, 2, 4). */
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly EnumValue[];
}

export interface Enum64 extends Base {
  readonly kind: Kind.Enum64;
  /** Size in bytes (8). */
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly EnumValue[];
}

export interface Fwd extends Base {
  readonly kind: Kind.Fwd;
  /** Forward declaration of a union (true) or a struct (false). */
  readonly union: boolean;
}

export interface Typedef extends Base {
  readonly kind: Kind.Typedef;
  readonly type: TypeId;
}

export interface Volatile extends Base {
  readonly kind: Kind.Volatile;
  readonly type: TypeId;
}

export interface Const extends Base {
  readonly kind: Kind.Const;
  readonly type: TypeId;
}

export interface Restrict extends Base {
  readonly kind: Kind.Restrict;
  readonly type: TypeId;
}

export const enum Linkage {
  Static = 0,
  Global = 1,
  Extern = 2,
}

export interface Func extends Base {
  readonly kind: Kind.Func;
  /** The FUNC_PROTO. */
  readonly type: TypeId;
  readonly linkage: Linkage;
}

export interface Param {
  readonly name: string;
  readonly type: TypeId;
}

export interface FuncProto extends Base {
  readonly kind: Kind.FuncProto;
  readonly returnType: TypeId;
  /**
   * A trailing param with type 0 and no name means variadic. Built on first read by a prototype
   * getter: `{ ...t }` does not copy it, read it explicitly.
   */
  readonly params: readonly Param[];
}

export interface Var extends Base {
  readonly kind: Kind.Var;
  readonly type: TypeId;
  readonly linkage: Linkage;
}

export interface VarSecinfo {
  /** The VAR (or FUNC, for .ksyms) described. */
  readonly type: TypeId;
  readonly offset: number;
  readonly size: number;
}

export interface Datasec extends Base {
  readonly kind: Kind.Datasec;
  readonly size: number;
  readonly vars: readonly VarSecinfo[];
}

export interface Float extends Base {
  readonly kind: Kind.Float;
  /** 2, 4, 8, 12 or 16. */
  readonly size: number;
}

export interface DeclTag extends Base {
  readonly kind: Kind.DeclTag;
  readonly type: TypeId;
  /** -1 for the type itself, otherwise the member or parameter index. */
  readonly componentIdx: number;
}

export interface TypeTag extends Base {
  readonly kind: Kind.TypeTag;
  readonly type: TypeId;
}

export type Type =
  | Void
  | Int
  | Ptr
  | Array
  | Struct
  | Union
  | Enum
  | Enum64
  | Fwd
  | Typedef
  | Volatile
  | Const
  | Restrict
  | Func
  | FuncProto
  | Var
  | Datasec
  | Float
  | DeclTag
  | TypeTag;

/** A parsed BTF blob. `types[0]` is void; `types[id].id === id`. */
export interface Btf {
  readonly types: readonly Type[];
  /** Byte order the blob was written in. */
  readonly littleEndian: boolean;
  /** Ids of the named types by name (a name may have several ids, e.g. a FWD and its STRUCT). */
  byName(name: string): readonly TypeId[];
}
