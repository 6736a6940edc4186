// Maps of kernel objects from generated modules: test/bpf/runtime-map-of-maps.bpf.c (an array of
// arrays filled statically, a hash of hashes, a template with BPF_F_INNER_MAP, a program array) and
// the corpus's cgtop (a hash of arrays per cgroup, filled by its user space) are generated,
// type-checked under tsc --strict with code that uses their typed outer maps, and run: XDP programs
// through BPF_PROG_TEST_RUN, and cgtop on the live kernel against real cgroups.
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type ArrayMap, type ArrayOfMaps, type BpfError, type BpfObject, cgroup2Root, codecs, createMap, type HashMap, type HashOfMaps, loadObjectSync,
  type ProgramArray, type Variable,
} from "@bpf2ts/runtime";
import { generatedModule } from "./helpers/generated-module.js";
import { compileBpf, descriptor, openFdCount, repoRoot, requireFeature, vmlinuxDir } from "./helpers/kernel.js";

interface Tally {
  count: bigint;
  lastSlot: number;
}
interface MimObjects extends BpfObject {
  maps: BpfObject["maps"] & {
    counterA: ArrayMap<bigint>;
    counterB: ArrayMap<bigint>;
    bySlot: ArrayOfMaps<ArrayMap<bigint>>;
    byTenant: HashOfMaps<number, HashMap<number, Tally>>;
    anySize: HashOfMaps<number, ArrayMap<number>>;
    jumps: ProgramArray;
  };
  variables: BpfObject["variables"] & { slot: Variable<number>; tenant: Variable<number>; elem: Variable<number>; misses: Variable<bigint>; lastTally: Variable<Tally>; jump: Variable<number> };
}
interface MimModule {
  loadMim(): Promise<MimObjects>;
}

// What a user writes against the generated module: each line is a type assertion tsc checks.
const mimUsage = `
import type { ArrayMap, ArrayOfMaps, HashMap, HashOfMaps, ProgramArray } from "@bpf2ts/runtime";
import type { MimObjects, MimTally } from "./mim.js";

export function use(o: MimObjects): void {
  const bySlot: ArrayOfMaps<ArrayMap<bigint>> = o.maps.bySlot;
  const byTenant: HashOfMaps<number, HashMap<number, MimTally>> = o.maps.byTenant;
  const fresh: HashMap<number, MimTally> = byTenant.createInner();
  fresh.set(1, { count: 1n, lastSlot: 0 });
  byTenant.set(7, fresh);
  byTenant.set(8, o.maps.counterA.fd);
  const got: ArrayMap<bigint> | undefined = bySlot.getMap(0);
  const id: number | undefined = bySlot.get(0);
  const jumps: ProgramArray = o.maps.jumps;
  jumps.set(2, o.programs.tailTx);
  // @ts-expect-error the inner maps of by_tenant hold tallies, not numbers
  fresh.set(1, 5);
  // @ts-expect-error an outer map takes maps, not values
  byTenant.set(9, { count: 1n, lastSlot: 0 });
  void got; void id;
}
`;

let mim: Promise<MimModule> | undefined;
const mimModule = () =>
  (mim ??= generatedModule<MimModule>({ stem: "mim", source: "test/bpf/runtime-map-of-maps.bpf.c", cflags: ["-I", vmlinuxDir()], usage: mimUsage }));

/** One BPF_PROG_TEST_RUN of `bump` with the globals it reads. */
function bump(o: MimObjects, slot: number, tenant: number, elem = 0): void {
  o.variables.slot.set(slot);
  o.variables.tenant.set(tenant);
  o.variables.elem.set(elem);
  const { retval } = o.programs.bump!.testRun({ data: new Uint8Array(64) });
  if (retval !== 2) throw new Error(`bump returned ${retval}, expected XDP_PASS`);
}

test("map-in-map: the generated module types outer maps by their inner maps (tsc --strict)", async (t) => {
  if (!(await requireFeature(t, "clang"))) return;
  await t.notThrowsAsync(mimModule());
});

