// Runtime end to end: load a real object from memory, set a .rodata constant, attach a tracepoint,
// trigger it from this process, and read the results through a typed map and mmapped globals.

import test from "ava";
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { codecs, libbpfVersion, loadObject, loadObjectSync, objectSpec, type BpfError, type HashMap, type Variable } from "@bpf2ts/runtime";
import { compileBpf, descriptor, repoRoot, requireFeature, requireKernel } from "./helpers/kernel.js";
import { tempDir } from "./helpers/temp-dir.js";

const basic = () =>
  descriptor("basic", compileBpf("runtime-basic.bpf.c"), {
    programs: { onOpenat: { name: "on_openat", section: "tracepoint/syscalls/sys_enter_openat", kind: "tracepoint" } },
    maps: { counts: { name: "counts", type: "hash", key: codecs.u32, value: codecs.u64 } },
    variables: {
      openCount: { name: "open_count", section: ".bss", offset: 0, codec: codecs.u64 },
      lastPath: { name: "last_path", section: ".bss", offset: 8, codec: { size: 64, align: 1, decode: (v: DataView, o = 0) => codecs.cstring(v, o, 64), encode: (x: string, v: DataView, o = 0) => codecs.setCstring(v, o, 64, x) } },
      magicSeen: { name: "magic_seen", section: ".bss", offset: 72, codec: codecs.u64 },
      dataMarker: { name: "data_marker", section: ".data", offset: 0, codec: codecs.u64 },
    },
    constants: {
      targetTgid: { name: "target_tgid", section: ".rodata", offset: 0, codec: codecs.u32 },
      magic: { name: "magic", section: ".rodata", offset: 8, codec: codecs.u64 },
    },
  });

test.serial("objectSpec describes programs and maps before load", async (t) => {
  if (!(await requireFeature(t, "clang"))) return;
  const spec = objectSpec(basic());
  t.is(spec.programs.onOpenat?.section, "tracepoint/syscalls/sys_enter_openat");
  t.is(spec.programs.onOpenat?.type, "tracepoint");
  t.true((spec.programs.onOpenat?.insnCount ?? 0) > 10);
  t.deepEqual(
    { type: spec.maps.counts?.type, keySize: spec.maps.counts?.keySize, valueSize: spec.maps.counts?.valueSize, maxEntries: spec.maps.counts?.maxEntries },
    { type: "hash", keySize: 4, valueSize: 8, maxEntries: 1024 },
  );
});

test.serial("tracepoint: load with constants, attach, count this process's openat calls", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "clang"))) return;
  const obj = await loadObject(basic(), { constants: { targetTgid: process.pid, magic: 0xdeadbeefcafen }, maxEntries: { counts: 2048 } });
  try {
    const counts = obj.maps.counts as HashMap<number, bigint>;
    t.is(counts.maxEntries, 2048);
    const openCount = obj.variables.openCount as Variable<bigint>;
    t.is(obj.variables.dataMarker!.get(), 0x1122334455667788n, ".data initial value visible through mmap");
    t.is(obj.constants.targetTgid!.get(), process.pid, ".rodata holds the constant we set");
    t.throws(() => obj.constants.targetTgid!.set(1), { name: "BpfError" });

    const links = await obj.attach();
    t.is(links.links.length, 1);
    const N = 25;
    for (let i = 0; i < N; i++) closeSync(openSync(`/proc/self/stat`, "r"));
    closeSync(openSync("/dev/null", "r"));
    links.close();
    // After detaching, opening more changes nothing.
    closeSync(openSync("/dev/null", "r"));

    t.is(openCount.get(), BigInt(N + 1));
    t.is(obj.variables.lastPath!.get(), "/dev/null");
    t.is(obj.variables.magicSeen!.get(), 0xdeadbeefcafen);
    // All opens came from the main thread: tid == pid.
    t.is(counts.get(process.pid), BigInt(N + 1));
    t.is(counts.get(1), undefined, "a miss is undefined");
    t.deepEqual([...counts.keys()], [process.pid]);

    // Writes from JS go live into the mapped .bss.
    openCount.set(5n);
    t.is(openCount.get(), 5n);
  } finally {
    obj.close();
  }
  t.throws(() => obj.variables.openCount!.get(), { name: "BpfError", message: /closed/ });
  t.throws(() => (obj.maps.counts as HashMap<number, bigint>).get(1), { name: "BpfError" });
  obj.close(); // idempotent
});

