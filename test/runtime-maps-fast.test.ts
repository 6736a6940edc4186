// The fast map paths against the live kernel: batch update/lookup/delete (values checked, the
// kernel's batch support probed and reported), and array maps created with BPF_F_MMAPABLE read and
// written through their mapped memory while a BPF program reads and writes the same values.

import test from "ava";
import { codecs, createMap, haveMapBatchOps, loadObjectSync, type ArrayMap, type BpfError, type Codec, type HashMap } from "@bpf2ts/runtime";
import { compileBpf, descriptor, requireFeature } from "./helpers/kernel.js";

interface Val {
  x: bigint;
  tag: number;
}
const Val: Codec<Val> = {
  size: 16,
  align: 8,
  decode: (v, o = 0) => ({ x: v.getBigUint64(o, true), tag: v.getUint32(o + 8, true) }),
  encode: (x, v, o = 0) => {
    if (x.x < 0n) throw new RangeError(`x: ${x.x} is negative`);
    v.setBigUint64(o, x.x, true);
    v.setUint32(o + 8, x.tag, true);
    v.setUint32(o + 12, 0, true);
  },
};

const BPF_F_MMAPABLE = 1 << 10;
const BPF_F_RDONLY = 1 << 3;

test.serial("updateBatch / lookupBatch / deleteBatch: values round-trip, flags and errors per key", async (t) => {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  t.log(`kernel batch ops: ${haveMapBatchOps() ? "BPF_MAP_*_BATCH" : "absent (one-by-one fallback)"}`);
  const m = createMap<HashMap<number, Val>>({ type: "hash", name: "perf_batch", keySize: 4, valueSize: 16, maxEntries: 2048 }, { key: codecs.u32, value: Val });
  try {
    const entries = Array.from({ length: 1500 }, (_, i) => [i * 7, { x: BigInt(i) ** 3n, tag: i }] as const);
    t.is(m.updateBatch(entries), 1500);
    t.deepEqual(m.get(7 * 1234), { x: 1234n ** 3n, tag: 1234 });
    const all = new Map(m.lookupBatch({ batchSize: 100 }));
    t.is(all.size, 1500);
    t.true([...all].every(([k, v]) => k % 7 === 0 && v.tag === k / 7 && v.x === BigInt(k / 7) ** 3n));
    // "noexist" on a present key: EEXIST, naming the map; the entries before it were written.
    const err = t.throws<BpfError>(() => m.updateBatch([[20_000, { x: 1n, tag: 1 }], [7, { x: 0n, tag: 0 }]], "noexist"));
    t.is(err?.code, "EEXIST");
    t.regex(err?.message ?? "", /perf_batch: update/);
    t.deepEqual(m.get(20_000), { x: 1n, tag: 1 });
    t.deepEqual(m.get(7), { x: 1n, tag: 1 }, "the failing entry was not written");
    t.is(m.updateBatch([[7, { x: 9n, tag: 9 }]], "exist"), 1);
    t.deepEqual(m.get(7), { x: 9n, tag: 9 });
    t.throws(() => m.updateBatch([[1, { x: -1n, tag: 0 }]]), { instanceOf: RangeError }, "a value the codec rejects reaches no syscall");
    t.is(m.updateBatch([]), 0);
    t.is(m.deleteBatch(entries.slice(0, 500).map(([k]) => k)), 500);
    t.is(m.get(0), undefined);
    t.is(m.lookupBatch().length, 1001);
  } finally {
    m.close();
  }
});

test.serial("BPF_F_MMAPABLE array: user space and the program share the values, no syscall per access", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const obj = loadObjectSync(descriptor("maps_fast", compileBpf("runtime-maps-fast.bpf.c"), { maps: { vals: { name: "vals", type: "array", value: Val } } }));
  try {
    const vals = obj.maps.vals as ArrayMap<Val>;
    t.true(vals.mapped, "an mmapable array is accessed through its mapping");
    vals.set(0, { x: 20n, tag: 4 });
    obj.programs.mirror!.testRun({ data: new Uint8Array(64), repeat: 3 });
    t.deepEqual(vals.get(1), { x: 41n, tag: 5 }, "the program read what the mapping wrote, and the mapping reads what it wrote");
    t.deepEqual(vals.get(2), { x: 3n, tag: 0 });
    // The same values through a syscall (BPF_MAP_LOOKUP_BATCH reads the kernel's copy).
    t.deepEqual(new Map(vals.lookupBatch()).get(1), { x: 41n, tag: 5 });
    t.is(vals.get(8), undefined, "past the end is a miss, as with syscalls");
    t.throws<BpfError>(() => vals.set(8, { x: 1n, tag: 1 }), { code: "E2BIG" });
    t.throws<BpfError>(() => vals.set(3, { x: 1n, tag: 1 }, "noexist"), { code: "EEXIST" });
    t.throws(() => vals.set(3, { x: -1n, tag: 1 }), { instanceOf: RangeError });
    t.deepEqual(vals.get(3), { x: 0n, tag: 0 }, "a rejected value leaves the slot untouched");
    obj.close();
    t.throws<BpfError>(() => vals.get(0), { code: "EBADF" }, "after close the mapping is gone");
  } finally {
    obj.close();
  }
});

test.serial("BPF_F_MMAPABLE array from user space: mapped, and read-only ones refuse writes without a crash", async (t) => {
  if (!(await requireFeature(t, "root", "bpf"))) return;
  const m = createMap<ArrayMap<bigint>>({ type: "array", name: "perf_mmap", keySize: 4, valueSize: 8, maxEntries: 1000, flags: BPF_F_MMAPABLE }, { value: codecs.u64 });
  try {
    t.true(m.mapped);
    for (let i = 0; i < 1000; i++) m.set(i, BigInt(i) * 1_000_000_007n);
    // Syscalls (BPF_MAP_*_BATCH) see the mapping's writes and the mapping sees theirs.
    t.is(new Map(m.lookupBatch({ batchSize: 1000 })).get(999), 999n * 1_000_000_007n);
    t.is(m.updateBatch([[999, 0xffff_ffff_ffff_ffffn]]), 1);
    t.is(m.get(999), 0xffff_ffff_ffff_ffffn, "a syscall write is seen through the mapping");
  } finally {
    m.close();
  }
  const plain = createMap<ArrayMap<bigint>>({ type: "array", name: "perf_plain", keySize: 4, valueSize: 8, maxEntries: 4 }, { value: codecs.u64 });
  try {
    t.false(plain.mapped);
    plain.set(1, 5n);
    t.is(plain.get(1), 5n);
  } finally {
    plain.close();
  }
  const ro = createMap<ArrayMap<bigint>>({ type: "array", name: "perf_ro", keySize: 4, valueSize: 8, maxEntries: 4, flags: BPF_F_MMAPABLE | BPF_F_RDONLY }, { value: codecs.u64 });
  try {
    t.log(`BPF_F_RDONLY | BPF_F_MMAPABLE: ${ro.mapped ? "mapped read-only" : "the kernel refuses a mapping; syscalls"}`);
    t.is(ro.get(2), 0n);
    t.throws<BpfError>(() => ro.set(2, 1n), { code: "EPERM" }, "the write goes to the kernel, which refuses it");
  } finally {
    ro.close();
  }
});