test.serial("array of maps: the static .values are in place, set() swaps an inner map, getMap() opens it typed", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const { loadMim } = await mimModule();
  const fds = openFdCount();
  const o = await loadMim();
  try {
    const { bySlot, counterA, counterB } = o.maps;
    t.like(bySlot, { type: "array_of_maps", keySize: 4, valueSize: 4, maxEntries: 2 });
    t.like(bySlot.inner, { type: "array", keySize: 4, valueSize: 8, maxEntries: 4 });
    bump(o, 0, 0);
    bump(o, 1, 0);
    bump(o, 1, 0);
    t.is(counterA.get(0), 1n, "slot 0 holds counter_a (`.values = { &counter_a, &counter_b }`)");
    t.is(counterB.get(0), 2n);

    const ids = [bySlot.get(0), bySlot.get(1)];
    t.true(ids.every((id) => typeof id === "number" && id > 0), "a lookup gives the inner map's id");
    t.not(ids[0], ids[1]);
    {
      using a = bySlot.getMap(0)!;
      t.is(a.type, "array");
      t.is(a.get(0), 1n, "getMap opens counter_a itself");
      a.set(3, 40n);
      t.is(counterA.get(3), 40n, "writes through the opened map land in counter_a");
    }
    bySlot.set(0, counterB);
    t.is(bySlot.get(0), ids[1], "slot 0 now holds counter_b");
    bump(o, 0, 0);
    t.is(counterB.get(0), 3n);
    t.is(counterA.get(0), 1n);
    t.deepEqual([...bySlot.keys()], [0, 1]);

    const e = t.throws<BpfError>(() => bySlot.set(2, counterA));
    t.regex(e?.hint ?? "", /index 2 is past the end of by_slot/);
  } finally {
    o.close();
  }
  t.is(openFdCount(), fds, "every fd getMap opened was closed");
});

test.serial("hash of maps: createInner() makes a fitting map; the kernel counts into it; delete() unplugs it", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const { loadMim } = await mimModule();
  const fds = openFdCount();
  const o = await loadMim();
  try {
    const { byTenant } = o.maps;
    t.like(byTenant.inner, { type: "hash", keySize: 4, valueSize: 16, maxEntries: 16 });
    bump(o, 0, 7);
    t.is(o.variables.misses.get(), 1n, "no inner map for tenant 7 yet");

    const seven = byTenant.createInner();
    t.like(seven, { type: "hash", keySize: 4, valueSize: 16, maxEntries: 16 });
    byTenant.set(7, seven);
    for (let i = 0; i < 3; i++) bump(o, 1, 7);
    t.deepEqual(seven.get(1), { count: 3n, lastSlot: 1 });
    t.deepEqual(o.variables.lastTally.get(), { count: 3n, lastSlot: 1 });
    t.is(o.variables.misses.get(), 1n);

    // The outer map keeps an inner map alive after user space lets go of it.
    const eight = byTenant.createInner({ name: "tenant_eight" });
    byTenant.set(8, eight);
    t.is(eight.name, "tenant_eight");
    eight.close();
    bump(o, 0, 8);
    {
      using back = byTenant.getMap(8)!;
      t.deepEqual(back.get(1), { count: 1n, lastSlot: 0 }, "decoded with the inner map's codecs");
    }
    t.deepEqual([...byTenant.keys()].sort(), [7, 8]);
    t.true([...byTenant.values()].every((id) => id > 0));

    t.true(byTenant.delete(7));
    t.false(byTenant.has(7));
    t.is(byTenant.getMap(7), undefined);
    bump(o, 0, 7);
    t.is(o.variables.misses.get(), 2n, "unplugged: the program finds no map for tenant 7");
    t.deepEqual(seven.get(1), { count: 3n, lastSlot: 1 }, "the inner map itself is untouched");

    // A map unlike the template: the kernel's EINVAL, with the template spelled out.
    using wrong = createMap({ type: "hash", keySize: 4, valueSize: 8, maxEntries: 16 });
    const e = t.throws<BpfError>(() => byTenant.set(9, wrong));
    t.is(e?.code, "EINVAL");
    t.regex(e?.hint ?? "", /type hash, key 4 bytes, value 16 bytes, flags 0, max_entries 16.*createInner\(\)/);
    t.throws(() => byTenant.createInner({ maxEntries: 32 }), { message: /max_entries 16: the template lacks BPF_F_INNER_MAP/ });
    seven.close();
  } finally {
    o.close();
  }
  t.is(openFdCount(), fds, "every inner map and opened map was closed");
});

