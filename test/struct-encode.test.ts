// Struct encoders are compiled once per struct (runtime/src/struct-encode.ts); where code generation
// from strings is disallowed they walk the fields instead. Both forms must write the same bytes and
// throw the same errors: every struct of the `types` golden (unions, bitfields, nested structs,
// arrays, a flexible member) is encoded in this process and in a child run with
// --disallow-code-generation-from-strings, and the results are compared.
import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { LE, struct } from "@bpf2ts/runtime";
import * as types from "../fixtures/golden/types/types.js";
import { encodeSamples, type EncodeSamples } from "./helpers/encode-samples.js";

const childScript = `
let blocked = false;
try { new Function("return 1"); } catch (e) { blocked = e instanceof EvalError; }
const [types, helper] = await Promise.all(process.argv.slice(1).map((u) => import(u)));
console.log(JSON.stringify({ blocked, samples: helper.encodeSamples(types) }));
`;

test("encoders write the same bytes and throw the same errors with and without code generation", async (t) => {
  const here = encodeSamples(types);
  t.true(Object.keys(here).length >= 10, "the types golden has its structs");
  const hex = /^[0-9a-f]+$/;
  t.true(Object.values(here).every((s) => hex.test(s.value) && hex.test(s.mixed)), "every value encodes");
  t.true(Object.values(here).every((s) => s.wrong.every((w) => /Error: /.test(w))), "a wrong field always throws");
  const urls = [new URL("../fixtures/golden/types/types.js", import.meta.url).href, new URL("./helpers/encode-samples.js", import.meta.url).href];
  const { stdout } = await promisify(execFile)(process.execPath, ["--disallow-code-generation-from-strings", "--input-type=module", "-e", childScript, ...urls]);
  const child = JSON.parse(stdout) as { blocked: boolean; samples: EncodeSamples };
  t.true(child.blocked, "the child cannot generate code from strings");
  t.deepEqual(child.samples, here);
});

test("a compiled encoder keeps field names as data, whatever they spell", (t) => {
  // Names are JSON string literals in the generated source: quotes, backslashes and line breaks stay names.
  const names = ['a"b', "c\\d", "e\nf", "g'); throw 1; ('"];
  const codec = struct<Record<string, number>>({
    name: "odd",
    size: 16,
    align: 4,
    fields: Object.fromEntries(names.map((k, i) => [k, { offset: i * 4, type: "u32", decl: `__u32 f${i}` }])),
    decode: (v, o) => Object.fromEntries(names.map((k, i) => [k, v.getUint32(o + i * 4, LE)])),
  });
  const bytes = new Uint8Array(16);
  codec.encode(Object.fromEntries(names.map((k, i) => [k, i + 1])), new DataView(bytes.buffer));
  t.deepEqual(codec.decode(new DataView(bytes.buffer)), Object.fromEntries(names.map((k, i) => [k, i + 1])));
  const wrong = { ...Object.fromEntries(names.map((k) => [k, 0])), [names[3]!]: -1 };
  t.throws(() => codec.encode(wrong, new DataView(bytes.buffer)), { instanceOf: RangeError, message: /__u32 f3.*got -1/ });
});
