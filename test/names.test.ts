import test from "ava";
import { camelCase, checkIdentifier, escapeReserved, memberName, NameScope, objectNames, pascalCase, typeName } from "../generator/layout/names.js";

test("snake_case members become camelCase, keeping leading and trailing underscores", (t) => {
  const cases: [string, string][] = [
    ["pid", "pid"],
    ["target_pid", "targetPid"],
    ["old_state_ns", "oldStateNs"],
    ["MAX_LEN", "maxLen"],
    ["__pad", "__pad"],
    ["_x_y", "_xY"],
    ["x_", "x_"],
    ["a__b", "aB"],
    ["pidTgid", "pidTgid"],
    ["ipv4_addr2", "ipv4Addr2"],
  ];
  for (const [c, ts] of cases) t.is(camelCase(c), ts, c);
});

test("types are PascalCase with the stem as prefix", (t) => {
  t.is(typeName("exec", "event"), "ExecEvent");
  t.is(typeName("tcp_states", "sock_info"), "TcpStatesSockInfo");
  t.is(typeName("exec-snoop", "event"), "ExecSnoopEvent");
  t.is(pascalCase("TASK_COMM"), "TaskComm");
  t.is(pascalCase("9lives"), "_9lives");
});

test("reserved words and Object.prototype names are escaped", (t) => {
  t.is(memberName("default"), "default_");
  t.is(memberName("constructor"), "constructor_");
  t.is(memberName("__proto__"), "__proto___");
  t.is(memberName("class"), "class_");
  t.is(memberName("to_string"), "toString_");
  t.is(memberName("has_own_property"), "hasOwnProperty_");
  // Contextual words are fine as property names and stay readable.
  t.is(memberName("type"), "type");
  t.is(memberName("from"), "from");
  t.is(escapeReserved("pid"), "pid");
});

test("two C names mapping to one TS name fail with both C names", (t) => {
  const scope = new NameScope("members of struct clash (BTF type id 9)");
  scope.claim(memberName("pid_tgid"), "pid_tgid");
  t.is(scope.claim(memberName("pid_tgid"), "pid_tgid"), "pidTgid", "claiming again for the same C name is fine");
  const err = t.throws(() => scope.claim(memberName("pidTgid"), "pidTgid"));
  t.is(err?.name, "NameClashError");
  t.regex(err!.message, /members of struct clash \(BTF type id 9\): C names "pid_tgid" and "pidTgid" both map to the TS name "pidTgid"/);
});

test("object-level names follow the stem", (t) => {
  t.deepEqual(objectNames("exec_snoop"), {
    load: "loadExecSnoop",
    spec: "execSnoopSpec",
    objects: "ExecSnoopObjects",
    constants: "ExecSnoopConstants",
    metrics: "execSnoopMetrics",
  });
});

test("checkIdentifier: valid identifiers pass; anything tsc would reject is a NameError naming the C symbol", (t) => {
  for (const ok of ["pid", "_x", "$y", "café", "targetPid", "string", "number", "eval"]) t.is(checkIdentifier(ok, ok, "ctx"), ok);
  for (const [ts, c] of [["handle.Fmt", "handle.____fmt"], ["a-b", "a-b"], ["", "___"], ["9x", "9x"], ["a b", "a b"]] as const) {
    const err = t.throws(() => checkIdentifier(ts, c, "constants of x"));
    t.is(err?.name, "NameError");
    t.is((err as { symbol?: string }).symbol, c);
    t.true(err!.message.startsWith(`constants of x: C name "${c}" gives the TS name "${ts}"`), err!.message);
  }
  // Object keys may be keywords, but __proto__ would set the prototype.
  t.is(checkIdentifier("default", "default", "m"), "default");
  t.throws(() => checkIdentifier("__proto__", "__proto__", "m"), { name: "NameError" });
  // Top-level declarations may not be reserved words or primitive type names.
  for (const w of ["class", "eval", "arguments", "string", "undefined", "let"]) t.throws(() => checkIdentifier(w, w, "m", "binding"), { name: "NameError" }, w);
  t.is(checkIdentifier("ExecEvent", "struct event", "m", "binding"), "ExecEvent");
});

test("NameScope: claims are checked; names the module itself uses are refused", (t) => {
  const scope = new NameScope("top-level names of data.ts", "binding", { DataView: "the global DataView" });
  t.is(scope.claim("DataEvent", "struct event"), "DataEvent");
  const err = t.throws(() => scope.claim("DataView", "struct view"));
  t.is(err?.name, "NameError");
  t.regex(err!.message, /C name "struct view" gives the TS name "DataView", which the generated module needs for the global DataView/);
  t.throws(() => new NameScope("members").claim("a.b", "a.b"), { name: "NameError" });
});
