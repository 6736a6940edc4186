// What generate does after clang, made cheaper without changing its output: the import list's order
// without building an ICU collator, and the embedded objects deflated on libuv's threads.

import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { symbols } from "@bpf2ts/runtime/contract";
import { embedObject, embedObjectAsync } from "../generator/emit/files.js";
import { compareEnglish } from "../generator/emit/module.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("compareEnglish orders as localeCompare(…, 'en') does", (t) => {
  const english = (a: string, b: string) => Math.sign(a.localeCompare(b, "en"));
  const names = [...Object.keys(symbols), "a_b", "a1", "ab", "a", "", "é", "zz", "z_", "Z", "_x", "x9"].map((n) => n.toLowerCase());
  for (const a of names) for (const b of names) t.is(Math.sign(compareEnglish(a, b)), english(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
});

test("embedObjectAsync gives embedObject's text for every committed tracer object", async (t) => {
  const objects = readdirSync(join(root, "bpf"), { recursive: true, encoding: "utf8" }).filter((f) => /_bpfe[lb]\.o$/.test(f));
  t.true(objects.length >= 10, `${objects.length} objects`);
  for (const f of objects) {
    const bytes = readFileSync(join(root, "bpf", f));
    t.is(await embedObjectAsync(bytes), embedObject(bytes), f);
  }
});