test.serial("bad input is a BpfError, never a crash", async (t) => {
  if (!(await requireFeature(t, "clang"))) return;
  const garbage = descriptor("garbage", Buffer.from("this is not an ELF object, just text"));
  const e1 = await t.throwsAsync<BpfError>(loadObject(garbage), { name: "BpfError" });
  t.true(e1!.errno > 0);
  // Refused by the runtime's own check, before libbpf sees it.
  t.regex(e1!.message, /^open garbage: bpfel object: not an ELF file \(bad magic\) \(a malformed object: libbpf was not given it\)$/);
  t.is(e1!.code, "EINVAL");
  // With the check off, libbpf's own refusal.
  const e2 = await t.throwsAsync<BpfError>(loadObject(garbage, { check: false }), { name: "BpfError" });
  t.regex(e2!.message, /open object garbage: .*not a proper ELF/s);
  t.is(e2!.code, "LIBBPF_FORMAT");
  t.throws(() => objectSpec(garbage), { name: "BpfError" });
  const truncated = descriptor("truncated", compileBpf("runtime-basic.bpf.c").subarray(0, 300));
  await t.throwsAsync(loadObject(truncated), { name: "BpfError" });
  await t.throwsAsync(loadObject({ name: "none", objects: {} }), { name: "BpfError", message: /no little-endian object/ });
  await t.throwsAsync(loadObject(basic(), { programs: ["nope"] }), { name: "BpfError", message: /no program "nope"/ });
  await t.throwsAsync(loadObject(basic(), { constants: { nope: 1 } as never }), { name: "BpfError", message: /no constant "nope"/ });
  await t.throwsAsync(loadObject(basic(), { maxEntries: { counts: -1 } }), { name: "BpfError", message: /positive integer/ });
});

test.serial("btfPath: CO-RE against a given BTF file; a missing one is named in the error", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "btf", "tracepoint", "clang"))) return;
  const obj = await loadObject(basic(), { btfPath: "/sys/kernel/btf/vmlinux" });
  t.true(obj.programs.onOpenat!.fd > 0);
  obj.close();
  const e = await t.throwsAsync<BpfError>(loadObject(basic(), { btfPath: "/nonexistent/vmlinux.btf" }), { name: "BpfError", code: "ENOENT" });
  t.regex(e!.message, /failed to parse target BTF/);
  t.regex(e!.hint ?? "", /\/nonexistent\/vmlinux\.btf/);
});

test.serial("logLevel keeps the verifier log of a successful load", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "clang"))) return;
  const obj = await loadObject(basic(), { logLevel: 1 });
  try {
    t.regex(obj.programs.onOpenat!.verifierLog ?? "", /processed \d+ insns/);
  } finally {
    obj.close();
  }
});

test.serial("loadObject verifies off the JS thread; its failures carry the verifier log too", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "clang"))) return;
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const start = performance.now();
  const obj = await loadObject(basic());
  const ms = performance.now() - start;
  clearInterval(timer);
  obj.close();
  t.log(`load took ${ms.toFixed(1)} ms, the event loop ran ${ticks} timer callbacks meanwhile`);
  t.true(ticks > 0, "timers ran while the object loaded");
  const e = await t.throwsAsync<BpfError>(loadObject(descriptor("bad", compileBpf("runtime-bad.bpf.c"))), { name: "BpfError" });
  t.is(e!.program, "bad_deref");
  t.regex(e!.log, /invalid mem access/);
});

test.serial("a section newer than the runtime's libbpf: the load error names the libbpf it needs", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const have = libbpfVersion().replace(/^v/, "");
  const [major, minor] = have.split(".").map(Number) as [number, number];
  if (major > 1 || (major === 1 && minor >= 3)) return t.pass(`libbpf ${have} knows tcx/ingress: nothing to refuse`);
  const e = t.throws<BpfError>(() => loadObjectSync(descriptor("newer", compileBpf("runtime-newer-section.bpf.c"))), { name: "BpfError" });
  t.is(e!.program, "tcx_in");
  t.regex(e!.message, /SEC\("tcx\/ingress"\)/);
  t.is(e!.hint, `SEC("tcx/ingress") needs libbpf ≥ 1.3, and this runtime's addon is built against libbpf ${have}: build it against a newer libbpf, or use a section name libbpf ${have} knows`);
});

