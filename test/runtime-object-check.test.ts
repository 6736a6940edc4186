// The runtime checks an object before libbpf sees it (runtime/src/object-file/check.ts), and a load
// that still never finishes is bounded (LoadOptions.timeout): hostile objects made from real ones,
// each refused with a BpfError naming the section and the BTF type id; real objects all pass; the
// check's cost per load measured; and a load libbpf never finishes lets the process exit.

import test from "ava";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfError, loadObject, objectSpec } from "@bpf2ts/runtime";
import { checkBtf, checkObject, ObjectFileError, parseBtf, readElf, type Struct } from "@bpf2ts/runtime/object-file";
import { btfRecords, objectSource, type FuzzSource } from "./helpers/mutate.js";
import { fuzzSources, root } from "./helpers/fuzz.js";
import { requireFeature } from "./helpers/kernel.js";
import { tempDir } from "./helpers/temp-dir.js";

const SELF_TYPEDEF = join(root, "fixtures/fuzz/self-typedef.bpfel.o");
const real = fuzzSources().filter((s) => s.kind === "object");

/** A copy of `src` with one u32 of the record of the first type matching `pick` rewritten. */
function patched(src: FuzzSource, pick: (r: { id: number; kind: number; vlen: number }) => boolean, word: number, value: (id: number) => number): { bytes: Uint8Array; id: number } {
  const r = btfRecords(src).find(pick)!;
  const bytes = src.bytes.slice();
  new DataView(bytes.buffer).setUint32(r.at + word * 4, value(r.id), src.littleEndian);
  return { bytes, id: r.id };
}

const execsnoop = () => real.find((s) => s.name.includes("execsnoop"))!;

