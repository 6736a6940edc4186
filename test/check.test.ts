// `bpf2ts check`: fresh trees pass (exit 0), stale/missing/extra files fail (exit 1) with a summary and
// unified diffs, nothing on disk is touched, and `--obj` works from committed objects without clang.
// The diff itself is checked against GNU diff (`diff --minimal`) as an oracle and by applying it.

import test, { type ExecutionContext } from "ava";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { unifiedDiff } from "../generator/workflow/unified-diff.js";
import { tempDir } from "./helpers/temp-dir.js";
import { cli, helloSource, makeProject, repoRoot, treeHashes, writeFiles } from "./helpers/workflow-project.js";

const project = (t: ExecutionContext) =>
  makeProject(t, {
    "bpf/common.h": "#define VALUE 7\n",
    "bpf/a.bpf.c": helloSource({ header: "common.h" }),
    "bpf/b.bpf.c": helloSource({ value: "2" }),
    "bpf2ts.config.json": { programs: [{ source: "bpf/a.bpf.c", target: "bpfel" }, { source: "bpf/b.bpf.c", outputDir: "gen" }] },
  });

test("fresh tree: exit 0; stale header: exit 1 naming each stale file with a diff; disk untouched", async (t) => {
  const dir = project(t);
  t.is((await cli(dir, ["generate"])).code, 0);
  const fresh = await cli(dir, ["check"]);
  t.is(fresh.code, 0, fresh.stderr);
  t.is(fresh.stdout, "check: 2 programs up to date\n");

  writeFileSync(join(dir, "bpf/common.h"), "#define VALUE 8\n");
  const before = treeHashes(dir);
  const stale = await cli(dir, ["check"]);
  t.is(stale.code, 1);
  t.deepEqual(treeHashes(dir), before, "check writes nothing");
  t.regex(stale.stdout, /^stale   bpf\/a\.ts \(\+\d+ -\d+\)$/m);
  t.regex(stale.stdout, /^stale   bpf\/a_bpfel\.o \(binary, \d+ → \d+ bytes\)$/m);
  t.notRegex(stale.stdout, /gen\/b/, "b does not include the header");
  t.regex(stale.stdout, /^--- bpf\/a\.ts \(on disk\)\n\+\+\+ bpf\/a\.ts \(regenerated\)\n@@ -\d+,\d+ \+\d+,\d+ @@/m);
  // The header of the module records the source's hash only; here the object (embedded) changed.
  t.regex(stale.stdout, /^-  objects: \{ deflated: true, le: "[A-Za-z0-9+/=]{50,}… \(\d+ more characters\)$/m, "long base64 lines are cut");
  t.regex(stale.stderr, /^bpf2ts: check: 1 of 2 programs out of date \(2 files: a\); run `bpf2ts generate` and commit the result$/m);

  // After regenerating, fresh again.
  t.is((await cli(dir, ["generate"])).code, 0);
  t.is((await cli(dir, ["check"])).code, 0);

  // Only an object differs (as with another clang build): the summary points at --obj.
  const obj = join(dir, "bpf/a_bpfel.o");
  const bytes = readFileSync(obj);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(obj, bytes);
  const objects = await cli(dir, ["check"]);
  t.is(objects.code, 1);
  t.regex(objects.stdout, /^stale   bpf\/a_bpfel\.o \(binary, (\d+) → \1 bytes\)$/m);
  t.notRegex(objects.stdout, /a\.ts/);
  t.regex(objects.stderr, /only objects differ: if this clang is not the one that built them, use `bpf2ts check --obj`/);
});

test("missing and extra files; naming programs checks only those", async (t) => {
  const dir = project(t);
  t.is((await cli(dir, ["generate"])).code, 0);
  rmSync(join(dir, "gen/b.ts"));
  // b now only targets bpfel: its bpfeb object is no longer generated.
  writeFiles(dir, { "bpf2ts.config.json": { programs: [{ source: "bpf/a.bpf.c", target: "bpfel" }, { source: "bpf/b.bpf.c", outputDir: "gen", target: "bpfel" }] } });
  const r = await cli(dir, ["check"]);
  t.is(r.code, 1);
  t.regex(r.stdout, /^missing gen\/b\.ts$/m);
  t.regex(r.stdout, /^extra   gen\/b_bpfeb\.o \(no longer generated\)$/m);
  t.notRegex(r.stdout, /bpf\/a/);
  t.regex(r.stderr, /check: 1 of 2 programs out of date \(2 files: b\)/);
  const onlyA = await cli(dir, ["check", "a"]);
  t.is(onlyA.code, 0);
  t.is(onlyA.stdout, "check: 1 program up to date\n");
});

test("--obj: checks the TypeScript against committed objects with no clang on PATH", async (t) => {
  const dir = project(t);
  t.is((await cli(dir, ["generate"])).code, 0);
  const noClang = { ...process.env, PATH: "/nonexistent", BPF2TS_CC: "" };
  const withoutObj = await cli(dir, ["check"], noClang);
  t.is(withoutObj.code, 1);
  t.regex(withoutObj.stderr, /a: cannot regenerate: clang: none found on PATH/);
  t.regex(withoutObj.stderr, /check: 2 could not be regenerated \(a, b\)/);

  const ok = await cli(dir, ["check", "--obj"], noClang);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, "check: 2 programs up to date (from committed objects)\n");

  // A hand edit of the module is caught; so is a source edit not regenerated (the header records
  // the source's sha256), all without clang.
  const ts = join(dir, "gen/b.ts");
  writeFileSync(ts, readFileSync(ts, "utf8").replace("export interface", "// edited\nexport interface"));
  writeFileSync(join(dir, "bpf/a.bpf.c"), helloSource({ header: "common.h" }) + "/* changed */\n");
  const stale = await cli(dir, ["check", "--obj"], noClang);
  t.is(stale.code, 1);
  t.regex(stale.stdout, /^stale   gen\/b\.ts \(\+0 -1\)$/m);
  t.regex(stale.stdout, /^-\/\/ edited$/m);
  t.regex(stale.stdout, /^stale   bpf\/a\.ts \(\+1 -1\)$/m);
  t.regex(stale.stdout, /^\+\/\/ @generated by bpf2ts .* from a\.bpf\.c/m);

  // An event type only the types-only compile can recover: generate saved it beside the objects.
  writeFiles(dir, { "bpf/c.bpf.c": helloSource({ eventOnlyInRingbuf: true }), "bpf2ts.config.json": { programs: [{ source: "bpf/a.bpf.c", target: "bpfel" }, { source: "bpf/b.bpf.c", outputDir: "gen" }, { source: "bpf/c.bpf.c", target: "bpfel" }] } });
  t.is((await cli(dir, ["generate", "c"])).code, 0);
  const saved = await cli(dir, ["check", "--obj", "c"], noClang);
  t.is(saved.code, 0, saved.stderr);
  // A module from before the saved types (no file, no typesBtf in its record): without clang, a message that says so.
  rmSync(join(dir, "bpf/c_types.btf"));
  const c = join(dir, "bpf/c.ts");
  writeFileSync(c, readFileSync(c, "utf8").replace(/,"typesBtf":\{[^}]*\}/, ""));
  const needsClang = await cli(dir, ["check", "--obj", "c"], noClang);
  t.is(needsClang.code, 1);
  t.regex(needsClang.stderr, /^c: cannot regenerate: \S*c_bpfel\.o: struct event \(the records of map `events`\) is not in the object's BTF, and bpf2ts compiles it from the source with clang \(types only\): clang: none found on PATH.*With --obj, clang is needed for such types only when c_types\.btf, which generate writes beside the objects, is not there or lacks them/m);

  rmSync(join(dir, "bpf/a_bpfel.o"));
  const noObject = await cli(dir, ["check", "--obj", "a"], noClang);
  t.is(noObject.code, 1);
  t.regex(noObject.stderr, /^a: cannot regenerate: no committed object bpf\/a_bpfel\.o to generate from/m);
});

/** Applies a unified diff to `a` (an independent reading of the format). */
function applyDiff(a: string, diff: string): string {
  const src = a === "" ? [] : a.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  let i = 0;
  const lines = diff.replace(/\n$/, "").split("\n").slice(2);
  for (let k = 0; k < lines.length; k++) {
    const m = /^@@ -(\d+),(\d+) \+\d+,\d+ @@$/.exec(lines[k]!);
    if (!m) throw new Error(`bad hunk header ${lines[k]}`);
    const start = Number(m[2]) === 0 ? Number(m[1]) : Number(m[1]) - 1;
    while (i < start) out.push(src[i++]!);
    while (k + 1 < lines.length && !lines[k + 1]!.startsWith("@@")) {
      const l = lines[++k]!;
      if (l[0] === " " || l[0] === "-") {
        if (src[i] !== l.slice(1)) throw new Error(`context mismatch at ${i}: ${src[i]} vs ${l}`);
        i++;
      }
      if (l[0] === " " || l[0] === "+") out.push(l.slice(1));
    }
  }
  while (i < src.length) out.push(src[i++]!);
  return out.length ? out.join("\n") + "\n" : "";
}

test("unifiedDiff: applies cleanly and is as small as GNU diff --minimal, on random edits", (t) => {
  const tmp = tempDir(t, "bpf2ts-diff-");
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let round = 0; round < 60; round++) {
    const a = Array.from({ length: rand(40) }, () => `line ${rand(8)}`);
    const b = [...a];
    for (let e = rand(6); e >= 0; e--) {
      const at = rand(b.length + 1);
      if (rand(2) && b.length) b.splice(at, 1);
      else b.splice(at, 0, `new ${rand(5)}`);
    }
    const aText = a.length ? a.join("\n") + "\n" : "";
    const bText = b.length ? b.join("\n") + "\n" : "";
    const d = unifiedDiff("a", "b", aText, bText);
    t.is(applyDiff(aText, d.text), bText, `round ${round}`);
    writeFileSync(join(tmp, "a"), aText);
    writeFileSync(join(tmp, "b"), bText);
    let gnu = "";
    try {
      execFileSync("diff", ["--minimal", "-u", join(tmp, "a"), join(tmp, "b")], { encoding: "utf8" });
    } catch (e) {
      gnu = String((e as { stdout: string }).stdout);
    }
    const body = gnu.split("\n").slice(2);
    t.is(d.added, body.filter((l) => l.startsWith("+")).length, `round ${round} added`);
    t.is(d.removed, body.filter((l) => l.startsWith("-")).length, `round ${round} removed`);
    if (aText === bText) t.is(d.text, "");
  }
});