test.serial("a map value with a spin lock: where the kernel refuses the object's BTF, the hint says so; else the lock works", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const d = descriptor("kptr", compileBpf("runtime-kptr-btf.bpf.c"));
  let obj: ReturnType<typeof loadObjectSync>;
  try {
    obj = loadObjectSync(d);
  } catch (e) {
    // libbpf 1.1 on this kernel: the BTF with a kptr to a forward-declared struct is refused.
    const err = e as BpfError;
    t.regex(err.message, /has to have BTF in order to use bpf_spin_lock/);
    t.regex(err.hint ?? "", /^the kernel refused the object's BTF \(-22\) and libbpf went on without it, so its maps have no BTF, which spin locks/);
    return;
  }
  try {
    const values = obj.maps.values as HashMap<Uint8Array, Uint8Array>;
    const zero = new Uint8Array(4);
    values.set(zero, new Uint8Array(24));
    obj.programs.count!.testRun({ data: new Uint8Array(64), repeat: 3 });
    t.is(Buffer.from(values.get(zero)!).readBigUInt64LE(16), 3n, "the kernel took the BTF: the program counted under its lock");
  } finally {
    obj.close();
  }
});

test.serial("the addon works in worker threads alongside the main thread", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "clang"))) return;
  const runtimeUrl = pathToFileURL(join(repoRoot, "runtime/dist/index.js")).href;
  const obj = compileBpf("runtime-basic.bpf.c").toString("base64");
  const src = `
    import { parentPort, workerData } from "node:worker_threads";
    const rt = await import(${JSON.stringify(runtimeUrl)});
    const d = { name: "basic", objects: { le: workerData }, maps: { counts: { name: "counts", type: "hash", key: rt.codecs.u32, value: rt.codecs.u64 } } };
    let sum = 0n;
    for (let i = 0; i < 20; i++) {
      const o = await rt.loadObject(d);
      o.maps.counts.set(i, BigInt(i));
      sum += o.maps.counts.get(i);
      const l = o.programs.on_openat.attach();
      o.close();
      if (!l.closed) throw new Error("link not closed with its object");
    }
    parentPort.postMessage(String(sum));
  `;
  const url = new URL(`data:text/javascript,${encodeURIComponent(src)}`);
  const run = () =>
    new Promise<string>((resolve, reject) => {
      const w = new Worker(url, { workerData: obj });
      w.once("message", resolve);
      w.once("error", reject);
    });
  const main = (async () => {
    for (let i = 0; i < 10; i++) (await loadObject(basic())).close();
  })();
  const results = await Promise.all([run(), run(), main]);
  t.deepEqual(results.slice(0, 2), ["190", "190"]);
});

test.serial("without privileges a load fails with EPERM and a hint about root/CAP_BPF", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const dir = tempDir(t, "bpf2ts-noprivs-");
  chmodSync(dir, 0o755);
  const obj = join(dir, "basic.o");
  writeFileSync(obj, compileBpf("runtime-basic.bpf.c"), { mode: 0o644 });
  const script = join(dir, "load.mjs");
  writeFileSync(
    script,
    `const rt = await import(${JSON.stringify(pathToFileURL(join(repoRoot, "runtime/dist/index.js")).href)});
     const fs = await import("node:fs");
     try { await rt.loadObject({ name: "basic", objects: { le: fs.readFileSync(${JSON.stringify(obj)}) } }); console.log("{}"); }
     catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, errno: e.errno, hint: e.hint })); }`,
    { mode: 0o644 },
  );
  // uid/gid 65534 (nobody) with every capability dropped.
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", process.execPath, script], { encoding: "utf8" });
  if (r.error) {
    t.log(`setpriv (util-linux) unavailable: ${r.error.message}`);
    if (requireKernel) t.fail("setpriv is needed to drop privileges");
    else t.pass();
    return;
  }
  const e = JSON.parse(r.stdout.trim() || "{}") as { name?: string; code?: string; errno?: number; hint?: string };
  t.is(e.name, "BpfError", r.stderr);
  t.is(e.code, "EPERM");
  t.is(e.errno, 1);
  t.regex(e.hint ?? "", /root|CAP_BPF/);
});