test("every real object (fixtures, goldens, tracers) passes the check; vmlinux's BTF passes the graph check", (t) => {
  for (const s of real) t.notThrows(() => checkObject(s.bytes, s.name), s.name);
  const vmlinux = parseBtf(new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux")), { file: "vmlinux" });
  t.notThrows(() => checkBtf(vmlinux, "vmlinux"));
});

test("hostile objects are refused by name: self typedef, two-type cycle, struct holding itself, 4 GiB array, bad .maps field", (t) => {
  const src = execsnoop();
  const TYPEDEF = 8, PTR = 2, CONST = 10, STRUCT = 4, ARRAY = 3;
  const cases: Array<[string, { bytes: Uint8Array; id: number }, RegExp]> = [
    ["self typedef", patched(src, (r) => r.kind === TYPEDEF, 2, (id) => id), /type \d+: TYPEDEF refers to itself/],
    ["pointer cycle", patched(src, (r) => r.kind === PTR, 2, (id) => id), /type \d+: PTR refers to itself/],
    ["const cycle", patched(src, (r) => r.kind === CONST, 2, (id) => id), /type \d+: CONST refers to itself/],
    ["struct holding itself", patched(src, (r) => r.kind === STRUCT && r.vlen > 0, 4, (id) => id), /type \d+: STRUCT contains itself/],
    ["4 GiB array", patched(src, (r) => r.kind === ARRAY, 5, () => 0xfffffff0), /type \d+: array of \d+ × \d+ bytes is larger than 4 GiB/],
  ];
  for (const [what, { bytes, id }, message] of cases) {
    const e = t.throws(() => checkObject(bytes, "hostile.o"), { instanceOf: ObjectFileError }, what)!;
    t.regex(e.message, message, what);
    t.is(e.section, ".BTF", what);
    t.true(e instanceof BpfError, `${what}: the reader's errors are BpfErrors (the runtime's one base)`);
    t.is(e.code, "EINVAL", what);
    if (what !== "4 GiB array") t.is(e.typeId, id, what);
  }
  // .maps: `__uint(type, …)` turned from a pointer to an array into an int.
  const maps = objectSource(join(root, "bpf/execsnoop/execsnoop_bpfel.o"));
  const btf = parseBtf(readElfBtf(maps.bytes), {});
  const def = btf.types.find((x): x is Struct => x.kind === STRUCT && (x as Struct).members.some((m) => m.name === "max_entries"))!;
  const intId = btf.types.find((x) => x.kind === 1)!.id;
  const rec = btfRecords(maps).find((r) => r.id === def.id)!;
  const bytes = maps.bytes.slice();
  const index = def.members.findIndex((m) => m.name === "max_entries");
  new DataView(bytes.buffer).setUint32(rec.at + 12 + index * 12 + 4, intId, true);
  const e = t.throws(() => checkObject(bytes, "maps.o"), { instanceOf: ObjectFileError })!;
  t.regex(e.message, /section \.maps: type \d+: map \w+: field max_entries is not __uint\(\)'s pointer to an array/);
  t.is(e.section, ".maps");
});

function readElfBtf(bytes: Uint8Array): Uint8Array {
  return readElf(bytes).section(".BTF")!.data();
}

test("objectSpec and loadObject refuse the self-typedef object (which makes libbpf spin forever) with a BpfError", async (t) => {
  const d = { name: "selftd", objects: { le: new Uint8Array(readFileSync(SELF_TYPEDEF)) } };
  const start = performance.now();
  const e1 = t.throws(() => objectSpec(d), { instanceOf: BpfError })!;
  const e2 = await t.throwsAsync(loadObject(d), { instanceOf: BpfError });
  for (const e of [e1, e2!]) {
    t.is(e.code, "EINVAL");
    t.is(e.section, ".BTF");
    t.is(e.typeId, 14);
    t.regex(e.message, /^open selftd: bpfel object: section \.BTF: type 14: TYPEDEF refers to itself \(a malformed object: libbpf was not given it\)$/);
    t.true(e.cause instanceof ObjectFileError);
  }
  t.true(performance.now() - start < 10_000, "refused at once, not after a libbpf hang");
});

test("a load libbpf never finishes (check: false) rejects with ETIMEDOUT after `timeout`, and the process exits by itself", async (t) => {
  if (!(await requireFeature(t, "btf"))) return;
  const dir = tempDir(t, "bpf2ts-hang-");
  const script = join(dir, "hang.mjs");
  writeFileSync(script, `
    import { readFileSync } from "node:fs";
    import { loadObject } from ${JSON.stringify(join(root, "runtime/dist/index.js"))};
    const d = { name: "selftd", objects: { le: new Uint8Array(readFileSync(${JSON.stringify(SELF_TYPEDEF)})) } };
    const start = Date.now();
    loadObject(d, { check: false, timeout: 1000 }).then(
      () => console.log("loaded"),
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message, ms: Date.now() - start })),
    );
  `);
  const start = performance.now();
  // The script never calls process.exit: it ends when nothing keeps the loop alive any more.
  const r = spawnSync(process.execPath, [script], { cwd: root, encoding: "utf8", timeout: 60_000 });
  const ms = performance.now() - start;
  t.is(r.signal, null, `killed after ${ms.toFixed(0)} ms: ${r.stderr}`);
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { code: string; message: string; ms: number };
  t.is(out.code, "ETIMEDOUT");
  t.regex(out.message, /^load selftd: libbpf did not finish within 1000 ms; the load was abandoned/);
  t.true(out.ms >= 1000 && out.ms < 5000, `rejected after ${out.ms} ms`);
  t.true(ms < 25_000, `process ended ${ms.toFixed(0)} ms after start`);
  t.log(`rejected after ${out.ms} ms; the process exited ${ms.toFixed(0)} ms after start`);
});

test("the check's cost per load: a fraction of a millisecond to a few per tracer object", (t) => {
  const tracers = real.filter((s) => s.name.startsWith("bpf/"));
  for (const s of tracers) checkObject(s.bytes, s.name); // warm up, as a long-running process is
  const rows: string[] = [];
  let worst = 0;
  for (const s of tracers) {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const start = performance.now();
      checkObject(s.bytes, s.name);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const median = times[7]!;
    worst = Math.max(worst, median);
    rows.push(`${s.name.split("/")[1]} ${median.toFixed(2)} ms`);
  }
  t.log(`median check per object: ${rows.join(", ")}`);
  t.true(worst < 10, `worst median ${worst.toFixed(2)} ms (a load takes ~40 ms)`);
});

test("loadObject: a bad timeout is an EINVAL BpfError", async (t) => {
  const d = { name: "selftd", objects: { le: new Uint8Array(readFileSync(SELF_TYPEDEF)) } };
  for (const timeout of [-1, Number.NaN, "5" as unknown as number]) {
    const e = (await t.throwsAsync(loadObject(d, { timeout }), { instanceOf: BpfError }))!;
    t.is(e.code, "EINVAL");
  }
});