test.serial("BPF_F_INNER_MAP: inner maps of any size fit; an outer map made from user space takes them too", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const { loadMim } = await mimModule();
  const o = await loadMim();
  try {
    const { anySize } = o.maps;
    t.is(anySize.inner?.flags, 1 << 12);
    using small = anySize.createInner();
    using big = anySize.createInner({ maxEntries: 1000 });
    t.is(big.maxEntries, 1000);
    anySize.set(1, small);
    anySize.set(2, big);
    bump(o, 0, 2, 999);
    bump(o, 0, 2, 999);
    bump(o, 0, 1, 0);
    t.is(big.get(999), 2);
    t.is(small.get(0), 1);

    // createMap({ innerMap }): an outer map of user space's own, typed by hand.
    using outer = createMap<HashOfMaps<number, ArrayMap<number>>>({ type: "hash_of_maps", keySize: 4, valueSize: 4, maxEntries: 4, innerMap: small }, { key: anySize.keyCodec });
    t.is(outer.type, "hash_of_maps");
    outer.set(5, big);
    using again = outer.getMap(5)!;
    t.is(again.maxEntries, 1000);
    t.is(again.valueSize, 4);
  } finally {
    o.close();
  }
});

test.serial("program array: tail calls go where the static .values and set() put programs; delete() empties a slot", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const { loadMim } = await mimModule();
  const o = await loadMim();
  try {
    const { jumps } = o.maps;
    t.like(jumps, { type: "prog_array", keySize: 4, valueSize: 4, maxEntries: 4 });
    const run = (slot: number) => {
      o.variables.jump.set(slot);
      return o.programs.dispatch!.testRun({ data: new Uint8Array(64) }).retval;
    };
    const [DROP, PASS, TX] = [1, 2, 3];
    t.is(run(1), DROP, "slot 1: tail_drop, from `.values = { [1] = &tail_drop }`");
    t.is(run(2), PASS, "an empty slot: the tail call falls through");
    t.is(jumps.get(2), undefined);
    jumps.set(2, o.programs.tailTx!);
    t.is(run(2), TX);
    t.true(jumps.get(2)! > 0, "a lookup gives the program's id");
    t.not(jumps.get(1), jumps.get(2));
    t.deepEqual([...jumps.entries()].map(([k]) => k), [1, 2], "entries: the slots that hold a program");
    t.true(jumps.delete(2));
    t.is(run(2), PASS);
    const e = t.throws<BpfError>(() => jumps.set(3, o.programs.notXdp!));
    t.is(e?.code, "EINVAL");
    t.regex(e?.hint ?? "", /programs of one type/);
  } finally {
    o.close();
  }
});

