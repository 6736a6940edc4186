// Every symbol a generated module may import from the runtime's public entry, with whether it is type-only.
// The emitter takes the names it writes from here (and only these); index.ts exports each of them.

export interface RuntimeSymbol {
  readonly typeOnly: boolean;
}

export const symbols = {
  // codecs and structs
  LE: { typeOnly: false },
  codecs: { typeOnly: false },
  codecOf: { typeOnly: false },
  struct: { typeOnly: false },
  rawCodec: { typeOnly: false },
  Codec: { typeOnly: true },
  Struct: { typeOnly: true },
  FieldInfo: { typeOnly: true },
  // loader
  loadObject: { typeOnly: false },
  objectSpec: { typeOnly: false },
  BpfObject: { typeOnly: true },
  ObjectDescriptor: { typeOnly: true },
  ObjectsOf: { typeOnly: true },
  ConstantsOf: { typeOnly: true },
  LoadOptions: { typeOnly: true },
  ObjectSpec: { typeOnly: true },
  // programs and links
  Program: { typeOnly: true },
  ProgramKind: { typeOnly: true },
  AttachOptions: { typeOnly: true },
  Link: { typeOnly: true },
  IterLink: { typeOnly: true },
  LinkSet: { typeOnly: true },
  // maps
  BpfMap: { typeOnly: true },
  HashMap: { typeOnly: true },
  LruHashMap: { typeOnly: true },
  ArrayMap: { typeOnly: true },
  PerCpuHashMap: { typeOnly: true },
  LruPerCpuHashMap: { typeOnly: true },
  PerCpuArrayMap: { typeOnly: true },
  StackTraceMap: { typeOnly: true },
  RingBuf: { typeOnly: true },
  PerfEventArray: { typeOnly: true },
  // globals
  // metrics declared by `@metric` tags
  MetricSpec: { typeOnly: true },
  Variable: { typeOnly: true },
} as const satisfies Record<string, RuntimeSymbol>;

export type RuntimeSymbolName = keyof typeof symbols;
