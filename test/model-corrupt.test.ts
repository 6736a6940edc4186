// The model on damaged objects: flipped and truncated bytes in real clang output must end in a named
// error (ELF, BTF or model) or a model, never a TypeError/RangeError escaping, and never a hang.

import test from "ava";
import { parseBtf } from "../generator/btf/index.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { buildModel } from "../generator/model/model.js";
import { compileC } from "./helpers/compile-c.js";

const SOURCE = `
struct event { __u32 pid; char comm[16]; __u64 ts; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, struct event); __uint(pinning, LIBBPF_PIN_BY_NAME); } table SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, int); } in1 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, int); __array(values, struct inner); } outer SEC(".maps") = { .values = { &in1 } };
const volatile __u32 target = 1;
__u64 total = 2;
__u64 zero;
SEC("tracepoint/a/b") int p(void *ctx) { struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0); if (e) { e->pid = target; bpf_ringbuf_submit(e, 0); } total += zero; return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

/** xorshift32: the same cases on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const NAMED = /^(Elf|Btf|Model)Error$/;

test("2000 damaged objects: a named error or a model, within time", async (t) => {
  const { bytes } = await compileC(SOURCE);
  const elf = readElf(bytes);
  const btf = elf.section(".BTF")!;
  const next = rng(0xb9f2);
  const started = Date.now();
  const outcomes = { model: 0, errors: new Map<string, number>() };
  for (let i = 0; i < 2000; i++) {
    const copy = Buffer.from(bytes);
    const mode = next() % 3;
    if (mode === 0) {
      // Flip bytes inside .BTF, where the model's inputs live.
      for (let k = 0; k < 1 + (next() % 4); k++) copy[btf.offset + (next() % btf.size)]! ^= 1 << next() % 8;
    } else if (mode === 1) {
      for (let k = 0; k < 1 + (next() % 4); k++) copy[next() % copy.length]! ^= 1 << next() % 8;
    }
    const input = mode === 2 ? copy.subarray(0, next() % copy.length) : copy;
    try {
      const e = readElf(input, "damaged.o");
      const sec = e.section(".BTF");
      if (!sec) continue;
      const model = buildModel(e, parseBtf(sec.data(), { file: "damaged.o", section: ".BTF" }), { file: "damaged.o" });
      t.true(Array.isArray(model.maps));
      outcomes.model++;
    } catch (err) {
      const name = (err as Error).name;
      if (!NAMED.test(name)) {
        t.fail(`case ${i} (mode ${mode}): ${name}: ${(err as Error).message}\n${(err as Error).stack}`);
        return;
      }
      t.regex((err as Error).message, /\S+: /, "message has a context");
      outcomes.errors.set(name, (outcomes.errors.get(name) ?? 0) + 1);
    }
  }
  t.log(`models: ${outcomes.model}, errors: ${JSON.stringify(Object.fromEntries(outcomes.errors))}, ${Date.now() - started} ms`);
  t.true(Date.now() - started < 30_000);
  t.true(outcomes.model > 0 && outcomes.errors.size > 0, "both outcomes exercised");
});
