// The config file: where it is found (bpf2ts.config.json, package.json's "bpf2ts", walking up),
// defaults and inheritance, and one error per kind of bad value, each naming the key path.

import test from "ava";
import { join } from "node:path";
import { findConfig, generateOptions, loadConfigFile, parseConfig, selectPrograms } from "../generator/workflow/config.js";
import { cli, makeProject } from "./helpers/workflow-project.js";

const C = "int x;\n";

test("bpf2ts.config.json: defaults, stems from file names, inherited cc/cflags/target, paths relative to the config", (t) => {
  const dir = makeProject(t, { "bpf/exec.bpf.c": C, "bpf/open.c": C, "bpf2ts.config.json": {
    cc: "clang-19", cflags: "-I include -DX='a b'", target: "bpfel",
    programs: [
      { source: "bpf/exec.bpf.c" },
      { source: "bpf/open.c", stem: "opener", cflags: ["-DY=1"], target: ["bpfel", "bpfeb"], outputDir: "gen", types: ["struct a"], events: { events: " struct event " }, globalTypes: false, strip: false },
    ],
  } });
  const config = findConfig(join(dir, "bpf"));
  t.is(config.file, join(dir, "bpf2ts.config.json"));
  t.is(config.dir, dir);
  t.is(config.cacheDir, join(dir, ".bpf2ts-cache"));
  const [exec, open] = config.programs;
  t.deepEqual(exec, { stem: "exec", source: "bpf/exec.bpf.c", target: "bpfel", cflags: ["-I", "include", "-DX=a b"], outputDir: "bpf", cc: "clang-19" });
  t.deepEqual(open, {
    stem: "opener", source: "bpf/open.c", target: "bpfel,bpfeb", cflags: ["-I", "include", "-DX=a b", "-DY=1"], outputDir: "gen",
    types: ["struct a"], events: { events: "struct event" }, globalTypes: false, strip: false, cc: "clang-19",
  });
  const o = generateOptions(config, open!, {});
  t.is(o.cwd, dir);
  t.is(o.outputDir, "gen");
  t.false(o.strip);
  t.deepEqual(selectPrograms(config, ["opener"]).map((p) => p.stem), ["opener"]);
  const e = t.throws(() => selectPrograms(config, ["nope"]));
  t.is(e?.name, "ConfigError");
  t.regex(e!.message, /no program "nope" \(configured: exec, opener\)/);
});

test("package.json \"bpf2ts\" field; the walk stops at a package.json without one", (t) => {
  const dir = makeProject(t, { "a.bpf.c": C, "package.json": { name: "x", bpf2ts: { programs: [{ source: "a.bpf.c" }] } }, "sub/package.json": { name: "y" } });
  const config = findConfig(dir);
  t.is(config.label, "package.json");
  t.deepEqual(config.programs.map((p) => p.stem), ["a"]);
  const e = t.throws(() => findConfig(join(dir, "sub")));
  t.is(e?.name, "ConfigError");
  t.regex(e!.message, /sub\/package\.json: no "bpf2ts" field and no bpf2ts\.config\.json beside it/);
  // --config names a file explicitly, even a package.json elsewhere.
  t.is(findConfig(join(dir, "sub"), "../package.json").programs.length, 1);
  // bpf2ts.config.json wins over package.json in the same directory.
  const both = makeProject(t, { "b.bpf.c": C, "package.json": { bpf2ts: { programs: [{ source: "nope.c" }] } }, "bpf2ts.config.json": { programs: [{ source: "b.bpf.c" }] } });
  t.deepEqual(findConfig(both).programs.map((p) => p.stem), ["b"]);
});