test.serial("a map-in-map declared without __array() loads once maps.innerMap gives libbpf a template", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const d = descriptor("innerfd", compileBpf("runtime-inner-fd.bpf.c"), {
    maps: { noTemplate: { name: "no_template", type: "hash_of_maps", key: codecs.u32 } },
    variables: { found: { name: "found", section: ".bss", offset: 0, codec: codecs.u64 } },
  });
  const e = t.throws<BpfError>(() => loadObjectSync(d));
  t.is(e?.code, "EINVAL", "libbpf cannot create it without a template");
  using inner = createMap<ArrayMap<bigint>>({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 }, { value: codecs.u64 });
  const o = loadObjectSync(d, { maps: { noTemplate: { innerMap: inner } } });
  try {
    const outer = o.maps.noTemplate as HashOfMaps<number, ArrayMap<bigint>>;
    t.is(outer.inner, undefined, "no template in the descriptor: createInner cannot help");
    t.throws(() => outer.createInner(), { message: /no inner map template/ });
    inner.set(0, 42n);
    outer.set(1, inner);
    o.programs.probe!.testRun({ data: new Uint8Array(64) });
    t.is((o.variables.found as Variable<bigint>).get(), 42n);
  } finally {
    o.close();
  }
});

interface CgtopObjects extends BpfObject {
  maps: BpfObject["maps"] & { cgroups: HashOfMaps<bigint, ArrayMap<{ value: BigUint64Array }>> };
  variables: BpfObject["variables"] & { unwatched: Variable<bigint> };
}

const cgtopUsage = `
import type { ArrayMap, HashOfMaps } from "@bpf2ts/runtime";
import type { CgtopCgCounters, CgtopObjects } from "./cgtop.js";

export function watch(o: CgtopObjects, cgroupId: bigint): ArrayMap<CgtopCgCounters> {
  const cgroups: HashOfMaps<bigint, ArrayMap<CgtopCgCounters>> = o.maps.cgroups;
  const counters = cgroups.createInner();
  cgroups.set(cgroupId, counters);
  return counters;
}
`;

test.serial("cgtop (corpus): per-cgroup inner maps made from user space count exactly the execs and forks of their cgroup", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "clang"))) return;
  const root = cgroup2Root();
  if (!existsSync(join(root, "cgroup.procs"))) return void t.fail(`no cgroup v2 hierarchy at ${root}`);
  const { loadCgtop } = await generatedModule<{ loadCgtop(): Promise<CgtopObjects> }>({
    stem: "cgtop",
    source: "fixtures/corpus/cgtop/cgtop.bpf.c",
    cflags: ["-I", vmlinuxDir(), "-I", join(repoRoot, "fixtures/corpus/include")],
    usage: cgtopUsage,
  });
  const dirs = ["a", "b"].map((x) => join(root, `bpf2ts-cgtop-${process.pid}-${x}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const o = await loadCgtop();
  try {
    // bpf_get_current_cgroup_id() is the cgroup directory's inode number.
    const [a, b] = dirs.map((d) => {
      const counters = o.maps.cgroups.createInner();
      o.maps.cgroups.set(BigInt(statSync(d).ino), counters);
      return counters;
    }) as [ArrayMap<{ value: BigUint64Array }>, ArrayMap<{ value: BigUint64Array }>];
    using links = await o.attach();
    // A shell joins the cgroup, then forks and execs `true` n times (the `exit` keeps the last one forked).
    const runIn = (dir: string, n: number) => {
      const r = spawnSync("sh", ["-c", `echo $$ > ${dir}/cgroup.procs; ${Array(n).fill("/bin/true").join("; ")}; exit 0`], { encoding: "utf8" });
      t.is(r.status, 0, r.stderr);
    };
    runIn(dirs[0]!, 2);
    runIn(dirs[1]!, 3);
    links.close();
    const [ca, cb] = [a.get(0)!.value, b.get(0)!.value];
    t.deepEqual([ca[1], ca[2]], [2n, 2n], `cgroup a: execs, forks (syscalls ${ca[0]})`);
    t.deepEqual([cb[1], cb[2]], [3n, 3n], `cgroup b: execs, forks (syscalls ${cb[0]})`);
    t.true(ca[0]! > 0n && cb[0]! > 0n, "syscalls counted in both");
    t.true(o.variables.unwatched.get() > 0n, "the rest of the system goes to unwatched");
  } finally {
    o.close();
    for (const d of dirs) rmdirSync(d);
  }
});
