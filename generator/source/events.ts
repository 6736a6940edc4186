// Event types of ring buffers and perf event arrays, inferred from the calls that write them:
// `bpf_ringbuf_reserve`, `bpf_ringbuf_output`, `bpf_perf_event_output` (and `bpf_skb_output`,
// `bpf_xdp_output`), and the helpers and macros libbpf-tools style code wraps them in:
//
//   static __always_inline void *reserve_buf(__u64 sz) { return bpf_ringbuf_reserve(&events, sz, 0); }
//   e = reserve_buf(sizeof(*e));                                  // a helper: followed to its call sites
//   #define EVENT_SIZE(e) (offsetof(typeof(*e), args) + e->args_size)
//   bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, EVENT_SIZE(e));   // a macro: expanded
//
// Helpers are summarised (which parameter carries the map, the record, its size) and their call sites
// read like calls of the helpers they wrap; macros are expanded in the text of the statement that
// uses them and the expansion parsed again. A call whose record type cannot be told is reported with
// its place and text, so the warning can name it.

import { castPointee, declaredVar, getParser, mapArg, specifierSpelling, unparen, type Node, type VarType } from "./syntax.js";

export interface EventFile {
  /** As messages show it. */
  readonly file: string;
  readonly root: Node;
}

/** A call into an event map whose record type (or map) the scan could not tell. */
export interface UnfollowedCall {
  /** The map, when the call names it. */
  readonly map?: string;
  /** `file:line`. */
  readonly where: string;
  /** The call as written (whitespace collapsed, long calls cut). */
  readonly call: string;
}

export interface EventFindings {
  /** Per file, in input order: map name → C spelling of its records (the first found wins). */
  readonly events: Array<Record<string, string>>;
  readonly warnings: string[][];
  readonly unfollowed: UnfollowedCall[][];
}

/** How a call writes an event: which argument is the map, the record, its size; or what a wrapper fixes. */
interface Emitter {
  readonly kind: "reserve" | "output";
  /** Argument index of the map, or the map a wrapper's body names. */
  readonly map: number | string;
  /** Argument index of the record pointer (output calls). */
  readonly data?: number;
  /** Argument index of the size. */
  readonly size?: number;
  /** The record type a wrapper's body fixes. */
  readonly type?: string;
}

const PERF_OUTPUT: Emitter = { kind: "output", map: 1, data: 3, size: 4 };
const BUILTINS: ReadonlyMap<string, Emitter> = new Map([
  ["bpf_ringbuf_reserve", { kind: "reserve", map: 0, size: 1 }],
  ["bpf_ringbuf_output", { kind: "output", map: 0, data: 1, size: 2 }],
  ["bpf_perf_event_output", PERF_OUTPUT],
  ["bpf_skb_output", PERF_OUTPUT],
  ["bpf_xdp_output", PERF_OUTPUT],
]);

/** Typedef names of scalars: a pointer to one is a byte buffer, not a record type. */
const SCALAR_NAME = /^(?:__)?[us](?:8|16|32|64|128)$|^u?int(?:8|16|32|64)_t$|^(?:size_t|ssize_t|bool|_Bool|char|uintptr_t|pid_t|uid_t|gid_t)$/;

interface Macro {
  /** Undefined for object-like macros. */
  readonly params?: readonly string[];
  readonly body: string;
}

export function inferEvents(files: readonly EventFile[], declared: ReadonlySet<string>): EventFindings {
  return new EventInference(files, declared).run();
}

class EventInference {
  private readonly emitters = new Map<string, Emitter>(BUILTINS);
  private readonly macros = new Map<string, Macro>();
  /** Calls inside wrappers that forward the wrapper's parameters: their call sites say what they write. */
  private readonly forwarding = new Set<Node>();
  private readonly pointerTypedefs = new Map<string, string>();

  constructor(
    private readonly files: readonly EventFile[],
    private readonly declared: ReadonlySet<string>,
  ) {}