// Each bad config and the key path its error must name (and a fragment of the detail).
const bad: ReadonlyArray<[string, unknown, RegExp]> = [
  ["not an object", [1], /^bpf2ts\.config\.json: \(top level\): expected an object, got an array/],
  ["no programs", {}, /: programs: missing/],
  ["programs not an array", { programs: { a: 1 } }, /: programs: expected an array of programs, got an object/],
  ["empty programs", { programs: [] }, /: programs: empty/],
  ["unknown top key", { programs: [{ source: "a.bpf.c" }], cflag: "-O2" }, /: cflag: unknown key \(did you mean "cflags"\?\)/],
  ["program not an object", { programs: ["a.bpf.c"] }, /: programs\[0\]: expected an object, got string "a\.bpf\.c"/],
  ["unknown program key", { programs: [{ source: "a.bpf.c" }, { sorce: "a.bpf.c" }] }, /: programs\[1\]\.sorce: unknown key \(did you mean "source"\?\)/],
  ["no source", { programs: [{ stem: "x" }] }, /: programs\[0\]\.source: missing/],
  ["source missing on disk", { programs: [{ source: "nope.bpf.c" }] }, /: programs\[0\]\.source: no such file: nope\.bpf\.c/],
  ["source not a string", { programs: [{ source: 3 }] }, /: programs\[0\]\.source: expected a non-empty string, got number 3/],
  ["bad target", { programs: [{ source: "a.bpf.c" }, { source: "a.bpf.c", stem: "b", target: "bpfel,bpfxx" }] }, /: programs\[1\]\.target: unknown target "bpfxx"/],
  ["bad top target", { target: 5, programs: [{ source: "a.bpf.c" }] }, /: target: expected a target list like "bpfel,bpfeb", got number 5/],
  ["two of one byte order", { programs: [{ source: "a.bpf.c", target: "x64,arm64" }] }, /: programs\[0\]\.target: .*two bpfel objects/],
  ["bad stem", { programs: [{ source: "a.bpf.c", stem: "1abc" }] }, /: programs\[0\]\.stem: expected letters, digits/],
  ["unusable derived stem", { programs: [{ source: "9.bpf.c" }] }, /: programs\[0\]\.stem: missing, and "9" \(from 9\.bpf\.c\) is not a usable stem/],
  ["duplicate stem", { programs: [{ source: "a.bpf.c" }, { source: "a.bpf.c", outputDir: "x" }] }, /: programs\[1\]\.stem: "a" is also the stem of programs\[0\]/],
  ["same outputs", { programs: [{ source: "a.bpf.c" }, { source: "a.bpf.c", stem: "b", outputStem: "a" }] }, /: programs\[1\]\.outputDir: writes the same files as programs\[0\]/],
  ["cflags wrong type", { programs: [{ source: "a.bpf.c", cflags: { I: "x" } }] }, /: programs\[0\]\.cflags: expected a flags string or an array of flags/],
  ["cflags element", { programs: [{ source: "a.bpf.c", cflags: ["-I", 4] }] }, /: programs\[0\]\.cflags\[1\]: expected a string, got number 4/],
  ["cflags quote", { cflags: "-DX='a", programs: [{ source: "a.bpf.c" }] }, /: cflags: unterminated single quote/],
  ["types element", { programs: [{ source: "a.bpf.c", types: ["struct a", ""] }] }, /: programs\[0\]\.types\[1\]: expected a non-empty string/],
  ["events map name", { programs: [{ source: "a.bpf.c", events: { "my-map": "struct e" } }] }, /: programs\[0\]\.events\.my-map: expected a map name/],
  ["events type", { programs: [{ source: "a.bpf.c", events: { events: 1 } }] }, /: programs\[0\]\.events\.events: expected a C type such as "struct event"/],
  ["boolean", { programs: [{ source: "a.bpf.c", strip: "no" }] }, /: programs\[0\]\.strip: expected true or false, got string "no"/],
  ["objects missing", { programs: [{ objects: ["a_bpfel.o"] }] }, /: programs\[0\]\.objects\[0\]: no such file: a_bpfel\.o/],
];

test("every bad key is named in the error", (t) => {
  const dir = makeProject(t, { "a.bpf.c": C, "9.bpf.c": C });
  for (const [what, value, message] of bad) {
    const e = t.throws(() => parseConfig(value, { file: join(dir, "bpf2ts.config.json"), fileLabel: "bpf2ts.config.json", keyPrefix: "" }), undefined, what);
    t.is(e?.name, "ConfigError", what);
    t.regex(e!.message, message, what);
    t.is((e as { file?: string }).file, join(dir, "bpf2ts.config.json"), what);
  }
});

test("in package.json the key path starts at bpf2ts; bad JSON is reported with the file", (t) => {
  const dir = makeProject(t, { "a.bpf.c": C, "package.json": { bpf2ts: { programs: [{ source: "a.bpf.c" }, { source: "a.bpf.c", stem: "b", target: "nope" }] } } });
  const broken = makeProject(t, { "bpf2ts.config.json": "{ programs: [] " });
  const e = t.throws(() => loadConfigFile(join(dir, "package.json")));
  t.regex(e!.message, /^package\.json: bpf2ts\.programs\[1\]\.target: unknown target "nope"/);
  t.is((e as { member?: string }).member, "bpf2ts.programs[1].target");
  const j = t.throws(() => findConfig(broken));
  t.is(j?.name, "ConfigError");
  t.regex(j!.message, /^bpf2ts\.config\.json: not valid JSON/);
});

test("the CLI reports config errors with the key path and exit code 1", async (t) => {
  const dir = makeProject(t, { "a.bpf.c": C, "bpf2ts.config.json": { programs: [{ source: "a.bpf.c", target: "bpfle" }] } });
  for (const args of [["generate"], ["check"]]) {
    const r = await cli(dir, args);
    t.is(r.code, 1, args.join(" "));
    t.regex(r.stderr, /^bpf2ts: bpf2ts\.config\.json: programs\[0\]\.target: unknown target "bpfle"/m);
    t.notRegex(r.stderr, /internal error/);
  }
  // Per-program flags with no program named are a usage error, not silently dropped.
  const flags = await cli(dir, ["generate", "--cflags", "-DX", "--", "-I", "inc"]);
  t.is(flags.code, 2);
  t.regex(flags.stderr, /generate: --cflags, -- <clang flags> apply to one program \(bpf2ts generate <stem> <file\.bpf\.c>\); for configured programs put them in the config/);
});