test("no config: check finds the generated modules and regenerates each from the build record in its header", async (t) => {
  // A bpf2go-style project: one generate script, no bpf2ts config; the module goes to src/.
  const dir = makeProject(t, {
    "package.json": { name: "app", version: "1.0.0", scripts: { generate: "bpf2ts generate hello bpf/hello.bpf.c --target bpfel --output-dir src -- -I bpf" } },
    "bpf/values.h": "#define VALUE 3\n",
    "bpf/hello.bpf.c": helloSource({ header: "values.h" }),
    "node_modules/dep/stale.ts": "// @generated by bpf2ts 0.0.1 from x.bpf.c (sha256 0). DO NOT EDIT.\n",
  });
  const gen = await cli(dir, ["generate", "hello", "bpf/hello.bpf.c", "--target", "bpfel", "--output-dir", "src", "--", "-I", "bpf"]);
  t.is(gen.code, 0, gen.stderr);
  const module = readFileSync(join(dir, "src/hello.ts"), "utf8");
  const record = module.split("\n")[1]!;
  t.is(record, '// @bpf2ts-build {"stem":"hello","source":"../bpf/hello.bpf.c","cwd":"..","target":"bpfel","cflags":["-I","bpf"]}', "relative paths only, options as given");
  t.true(module.endsWith("}\n"), "the module ends with a newline, as an editor saves it");
  t.false(existsSync(join(dir, "src/hello_types.btf")), "no saved types when the object's BTF has them all");

  const fresh = await cli(dir, ["check"]);
  t.is(fresh.code, 0, fresh.stderr);
  t.is(fresh.stdout, "check: 1 module up to date\n", "node_modules is not searched");
  t.is((await cli(join(dir, "src"), ["check"])).code, 0, "from another directory: the record's paths are relative to the module");
  t.is((await cli(dir, ["check", "src/hello.ts"])).code, 0, "a module named directly");

  // The header changes what the module holds: the API report names the struct field, before the diff.
  writeFiles(dir, { "bpf/hello.bpf.c": helloSource({ header: "values.h" }).replace("__u32 value;", "__u64 value;\n\t__u16 flags;") });
  const before = treeHashes(dir);
  const stale = await cli(dir, ["check"]);
  t.is(stale.code, 1);
  t.deepEqual(treeHashes(dir), before, "check writes nothing");
  const api = stale.stdout.indexOf("API changes in src/hello.ts:");
  t.true(api > 0 && api < stale.stdout.indexOf("--- src/hello.ts (on disk)"), stale.stdout);
  t.regex(stale.stdout, /^ {2}HelloEvent \(struct event\): size 8 → 24, align 4 → 8$/m);
  t.regex(stale.stdout, /^ {2}field HelloEvent\.value: offset 4 → 8, size 4 → 8, type number → bigint, C `__u32 value` → `__u64 value`$/m);
  t.regex(stale.stdout, /^ {2}field HelloEvent\.flags: added \(offset 16, size 2, type number, C `__u16 flags`\)$/m);
  t.regex(stale.stdout, /^ {2}map last: C `hash` map `last`, max_entries 16, key 4 bytes, value 8 bytes → `hash` map `last`, max_entries 16, key 4 bytes, value 24 bytes$/m);
  t.regex(stale.stderr, /^bpf2ts: check: 1 of 1 module out of date \(2 files: src\/hello\.ts\); regenerate with `bpf2ts generate hello bpf\/hello\.bpf\.c --target bpfel --output-dir src -- -I bpf` and commit the result$/m);

  // A module without a record (an older bpf2ts) says so; a directory with no modules is an error.
  writeFiles(dir, { "gen/old.ts": "// @generated by bpf2ts 0.0.9 from old.bpf.c (sha256 00). DO NOT EDIT.\nexport {};\n" });
  const old = await cli(dir, ["check", "gen"]);
  t.is(old.code, 1);
  t.regex(old.stderr, /^gen\/old\.ts: cannot regenerate: its header has no `@bpf2ts-build` line \(generated by an older bpf2ts: regenerate it once\)$/m);
  const none = await cli(dir, ["check", "bpf"]);
  t.is(none.code, 1);
  t.regex(none.stderr, /check: no module generated by bpf2ts under bpf/);
  const unknown = await cli(dir, ["check", "nosuch"]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /check: nosuch: no such file or directory \(and no config whose programs it could name\)/);
  const mixed = await cli(dir, ["check", "src", "nosuch"]);
  t.is(mixed.code, 2);
  t.regex(mixed.stderr, /give either configured program stems or paths of generated modules, not both \(no such file: nosuch\)/);
});

