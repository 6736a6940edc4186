// Map operations against the kernel: hash, array, per-CPU hash/array, LRU, batch ops, iteration under
// deletes, pinning. The kernel side (an XDP program run with BPF_PROG_TEST_RUN) writes values that
// the typed reads must see exactly.

import test from "ava";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import {
  codecs, loadObjectSync, openPinnedMap, possibleCpuCount, type ArrayMap, type BpfError, type BpfObject, type Codec,
  type HashMap, type LruHashMap, type PerCpuArrayMap, type PerCpuHashMap,
} from "@bpf2ts/runtime";
import { compileBpf, descriptor, openFdCount, requireFeature } from "./helpers/kernel.js";

interface Pair {
  a: bigint;
  b: number;
}
const Pair: Codec<Pair> = {
  size: 16,
  align: 8,
  decode: (v, o = 0) => ({ a: v.getBigUint64(o, true), b: v.getUint32(o + 8, true) }),
  encode: (x, v, o = 0) => {
    v.setBigUint64(o, x.a, true);
    v.setUint32(o + 8, x.b, true);
    v.setUint32(o + 12, 0, true);
  },
};

const mapsDescriptor = () =>
  descriptor("maps", compileBpf("runtime-maps.bpf.c"), {
    maps: {
      hash: { name: "hash", type: "hash", key: codecs.u32, value: Pair },
      arr: { name: "arr", type: "array", value: codecs.u64 },
      pcpuHash: { name: "pcpu_hash", type: "percpu_hash", key: codecs.u32, value: codecs.u64 },
      pcpuArr: { name: "pcpu_arr", type: "percpu_array", value: codecs.u32 },
      lru: { name: "lru", type: "lru_hash", key: codecs.u32, value: codecs.u64 },
      pinned: { name: "pinned", type: "hash", key: codecs.u32, value: codecs.u64 },
    },
  });

function withMaps(fn: (obj: BpfObject) => void | Promise<void>, opts: Parameters<typeof loadObjectSync>[1] = {}) {
  return async () => {
    const obj = loadObjectSync(mapsDescriptor(), opts);
    try {
      await fn(obj);
    } finally {
      obj.close();
    }
  };
}

test.serial("hash: typed get/set/has/delete with flags, misses are undefined, kernel writes are seen", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  await withMaps((obj) => {
    const hash = obj.maps.hash as HashMap<number, Pair>;
    t.is(hash.get(7), undefined);
    t.false(hash.has(7));
    hash.set(7, { a: 41n, b: 1 });
    t.deepEqual(hash.get(7), { a: 41n, b: 1 });
    t.throws<BpfError>(() => hash.set(7, { a: 0n, b: 0 }, "noexist"), { name: "BpfError", code: "EEXIST" });
    t.throws<BpfError>(() => hash.set(8, { a: 0n, b: 0 }, "exist"), { name: "BpfError", code: "ENOENT" });
    hash.set(7, { a: 100n, b: 2 }, "exist");
    hash.set(9, { a: 9n, b: 9 }, "noexist");
    t.true(hash.delete(9), "a delete right after a flagged update (delete takes no flags)");
    obj.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 5 });
    t.deepEqual(hash.get(7), { a: 105n, b: 0xabcd }, "the program incremented a 5 times and set b");
    t.true(hash.delete(7));
    t.false(hash.delete(7));
    t.false(hash.has(7));
    t.throws(() => hash.set(1, { a: 1n, b: 1 }, "bogus" as "any"), { instanceOf: TypeError, message: /^map hash: set: flag must be one of / });
  })();
});

test.serial("array: every slot exists, kernel increments, out of range is a miss", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  await withMaps((obj) => {
    const arr = obj.maps.arr as ArrayMap<bigint>;
    t.is(arr.length, 16);
    t.is(arr.get(3), 0n);
    arr.set(3, 33n);
    t.is(arr.get(3), 33n);
    obj.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 9 });
    t.is(arr.get(1), 9n);
    t.is(arr.get(16), undefined);
    t.deepEqual([...arr.keys()], Array.from({ length: 16 }, (_, i) => i));
    t.is([...arr.values()].reduce((x, y) => x + y, 0n), 42n);
  })();
});