  run(): EventFindings {
    for (const f of this.files) {
      this.collectMacros(f.root);
      this.collectPointerTypedefs(f.root);
    }
    this.findWrappers();
    const out: EventFindings = { events: [], warnings: [], unfollowed: [] };
    for (const f of this.files) {
      const events: Record<string, string> = {};
      const warnings: string[] = [];
      const unfollowed: UnfollowedCall[] = [];
      const record = (map: string, spelling: string, at: Node) => {
        const known = events[map];
        if (known === undefined) events[map] = spelling;
        else if (known !== spelling) warnings.push(`map "${map}" receives both ${known} and ${spelling} (line ${at.startPosition.row + 1}); using ${known}`);
      };
      const expanded = new Set<number>();
      for (const call of f.root.descendantsOfType("call_expression")) {
        const name = call.childForFieldName("function")?.text ?? "";
        const emitter = this.emitters.get(name);
        if (emitter) {
          this.follow(call, call, emitter, f.file, call, record, unfollowed);
          continue;
        }
        // A macro that expands to an event call: parse the statement that uses it, expanded.
        if (!this.macros.get(name)?.params) continue;
        const statement = enclosingStatement(call);
        if (!statement || expanded.has(statement.startIndex)) continue;
        expanded.add(statement.startIndex);
        const text = this.expand(statement.text);
        if (![...this.emitters.keys()].some((e) => new RegExp(`\\b${e}\\s*\\(`).test(text))) continue;
        const snippet = getParser().parse(`void __bpf2ts_expanded(void) {\n${text}\n}\n`).rootNode;
        for (const inner of snippet.descendantsOfType("call_expression")) {
          const e = this.emitters.get(inner.childForFieldName("function")?.text ?? "");
          if (e) this.follow(inner, statement, e, f.file, call, record, unfollowed);
        }
      }
      out.events.push(events);
      out.warnings.push(warnings);
      out.unfollowed.push(unfollowed);
    }
    return out;
  }

  /**
   * One event call: its map and record type. `scope` is where its variables are declared (the call
   * itself, or for an expanded macro the statement that used it); `shown` is the call as written.
   */
  private follow(call: Node, scope: Node, e: Emitter, file: string, shown: Node, record: (map: string, spelling: string, at: Node) => void, unfollowed: UnfollowedCall[]): void {
    const args = call.childForFieldName("arguments")?.namedChildren ?? [];
    const map = typeof e.map === "string" ? e.map : args[e.map] ? mapArg(args[e.map]!) : undefined;
    const spelling =
      e.type ??
      (e.kind === "reserve" ? this.reservedType(call, scope) : e.data !== undefined && args[e.data] ? this.dataType(args[e.data]!, scope) : undefined) ??
      (e.size !== undefined && args[e.size] ? this.sizeType(args[e.size]!, scope) : undefined);
    if (map !== undefined && spelling !== undefined) return record(map, spelling, shown);
    if (this.forwarding.has(call)) return;
    const text = shown.text.replace(/\s+/g, " ").trim();
    unfollowed.push({ ...(map !== undefined && { map }), where: `${file}:${shown.startPosition.row + 1}`, call: text.length > 100 ? `${text.slice(0, 97)}...` : text });
  }

  /** `typedef struct event *event_p;`: a variable of type `event_p` points to a `struct event`. */
  private collectPointerTypedefs(root: Node): void {
    for (const def of root.descendantsOfType("type_definition")) {
      const target = specifierSpelling(def.childForFieldName("type"));
      if (!target) continue;
      for (const d of def.childrenForFieldName("declarator")) {
        const name = d.type === "pointer_declarator" ? d.childForFieldName("declarator") : null;
        if (name?.type === "type_identifier") this.pointerTypedefs.set(name.text, target);
      }
    }
  }

  /** A variable's type as `variableType` reads it, with pointer typedefs seen through. */
  private variableType(at: Node, name: string): VarType | undefined {
    const v = variableType(at, name);
    const target = v && v.pointers === 0 && !v.array ? this.pointerTypedefs.get(v.spelling) : undefined;
    return target !== undefined ? { spelling: target, pointers: 1, array: false } : v;
  }

  // ---- wrappers