test("no config, --obj and no clang: regenerated from the objects beside the module; an edited event struct is named", async (t) => {
  const dir = makeProject(t, { "package.json": { name: "app", version: "1.0.0" }, "bpf/hello.bpf.c": helloSource() });
  t.is((await cli(dir, ["generate", "hello", "bpf/hello.bpf.c", "--output-dir", "gen"])).code, 0);
  const noClang = { ...process.env, PATH: "/nonexistent", BPF2TS_CC: "" };
  const ok = await cli(dir, ["check", "--obj"], noClang);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, "check: 1 module up to date (from committed objects)\n");
  // A hand edit of a field's type in the committed module: check names it.
  const ts = join(dir, "gen/hello.ts");
  writeFileSync(ts, readFileSync(ts, "utf8").replace("  pid: number;", "  pid: bigint;"));
  const edited = await cli(dir, ["check", "--obj"], noClang);
  t.is(edited.code, 1);
  t.regex(edited.stdout, /^ {2}field HelloEvent\.pid: type bigint → number$/m);
  // An editor's trailing newline changes nothing: the module already ends with one.
  writeFileSync(ts, readFileSync(ts, "utf8").replace("  pid: bigint;", "  pid: number;"));
  t.is((await cli(dir, ["check", "--obj"], noClang)).code, 0);
});

