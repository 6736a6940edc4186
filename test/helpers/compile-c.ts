// Compiling small C programs for tests with the same flags as `bpf2ts generate`, cached by content in
// the temp dir so reruns are fast. The objects are real clang output: the tests read what clang writes.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, findClang, type Target } from "../../generator/compile/clang.js";
import { parseBtf, type ParsedBtf } from "../../generator/btf/index.js";
import { readElf, type ElfFile } from "@bpf2ts/runtime/object-file";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const cacheDir = join(tmpdir(), "bpf2ts-test-objects");

/** A C prelude so test programs need no system headers. */
export const PRELUDE = `
typedef unsigned char __u8; typedef unsigned short __u16; typedef unsigned int __u32; typedef unsigned long long __u64;
typedef signed char __s8; typedef short __s16; typedef int __s32; typedef long long __s64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PROG_ARRAY = 3, BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
       BPF_MAP_TYPE_PERCPU_HASH = 5, BPF_MAP_TYPE_PERCPU_ARRAY = 6, BPF_MAP_TYPE_LRU_HASH = 9,
       BPF_MAP_TYPE_ARRAY_OF_MAPS = 12, BPF_MAP_TYPE_HASH_OF_MAPS = 13, BPF_MAP_TYPE_RINGBUF = 27 };
enum { LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME };
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *) 131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *) 132;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *) 130;
static long (*bpf_perf_event_output)(void *ctx, void *map, __u64 flags, void *data, __u64 size) = (void *) 25;
`;

export interface CompiledObject {
  readonly bytes: Buffer;
  readonly elf: ElfFile;
  readonly btf: ParsedBtf;
}

/** Compiles `source` (the prelude prepended unless `bare`) for `endian`, cached by content. */
export async function compileC(source: string, opts: { endian?: Target["endian"]; bare?: boolean; name?: string } = {}): Promise<CompiledObject> {
  const text = opts.bare ? source : PRELUDE + source;
  const endian = opts.endian ?? "bpfel";
  const key = createHash("sha256").update(endian).update("\0").update(text).digest("hex").slice(0, 24);
  mkdirSync(cacheDir, { recursive: true });
  const cached = join(cacheDir, `${key}.o`);
  let bytes: Buffer;
  if (existsSync(cached)) {
    bytes = readFileSync(cached);
  } else {
    // Another test worker may compile the same source at the same time: never rewrite a file in place.
    const src = join(cacheDir, `${key}.${process.pid}.c`);
    writeFileSync(src, text);
    const clang = await findClang();
    const result = await compile({ source: src, target: { endian }, clang, strip: true, cwd: cacheDir });
    bytes = result.object;
    writeFileSync(`${cached}.${process.pid}.tmp`, bytes);
    renameSync(`${cached}.${process.pid}.tmp`, cached);
    rmSync(src, { force: true });
  }
  const name = opts.name ?? "test.o";
  const elf = readElf(bytes, name);
  const btf = parseBtf(elf.section(".BTF")!.data(), { file: name, section: ".BTF" });
  return { bytes, elf, btf };
}