  private collectMacros(root: Node): void {
    for (const def of root.descendantsOfType(["preproc_def", "preproc_function_def"])) {
      const name = def.childForFieldName("name")?.text;
      const value = def.childForFieldName("value")?.text ?? "";
      if (!name || this.macros.has(name)) continue;
      const body = value.replace(/\\\r?\n/g, " ").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, " ").trim();
      if (def.type === "preproc_def") {
        this.macros.set(name, { body });
      } else {
        const params = (def.childForFieldName("parameters")?.children ?? []).filter((c) => c.type === "identifier" || c.type === "...").map((c) => (c.type === "..." ? "__VA_ARGS__" : c.text));
        this.macros.set(name, { params, body });
      }
    }
  }

  /**
   * Functions that pass a parameter (or their return value) through to an event call become
   * emitters themselves, until nothing changes (helpers of helpers).
   */
  private findWrappers(): void {
    const functions = this.files.flatMap((f) => f.root.descendantsOfType("function_definition"));
    for (let pass = 0; pass < 8; pass++) {
      let changed = false;
      for (const fn of functions) {
        const name = plainFunctionName(fn);
        if (!name || this.emitters.has(name)) continue;
        const wrapper = this.wrapperOf(fn);
        if (wrapper) {
          this.emitters.set(name, wrapper);
          changed = true;
        }
      }
      if (!changed) return;
    }
  }

  private wrapperOf(fn: Node): Emitter | undefined {
    const params = parameterNames(fn);
    const paramIndex = (arg: Node | undefined): number | undefined => {
      if (!arg) return undefined;
      let a = unparen(arg);
      while (a.type === "cast_expression") a = unparen(a.childForFieldName("value")!);
      const i = a.type === "identifier" ? params.indexOf(a.text) : -1;
      return i >= 0 ? i : undefined;
    };
    for (const call of fn.descendantsOfType("call_expression")) {
      const inner = this.emitters.get(call.childForFieldName("function")?.text ?? "");
      if (!inner) continue;
      const args = call.childForFieldName("arguments")?.namedChildren ?? [];
      const map = typeof inner.map === "string" ? inner.map : (paramIndex(args[inner.map]) ?? (args[inner.map] ? mapArg(args[inner.map]!) : undefined));
      if (map === undefined) continue;
      const data = inner.data !== undefined ? paramIndex(args[inner.data]) : undefined;
      const size = inner.size !== undefined ? paramIndex(args[inner.size]) : undefined;
      const returns = inner.kind === "reserve" && flowsToReturn(call, fn);
      if (!(returns || typeof map === "number" || data !== undefined || size !== undefined)) continue;
      if (inner.kind === "reserve" && !returns) continue; // reserved and used inside: an ordinary call
      // What the body itself fixes: the helper's return type, or the record/size it passes.
      const type =
        inner.type ??
        (inner.kind === "reserve" ? returnedPointee(fn) : undefined) ??
        (inner.data !== undefined && data === undefined && args[inner.data] ? this.dataType(args[inner.data]!, call) : undefined) ??
        (inner.size !== undefined && size === undefined && args[inner.size] ? this.sizeType(args[inner.size]!, call) : undefined);
      this.forwarding.add(call);
      return { kind: inner.kind, map, ...(data !== undefined && { data }), ...(size !== undefined && { size }), ...(type !== undefined && { type }) };
    }
    return undefined;
  }

  // ---- record types

  /** `T *e = reserve(…)`, `e = (T *)reserve(…)`, `return reserve(…)` in a function returning `T *`. */
  private reservedType(call: Node, scope: Node): string | undefined {
    let node = call;
    while (node.parent && (node.parent.type === "cast_expression" || node.parent.type === "parenthesized_expression")) {
      if (node.parent.type === "cast_expression") {
        const t = castPointee(node.parent);
        if (t) return t;
      }
      node = node.parent;
    }
    const parent = node.parent;
    if (parent?.type === "init_declarator") {
      const decl = parent.parent;
      const declarator = parent.childForFieldName("declarator");
      if (decl?.type === "declaration" && declarator?.type === "pointer_declarator") return recordSpelling(specifierSpelling(decl.childForFieldName("type")));
    }
    if (parent?.type === "assignment_expression") {
      const left = parent.childForFieldName("left");
      if (left?.type === "identifier") {
        const v = this.variableType(scope, left.text);
        if (v && v.pointers === 1) return recordSpelling(v.spelling);
      }
    }
    if (parent?.type === "return_statement") {
      let fn: Node | null = parent;
      while (fn && fn.type !== "function_definition") fn = fn.parent;
      if (fn) return returnedPointee(fn);
    }
    return undefined;
  }

  /** The record from the data argument: `&ev` (a struct local), `e` (a pointer to one), or a buffer some `T *` was cast from. */
  private dataType(arg: Node, scope: Node): string | undefined {
    const inner = unparen(arg);
    if (inner.type === "pointer_expression" && inner.child(0)?.type === "&") {
      const target = unparen(inner.childForFieldName("argument")!);
      if (target.type === "identifier") {
        const v = this.variableType(scope, target.text);
        if (v && v.pointers === 0 && !v.array) return recordSpelling(v.spelling);
      }
    } else if (inner.type === "identifier") {
      const v = this.variableType(scope, inner.text);
      if (v && v.pointers === 1 && recordSpelling(v.spelling)) return v.spelling;
      // `void *buf` / `char buf[…]` holding a record: the type some pointer is cast to from it.
      return castFrom(scope, inner.text);
    } else if (inner.type === "cast_expression") {
      return recordSpelling(castPointee(inner));
    }
    return undefined;
  }

  /**
   * The record type a size expression names, macros expanded: `sizeof(*e)`, `sizeof(struct event)`,
   * `sizeof(event_t)`, `sizeof(ev)`, `offsetof(struct event, args) + n`, `offsetof(typeof(*e), args)`.
   */
  private sizeType(arg: Node, scope: Node): string | undefined {
    const text = this.expand(arg.text);
    const deref = /\b(?:sizeof|typeof|__typeof__|__typeof)\s*\(\s*\*\s*([A-Za-z_]\w*)\s*\)/.exec(text);
    if (deref) {
      const v = this.variableType(scope, deref[1]!);
      if (v && v.pointers === 1) return recordSpelling(v.spelling);
    }
    const tagged = /\b(?:sizeof|offsetof|__builtin_offsetof)\s*\(\s*(struct|union)\s+([A-Za-z_]\w*)/.exec(text);
    if (tagged) return `${tagged[1]} ${tagged[2]}`;
    const named = /\b(?:sizeof|typeof|__typeof__|offsetof|__builtin_offsetof)\s*\(\s*([A-Za-z_]\w*)\s*[,)]/.exec(text);
    if (named) {
      if (this.declared.has(named[1]!)) return named[1]; // a typedef name
      const v = this.variableType(scope, named[1]!);
      if (v && v.pointers === 0 && !v.array) return recordSpelling(v.spelling);
    }
    return undefined;
  }

  /** Expands the macros of `text` (function-like and object-like, nested), as far as the scan knows them. */
  private expand(text: string, depth = 0): string {
    if (depth > 8) return text;
    let changed = false;
    let out = "";
    let i = 0;
    const word = /[A-Za-z_]\w*/g;
    for (let m = word.exec(text); m; m = word.exec(text)) {
      const macro = this.macros.get(m[0]);
      if (!macro || this.emitters.has(m[0])) continue;
      let end = m.index + m[0].length;
      let body = macro.body;
      if (macro.params) {
        let j = end;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] !== "(") continue;
        const close = matchingParen(text, j);
        if (close < 0) continue;
        const args = splitArgs(text.slice(j + 1, close));
        const values = new Map(macro.params.map((p, k) => [p, p === "__VA_ARGS__" ? args.slice(k).join(", ") : (args[k] ?? "")]));
        body = body.replace(/[A-Za-z_]\w*/g, (w) => values.get(w) ?? w);
        end = close + 1;
      }
      out += text.slice(i, m.index) + body;
      i = end;
      word.lastIndex = end;
      changed = true;
    }
    return changed ? this.expand(out + text.slice(i), depth + 1) : text;
  }
}