test.serial("per-CPU hash and array: one value per possible CPU, 8-byte stride, sum", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  await withMaps((obj) => {
    const ncpu = possibleCpuCount();
    const ph = obj.maps.pcpuHash as PerCpuHashMap<number, bigint>;
    const pa = obj.maps.pcpuArr as PerCpuArrayMap<number>;
    t.is(ph.cpus, ncpu);
    obj.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 20 });
    obj.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 3 });
    const perCpu = ph.get(7)!;
    t.is(perCpu.length, ncpu);
    t.is(ph.sum(7), 23n, "per-CPU counts add up to the runs");
    t.is(pa.sum(0), 23);
    t.is(pa.get(0)!.length, ncpu);
    // Distinct values per CPU round-trip through the kernel (catches a wrong stride).
    const mine = Array.from({ length: ncpu }, (_, i) => 1000 + i);
    pa.set(2, mine);
    t.deepEqual(pa.get(2), mine);
    ph.set(9, mine.map(BigInt));
    t.deepEqual(ph.get(9), mine.map(BigInt));
    t.is(ph.sum(10), undefined);
    // Batch ops use the same per-CPU layout.
    const rows = new Map(ph.lookupBatch());
    t.deepEqual(rows.get(9), mine.map(BigInt));
    t.is(rows.get(7)!.reduce((x, y) => x + y, 0n), 23n);
    t.throws(() => pa.set(1, [1]), { instanceOf: RangeError });
  })();
});

test.serial("LRU hash: evicts beyond capacity, keeps the newest", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  await withMaps((obj) => {
    const lru = obj.maps.lru as LruHashMap<number, bigint>;
    for (let i = 0; i < 1000; i++) lru.set(i, BigInt(i * 2));
    const keys = [...lru.keys()];
    t.true(keys.length <= 128, `${keys.length} keys in a 128-entry LRU`);
    t.true(keys.length > 0);
    t.is(lru.get(999), 1998n);
    t.is(lru.get(0), undefined, "the oldest was evicted");
    for (const k of keys) t.is(lru.get(k), BigInt(k * 2));
  })();
});

test.serial("iteration ends and never repeats a key while keys are deleted underneath", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  await withMaps((obj) => {
    const hash = obj.maps.hash as HashMap<number, Pair>;
    for (let i = 0; i < 500; i++) hash.set(i, { a: BigInt(i), b: i });
    // Delete the current key (forces the kernel to restart from the first) and one more each step.
    const seen: number[] = [];
    for (const k of hash.keys()) {
      seen.push(k);
      hash.delete(k);
      hash.delete((k * 7 + 3) % 500);
    }
    t.is(new Set(seen).size, seen.length, "no key yielded twice");
    t.true(seen.every((k) => k >= 0 && k < 500));
    t.is([...hash.keys()].length, 0, "every key was either yielded or deleted by us");
    // A full walk while nothing changes yields every key exactly once.
    for (let i = 0; i < 300; i++) hash.set(i, { a: 1n, b: 1 });
    const all = [...hash.entries()];
    t.is(all.length, 300);
    t.deepEqual(all.map(([k]) => k).sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i));
  })();
});

test.serial("batch lookup / lookup-and-delete / delete", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  await withMaps((obj) => {
    const hash = obj.maps.hash as HashMap<number, Pair>;
    for (let i = 0; i < 1000; i++) hash.set(i, { a: BigInt(i) * 3n, b: i });
    const all = hash.lookupBatch({ batchSize: 64 });
    t.is(all.length, 1000);
    t.true(all.every(([k, v]) => v.a === BigInt(k) * 3n && v.b === k));
    t.is(hash.deleteBatch([1, 2, 3, 4]), 4);
    t.is(hash.get(2), undefined);
    const drained = hash.lookupBatch({ batchSize: 100, delete: true });
    t.is(drained.length, 996);
    t.is([...hash.keys()].length, 0);
    const arr = obj.maps.arr as ArrayMap<bigint>;
    arr.set(5, 55n);
    const rows = arr.lookupBatch();
    t.is(rows.length, 16);
    t.deepEqual(rows[5], [5, 55n]);
  })();
});

