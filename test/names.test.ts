import test from "ava";
import { camelCase, escapeReserved, memberName, NameScope, objectNames, pascalCase, typeName } from "../generator/names.js";

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
    programs: "ExecSnoopPrograms",
    maps: "ExecSnoopMaps",
    variables: "ExecSnoopVariables",
  });
});