/** Spellings that can be records: not scalars (`__u8 *buf` is a byte buffer). */
function recordSpelling(spelling: string | undefined): string | undefined {
  return spelling !== undefined && !SCALAR_NAME.test(spelling) ? spelling : undefined;
}

/** The declared type of variable `name` visible at `at`: the enclosing function's locals and params, then globals. */
function variableType(at: Node, name: string): VarType | undefined {
  let fn: Node | null = at;
  while (fn && fn.type !== "function_definition") fn = fn.parent;
  if (fn) {
    for (const decl of fn.descendantsOfType(["declaration", "parameter_declaration"])) {
      const v = declaredVar(decl, name);
      if (v) return v;
    }
  }
  let root: Node = at;
  while (root.parent) root = root.parent;
  for (const decl of root.namedChildren) {
    if (decl.type !== "declaration") continue;
    const v = declaredVar(decl, name);
    if (v) return v;
  }
  return undefined;
}

/** `T *e = (T *)buf` or `e = (T *)buf` in the function around `at`: T. */
function castFrom(at: Node, buffer: string): string | undefined {
  let fn: Node | null = at;
  while (fn && fn.type !== "function_definition") fn = fn.parent;
  if (!fn) return undefined;
  for (const cast of fn.descendantsOfType("cast_expression")) {
    const value = unparen(cast.childForFieldName("value")!);
    if (value.type === "identifier" && value.text === buffer) {
      const t = recordSpelling(castPointee(cast));
      if (t) return t;
    }
  }
  return undefined;
}