test.serial("maps.reuse: a second object runs on the first one's maps (bpf_map__reuse_fd)", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const a = loadObjectSync(mapsDescriptor());
  try {
    const arrA = a.maps.arr as ArrayMap<bigint>;
    const b = loadObjectSync(mapsDescriptor(), { maps: { arr: { reuse: arrA }, hash: { reuse: a.maps.hash! } } });
    try {
      const arrB = b.maps.arr as ArrayMap<bigint>;
      (a.maps.hash as HashMap<number, Pair>).set(7, { a: 1n, b: 0 });
      b.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 3 });
      t.is(arrA.get(1), 3n, "b's program counted into a's map");
      t.deepEqual((a.maps.hash as HashMap<number, Pair>).get(7), { a: 4n, b: 0xabcd });
      a.programs.bump!.testRun({ data: new Uint8Array(64), repeat: 2 });
      t.is(arrB.get(1), 5n, "one map, seen from both objects");
      t.is((b.maps.lru as LruHashMap<number, bigint>).get(1), undefined);
      (a.maps.lru as LruHashMap<number, bigint>).set(1, 9n);
      t.is((b.maps.lru as LruHashMap<number, bigint>).get(1), undefined, "maps not reused stay apart");
    } finally {
      b.close();
    }
    t.is(arrA.get(1), 5n, "the map outlives the object that reused it");
    const bad = t.throws(() => loadObjectSync(mapsDescriptor(), { maps: { arr: { reuse: {} as { fd: number } } } }));
    t.is(bad?.name, "TypeError");
    t.regex(bad!.message, /map arr: reuse: expected a map \(an object with an fd\)/);
  } finally {
    a.close();
  }
  // A closed object's map has no fd to give.
  t.throws(() => loadObjectSync(mapsDescriptor(), { maps: { arr: { reuse: a.maps.arr! } } }), { name: "BpfError", code: "EBADF" } as never);
});

test.serial("pinning: LIBBPF_PIN_BY_NAME under pinPath, reuse on reload, openPinnedMap", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  if (!existsSync("/sys/fs/bpf")) return void t.fail("no bpffs at /sys/fs/bpf");
  const dir = `/sys/fs/bpf/bpf2ts-test-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  try {
    await withMaps((obj) => {
      (obj.maps.pinned as HashMap<number, bigint>).set(1, 111n);
      t.true(existsSync(`${dir}/pinned`));
      t.false(existsSync(`${dir}/hash`), "only maps declared with pinning are pinned");
    }, { pinPath: dir })();
    // A new load reuses the pinned map and sees the value.
    await withMaps((obj) => {
      t.is((obj.maps.pinned as HashMap<number, bigint>).get(1), 111n);
    }, { pinPath: dir })();
    const fds = openFdCount();
    const m = openPinnedMap<HashMap<number, bigint>>(`${dir}/pinned`, { key: codecs.u32, value: codecs.u64 });
    t.is(m.type, "hash");
    t.is(m.get(1), 111n);
    m.set(2, 222n);
    m.close();
    m.close();
    t.is(openFdCount(), fds, "close released the fd");
    t.throws(() => m.get(1), { name: "BpfError", message: /closed/ });
    const again = openPinnedMap<HashMap<number, bigint>>(`${dir}/pinned`, { key: codecs.u32, value: codecs.u64 });
    t.is(again.get(2), 222n);
    again.close();
    await withMaps((obj) => {
      obj.maps.hash; // not pinned
      (obj.maps.hash as HashMap<number, Pair>).pin(`${dir}/hash-explicit`);
      t.true(existsSync(`${dir}/hash-explicit`));
    })();
    // pinMaps: "all" pins every (non-internal) map under pinPath.
    const all = `${dir}/all`;
    mkdirSync(all);
    await withMaps(() => {
      for (const m of ["hash", "arr", "pcpu_hash", "pcpu_arr", "lru", "pinned"]) t.true(existsSync(`${all}/${m}`), m);
    }, { pinPath: all, pinMaps: "all" })();
    t.throws(() => openPinnedMap(`${dir}/nope`), { name: "BpfError", code: "ENOENT" } as never);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("codec size mismatches and closed objects are errors, not crashes", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const d = mapsDescriptor();
  d.maps!.hash = { name: "hash", type: "hash", key: codecs.u64, value: Pair };
  const obj = loadObjectSync(d);
  t.throws(() => obj.maps.hash, { name: "BpfError", message: /key codec is 8 bytes, the map's key is 4/ });
  const arr = obj.maps.arr as ArrayMap<bigint>;
  obj.close();
  t.throws(() => arr.get(0), { name: "BpfError", message: /closed/ });
  t.throws(() => obj.maps.arr, { name: "BpfError", message: /closed/ });
  t.throws(() => obj.programs.bump!.fd, { name: "BpfError", message: /closed/ });
  t.throws(() => obj.programs.bump!.testRun(), { name: "BpfError", message: /closed/ });
  await t.throwsAsync(obj.attach(), { name: "BpfError", message: /closed/ });
});