test("no config, --obj and no clang: the reserve-only event pattern checks from the saved <stem>_types.btf; an edited module, a changed or missing .btf is named", async (t) => {
  // The event struct is used only through bpf_ringbuf_reserve (as init's scaffold does): not in the object's BTF.
  const dir = makeProject(t, { "package.json": { name: "app", version: "1.0.0" }, "bpf/hello.bpf.c": helloSource({ eventOnlyInRingbuf: true }) });
  const generate = ["generate", "hello", "bpf/hello.bpf.c", "--output-dir", "gen"];
  const gen = await cli(dir, generate);
  t.is(gen.code, 0, gen.stderr);
  t.regex(gen.stdout, /^wrote gen\/hello_types\.btf$/m);
  const btfPath = join(dir, "gen/hello_types.btf");
  const btf = readFileSync(btfPath);
  t.is(btf.readUInt16LE(0), 0xeb9f, "raw BTF, as /sys/kernel/btf/vmlinux");
  const ts = join(dir, "gen/hello.ts");
  const record = JSON.parse(readFileSync(ts, "utf8").split("\n")[1]!.replace("// @bpf2ts-build ", "")) as { typesBtf?: unknown };
  t.deepEqual(record.typesBtf, { file: "hello_types.btf", sha256: createHash("sha256").update(btf).digest("hex") });
  t.regex(readFileSync(ts, "utf8"), /export interface HelloEvent \{\n(?:.*\n)*? {2}pid: number;/, "the event type came from the types-only compile");
  const first = treeHashes(dir);
  t.is((await cli(dir, generate)).code, 0);
  t.deepEqual(treeHashes(dir), first, "byte-identical across runs");

  const noClang = { ...process.env, PATH: "/nonexistent", BPF2TS_CC: "" };
  const ok = await cli(dir, ["check", "--obj"], noClang);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, "check: 1 module up to date (from committed objects)\n");
  const fromObjects = await cli(dir, ["generate", "hello", "bpf/hello.bpf.c", "--obj", "gen/hello_bpfel.o", "--obj", "gen/hello_bpfeb.o", "--output-dir", "gen"], noClang);
  t.is(fromObjects.code, 0, fromObjects.stderr);
  t.deepEqual(treeHashes(dir), first, "generate --obj without clang writes the same files");

  // A hand edit of the committed module: the field is named.
  writeFileSync(ts, readFileSync(ts, "utf8").replace("  pid: number;", "  pid: bigint;"));
  const edited = await cli(dir, ["check", "--obj"], noClang);
  t.is(edited.code, 1);
  t.regex(edited.stdout, /^ {2}field HelloEvent\.pid: type bigint → number$/m);
  writeFileSync(ts, readFileSync(ts, "utf8").replace("  pid: bigint;", "  pid: number;"));
  t.is((await cli(dir, ["check", "--obj"], noClang)).code, 0);

  // A source edited without regenerating: still stale, as the module's header records the source's sha256.
  const src = join(dir, "bpf/hello.bpf.c");
  const srcText = readFileSync(src, "utf8");
  writeFileSync(src, srcText + "/* changed */\n");
  const sourceEdited = await cli(dir, ["check", "--obj"], noClang);
  t.is(sourceEdited.code, 1);
  t.regex(sourceEdited.stdout, /^stale   gen\/hello\.ts \(\+1 -1\)$/m);
  writeFileSync(src, srcText);

  // Saved types from another source (value widened): the file is named, and so is the field it changes.
  const other = makeProject(t, { "package.json": { name: "other", version: "1.0.0" }, "bpf/hello.bpf.c": helloSource({ eventOnlyInRingbuf: true }).replace("__u32 value;", "__u64 value;") });
  t.is((await cli(other, generate)).code, 0);
  copyFileSync(join(other, "gen/hello_types.btf"), btfPath);
  const changed = await cli(dir, ["check", "--obj"], noClang);
  t.is(changed.code, 1);
  t.regex(changed.stdout, /^stale   gen\/hello_types\.btf \(not the file hello\.ts was generated with: its sha256 differs from the module's build record\)$/m);
  t.regex(changed.stdout, /^ {2}field HelloEvent\.value: offset 4 → 8, size 4 → 8, type number → bigint/m);
  // With clang, check (no --obj) compiles the types again and names the file too.
  const withClang = await cli(dir, ["check"]);
  t.is(withClang.code, 1);
  t.regex(withClang.stdout, /^stale   gen\/hello_types\.btf \(binary, \d+ → \d+ bytes\)$/m);

  rmSync(btfPath);
  const missing = await cli(dir, ["check", "--obj"], noClang);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^gen\/hello\.ts: cannot regenerate: gen\/hello_types\.btf: cannot read: no such file: the build record of gen\/hello\.ts says the types its objects lack are saved there; run bpf2ts generate \(with clang\) and commit gen\/hello_types\.btf beside the objects$/m);
  const missingWithClang = await cli(dir, ["check"]);
  t.is(missingWithClang.code, 1);
  t.regex(missingWithClang.stdout, /^missing gen\/hello_types\.btf$/m);
});

test("the repository's goldens and tracers check from their build records alone", async (t) => {
  t.timeout(240000); // 17 tracers + the goldens, compiled under a loaded machine
  // With no clang: the types their objects lack come from the saved <stem>_types.btf files.
  const r = await cli(repoRoot, ["check", "--obj", "fixtures/golden", "bpf"], { ...process.env, PATH: "/nonexistent", BPF2TS_CC: "" });
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /^check: \d+ modules up to date \(from committed objects\)\n$/);
  t.true(Number(/(\d+) modules/.exec(r.stdout)?.[1]) >= 12, r.stdout);
});