/** The pointee of a function's return type (`struct event *reserve(…)`), when it is a record. */
function returnedPointee(fn: Node): string | undefined {
  const declarator = fn.childForFieldName("declarator");
  if (declarator?.type === "pointer_declarator" && declarator.childForFieldName("declarator")?.type === "function_declarator") {
    return recordSpelling(specifierSpelling(fn.childForFieldName("type")));
  }
  return undefined;
}

/** True when the call's value is what `fn` returns: directly, or through a local it returns. */
function flowsToReturn(call: Node, fn: Node): boolean {
  let node = call;
  while (node.parent && (node.parent.type === "cast_expression" || node.parent.type === "parenthesized_expression")) node = node.parent;
  const parent = node.parent;
  if (parent?.type === "return_statement") return true;
  let local: string | undefined;
  if (parent?.type === "init_declarator") {
    let d = parent.childForFieldName("declarator");
    while (d && d.type === "pointer_declarator") d = d.childForFieldName("declarator");
    local = d?.type === "identifier" ? d.text : undefined;
  } else if (parent?.type === "assignment_expression" && parent.childForFieldName("left")?.type === "identifier") {
    local = parent.childForFieldName("left")!.text;
  }
  if (local === undefined) return false;
  return fn.descendantsOfType("return_statement").some((r) => {
    const v = r.namedChildren[0];
    if (!v) return false;
    let x = unparen(v);
    while (x.type === "cast_expression") x = unparen(x.childForFieldName("value")!);
    return x.type === "identifier" && x.text === local;
  });
}

/** A function's name when it is declared plainly (`static void *f(int a)`), not through a program macro. */
function plainFunctionName(fn: Node): string | undefined {
  let d = fn.childForFieldName("declarator");
  while (d && d.type === "pointer_declarator") d = d.childForFieldName("declarator");
  if (d?.type !== "function_declarator") return undefined;
  const id = d.childForFieldName("declarator");
  return id?.type === "identifier" ? id.text : undefined;
}

function parameterNames(fn: Node): string[] {
  let d = fn.childForFieldName("declarator");
  while (d && d.type === "pointer_declarator") d = d.childForFieldName("declarator");
  const list = d?.childForFieldName("parameters")?.namedChildren ?? [];
  return list.map((p) => {
    let x = p.childForFieldName("declarator");
    while (x && x.type !== "identifier") x = x.childForFieldName("declarator") ?? x.namedChild(0);
    return x?.text ?? "";
  });
}

/** The statement a call belongs to (what a macro call's expansion is parsed within). */
function enclosingStatement(node: Node): Node | undefined {
  for (let n: Node | null = node; n; n = n.parent) {
    if (n.type === "expression_statement" || n.type === "declaration" || n.type === "return_statement") return n;
    if (n.type === "compound_statement" || n.type === "function_definition") return undefined;
  }
  return undefined;
}

function matchingParen(t: string, open: number): number {
  let depth = 0;
  for (let j = open; j < t.length; j++) {
    if (t[j] === "(") depth++;
    else if (t[j] === ")" && --depth === 0) return j;
  }
  return -1;
}

/** Top-level comma-separated macro arguments. */
function splitArgs(t: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let j = 0; j < t.length; j++) {
    const c = t[j];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(t.slice(start, j).trim());
      start = j + 1;
    }
  }
  if (t.trim() !== "" || out.length > 0) out.push(t.slice(start).trim());
  return out;
}
