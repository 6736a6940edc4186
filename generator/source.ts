// Source scan of the user's `.bpf.c` with tree-sitter-c: event types of ring buffers and perf event
// arrays, doc comments, and the type names the source declares.

/** Doc comments without comment markers, keyed by C name. */
export interface SourceDocs {
  /** struct/union/enum tag or typedef name → doc. */
  readonly types: Readonly<Record<string, string>>;
  /** `<type name>.<field>` (nested anonymous members by their path: `event.u.x`) → doc. */
  readonly fields: Readonly<Record<string, string>>;
  /** Map variable name → doc. */
  readonly maps: Readonly<Record<string, string>>;
  /** Program function name → doc. */
  readonly programs: Readonly<Record<string, string>>;
  /** Global variable name → doc. */
  readonly variables: Readonly<Record<string, string>>;
}

export interface SourceScan {
  readonly file: string;
  /** Map name → C spelling of the records written into it (`struct event`, `event_t`). */
  readonly events: Readonly<Record<string, string>>;
  readonly docs: SourceDocs;
  /** Types the source declares, spelled as C would (`struct event`, `enum kind`, `u32` for typedefs). */
  readonly declaredTypes: readonly string[];
}

export const emptyDocs: SourceDocs = { types: {}, fields: {}, maps: {}, programs: {}, variables: {} };
