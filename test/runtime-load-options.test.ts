// libbpf's load knobs through LoadOptions, against the live kernel: a stack-trace map declared with
// value size 0 sized at load and holding real stacks; a map left uncreated beside the optional
// program that uses it; one hook in fentry/kprobe/tracepoint variants chosen by the feature probes;
// a tp_btf program retargeted with attachTarget; errors that name what exists; and attach defaults
// and kinds from the contract's section table (the descriptor's target, a cgroup/connect4 program).

import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import {
  cgroup2Root, codecs, fentryCanAttach, haveKernelFunction, kprobeExists, loadObjectSync, tracepointExists,
  type BpfError, type BpfObject, type LoadOptions, type ObjectDescriptor, type StackTraceMap, type Variable, type VariableDescriptor,
} from "@bpf2ts/runtime";
import { parseBtf } from "../generator/btf/index.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { buildModel } from "../generator/model/model.js";
import { compileBpf, missingReason, requireFeature } from "./helpers/kernel.js";

/** The descriptor the generator would write for runtime-knobs.bpf.c (programs with their parsed targets, globals). */
function knobsDescriptor(): ObjectDescriptor {
  const bytes = compileBpf("runtime-knobs.bpf.c");
  const elf = readElf(bytes, "runtime-knobs.o");
  const model = buildModel(elf, parseBtf(elf.section(".BTF")!.data(), { file: "runtime-knobs.o", section: ".BTF" }));
  const variables: Record<string, VariableDescriptor> = {};
  const constants: Record<string, VariableDescriptor> = {};
  for (const v of model.variables) {
    const codec = v.size === 4 ? codecs.u32 : v.name.endsWith("_id") ? codecs.s64 : codecs.u64;
    (v.constant ? constants : variables)[v.name] = { name: v.name, section: v.section, offset: v.offset, codec };
  }
  return {
    name: "knobs",
    objects: { le: bytes },
    programs: Object.fromEntries(model.programs.map((p) => [p.name, { name: p.name, section: p.section, kind: p.kind, target: p.target }])),
    maps: { stackmap: { name: "stackmap", type: "stack_trace" }, optionalCounts: { name: "optional_counts", type: "hash", key: codecs.u32, value: codecs.u64 } },
    variables,
    constants,
  };
}

function load(opts: LoadOptions): { obj: BpfObject; v: Record<string, Variable<bigint | number>> } {
  const obj = loadObjectSync(knobsDescriptor(), { ...opts, constants: { target_tgid: process.pid, ...opts.constants } });
  return { obj, v: obj.variables as Record<string, Variable<bigint | number>> };
}

const only = (...names: string[]): LoadOptions["programs"] =>
  Object.fromEntries(["on_kill", "optional_counter", "nanosleep_fentry", "nanosleep_kprobe", "nanosleep_tp", "on_task_event", "on_connect4"].map((n) => [n, { autoload: names.includes(n) }]));

const PERF_MAX_STACK_DEPTH = 127;

test.serial("a stack-trace map declared with value size 0 loads with maps.valueSize and holds real stacks", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf", "clang"))) return;
  const e = t.throws<BpfError>(() => load({ programs: only("on_kill") }), { name: "BpfError" }, "value size 0 is what the kernel refuses");
  t.regex(e!.message, /stackmap/);
  t.is(e!.code, "EINVAL");

  const { obj, v } = load({ programs: only("on_kill"), maps: { stackmap: { valueSize: PERF_MAX_STACK_DEPTH * 8 } } });
  try {
    const stacks = obj.maps.stackmap as StackTraceMap;
    t.is(stacks.handle.valueSize, PERF_MAX_STACK_DEPTH * 8, "the wrapper has the size set at load");
    t.is(stacks.valueCodec.size, PERF_MAX_STACK_DEPTH * 8);
    const links = await obj.attach();
    process.kill(process.pid, 0);
    links.close();
    const kernel = stacks.get(Number(v.kernel_stack_id!.get()));
    const user = stacks.get(Number(v.user_stack_id!.get()));
    t.truthy(kernel, `kernel stack id ${v.kernel_stack_id!.get()}`);
    t.truthy(user, `user stack id ${v.user_stack_id!.get()}`);
    t.true(kernel!.length >= 2 && kernel!.length <= PERF_MAX_STACK_DEPTH);
    for (const ip of kernel!) t.true(ip >= 0xffff800000000000n, `kernel frame 0x${ip.toString(16)}`);
    // The innermost user frame is the syscall's caller: inside an executable mapping of this process.
    const exec = readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => /^\S+ ..x/.test(l)).map((l) => l.split(" ")[0]!.split("-").map((x) => BigInt(`0x${x}`)));
    t.true(exec.some(([lo, hi]) => user![0]! >= lo! && user![0]! < hi!), `user frame 0x${user![0]!.toString(16)}`);
    t.log(`kernel stack: ${kernel!.length} frames; user stack: ${user!.length} frames`);
  } finally {
    obj.close();
  }
});

test.serial("autocreate: false leaves a map uncreated beside the optional program that uses it", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf", "clang"))) return;
  const { obj, v } = load({
    programs: only("on_kill"),
    maps: { stackmap: { valueSize: 8 * 8 }, optional_counts: { autocreate: false } },
  });
  try {
    const e = t.throws<BpfError>(() => obj.maps.optionalCounts, { name: "BpfError" });
    t.regex(e!.message, /optional_counts.*not created.*autocreate/);
    t.throws(() => obj.programs.optional_counter!.fd, { message: /not loaded/ });
    // The rest of the object works.
    const links = await obj.attach();
    process.kill(process.pid, 0);
    links.close();
    t.true(Number(v.kernel_stack_id!.get()) >= 0);
  } finally {
    obj.close();
  }
  // Loading the program that uses the uncreated map is the verifier's error, naming the map.
  const e = t.throws<BpfError>(() => load({ programs: only("optional_counter"), maps: { stackmap: { valueSize: 8 }, optional_counts: { autocreate: false } } }), { name: "BpfError" });
  t.regex(e!.message, /optional_counter/);
  t.regex(e!.log ?? "", /optional_counts/);
  // The same map created (the default) serves the optional program when it is loaded.
  const both = load({ programs: only("on_kill", "optional_counter"), maps: { stackmap: { valueSize: 8 * 8 } } });
  try {
    const links = await both.obj.attach();
    process.kill(process.pid, 0);
    links.close();
    t.true(((both.obj.maps.optionalCounts as unknown as { get(k: number): bigint | undefined }).get(0) ?? 0n) >= 1n);
  } finally {
    both.obj.close();
  }
});

test.serial("fentry when available, else kprobe, else tracepoint: the probes choose the variant that loads and fires", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf", "clang"))) return;
  // The probes agree with what the test helpers found by attaching real programs.
  t.true(haveKernelFunction("do_nanosleep"), "vmlinux BTF has do_nanosleep");
  t.false(haveKernelFunction("bpf2ts_no_such_function"));
  t.false(haveKernelFunction("task_struct"), "a struct is not a FUNC");
  const canFentry = fentryCanAttach("do_nanosleep");
  t.is(canFentry, (await missingReason("fentry")) === undefined, `fentryCanAttach: ${canFentry}`);
  t.false(fentryCanAttach("bpf2ts_no_such_function"));
  const canKprobe = kprobeExists("do_nanosleep");
  t.is(canKprobe, (await missingReason("kprobe")) === undefined, `kprobeExists: ${canKprobe}`);
  t.true(tracepointExists("syscalls", "sys_enter_clock_nanosleep"));
  t.false(tracepointExists("syscalls", "sys_enter_bpf2ts_nothing"));
  t.false(tracepointExists("../..", "etc"), "names are not paths");

  // The probes' "no" is the kernel's: the variants they rule out do not load and attach here.
  const attachOnly = async (p: string) => {
    const { obj } = load({ programs: only(p), maps: { stackmap: { valueSize: 8 } } });
    try {
      (await obj.attach()).close();
    } finally {
      obj.close();
    }
  };
  if (!canFentry) await t.throwsAsync(attachOnly("nanosleep_fentry"), { name: "BpfError" }, "fentry variant");
  if (!canKprobe) await t.throwsAsync(attachOnly("nanosleep_kprobe"), { name: "BpfError" }, "kprobe variant");

  const variant = canFentry ? "nanosleep_fentry" : canKprobe ? "nanosleep_kprobe" : "nanosleep_tp";
  t.log(`fentry: ${canFentry}, kprobe: ${canKprobe} → ${variant}`);
  const { obj, v } = load({ programs: only(variant), maps: { stackmap: { valueSize: 8 } } });
  try {
    for (const p of ["nanosleep_fentry", "nanosleep_kprobe", "nanosleep_tp"]) {
      if (p === variant) t.true(obj.programs[p]!.fd > 0);
      else t.throws(() => obj.programs[p]!.fd, { message: /not loaded/ }, p);
    }
    const links = await obj.attach();
    spawnSync("sleep", ["0.01"]);
    links.close();
    t.true((v.nanosleep_hits!.get() as bigint) >= 1n, "the chosen variant saw the child's nanosleep");
    t.is(v.nanosleep_variant!.get(), { nanosleep_fentry: 1, nanosleep_kprobe: 2, nanosleep_tp: 3 }[variant]);
  } finally {
    obj.close();
  }
});

test.serial("tp_btf retargeted with programs.attachTarget fires on the other tracepoint", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "btf", "clang"))) return;
  const targets: unknown[] = [];
  const run = async (opts: LoadOptions["programs"]) => {
    const { obj, v } = load({ programs: opts, maps: { stackmap: { valueSize: 8 } } });
    try {
      targets.push(obj.programs.on_task_event!.target);
      const links = await obj.attach();
      const child = spawnSync("/bin/true");
      links.close();
      return { hits: v.tp_btf_hits!.get() as bigint, tgid: v.tp_btf_tgid!.get(), parent: v.tp_btf_parent!.get(), child: child.pid };
    } finally {
      obj.close();
    }
  };
  const programs = only("on_task_event") as Record<string, { autoload?: boolean; attachTarget?: string }>;
  // As declared (sched_process_fork): it runs in the forking process, this one.
  const fork = await run(programs);
  t.true(fork.hits >= 1n);
  t.is(fork.tgid, process.pid);
  // Retargeted to sched_process_exec: it runs in the child that execs, whose parent is this process.
  const exec = await run({ ...programs, on_task_event: { autoload: true, attachTarget: "sched_process_exec" } });
  t.true(exec.hits >= 1n);
  t.is(exec.tgid, exec.child, "the exec'ing child");
  t.is(exec.parent, process.pid);
  t.deepEqual(targets, [{ type: "btf", name: "sched_process_fork" }, { type: "btf", name: "sched_process_exec" }], "program.target follows the retarget");
  const e = t.throws<BpfError>(() => load({ programs: { on_task_event: true as never } }), { name: "BpfError" });
  t.regex(e!.message, /programs\.on_task_event must be \{ autoload\?, attachTarget\? \}/);
});

test.serial("load options name the map or program and list what exists", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "btf", "clang"))) return;
  const bad = (opts: LoadOptions) => t.throws<BpfError>(() => load(opts), { name: "BpfError" })!;
  let e = bad({ maps: { stackmapp: { valueSize: 8 } } });
  t.regex(e.message, /maps: no map "stackmapp" \(the object has: .*stackmap.*optionalCounts \(optional_counts\)/);
  t.is(e.code, "ENOENT");
  e = bad({ maps: { stackmap: { valueSize: -1 } } });
  t.regex(e.message, /valueSize of map stackmap must be/);
  e = bad({ programs: { on_kil: { autoload: true } } });
  t.regex(e.message, /programs: no program "on_kil" \(the object has: .*on_kill/);
  e = bad({ programs: ["nope"] });
  t.regex(e.message, /no program "nope"/);
  e = bad({ programs: { on_task_event: { attachTarget: "bpf2ts_no_such_tracepoint" } } });
  t.regex(e.message, /on_task_event.*bpf2ts_no_such_tracepoint/);
  e = bad({ maxEntries: { nope: 1 } });
  t.regex(e.message, /maxEntries: no map "nope"/);
});

test.serial("program.attach() takes its defaults from the descriptor's target, not the section string", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf", "clang"))) return;
  const d = knobsDescriptor();
  // on_kill as if the generator had written another tracepoint as its target: getppid, which
  // process.ppid calls every time.
  d.programs!.on_kill = { ...d.programs!.on_kill!, target: { type: "tracepoint", category: "syscalls", event: "sys_enter_getppid" } };
  const obj = loadObjectSync(d, { programs: only("on_kill"), maps: { stackmap: { valueSize: 8 * 8 } }, constants: { target_tgid: process.pid } });
  try {
    const v = obj.variables as Record<string, Variable<bigint>>;
    const link = obj.programs.on_kill!.attach();
    process.kill(process.pid, 0);
    t.is(v.kernel_stack_id!.get(), -1n, "not attached to sys_enter_kill, the section's tracepoint");
    t.true(process.ppid > 0);
    link.close();
    t.true(v.kernel_stack_id!.get() >= 0n, "attached to sys_enter_getppid, the descriptor's target");
  } finally {
    obj.close();
  }
});

test.serial("cgroup/connect4 is a cgroup_sock_addr program: attached to a cgroup, it sees that cgroup's connects only", async (t) => {
  if (!(await requireFeature(t, "root", "cgroup_skb", "btf", "clang"))) return;
  const root = cgroup2Root();
  if (!existsSync(join(root, "cgroup.procs"))) return void t.fail(`no cgroup v2 hierarchy at ${root}`);
  const cg = join(root, `bpf2ts-contract-${process.pid}`);
  mkdirSync(cg, { recursive: true });
  const { obj, v } = load({ programs: only("on_connect4"), maps: { stackmap: { valueSize: 8 } } });
  try {
    const p = obj.programs.on_connect4!;
    t.is(p.kind, "cgroup_sock_addr");
    t.is((await obj.attach()).links.length, 0, "attach() leaves cgroup programs to program.attach({ cgroup })");
    const link = p.attach({ cgroup: cg });
    const connect = `const s=require("dgram").createSocket("udp4");s.connect(47116,"127.0.0.1",()=>s.close());`;
    const r = spawnSync("sh", ["-c", `echo $$ > ${cg}/cgroup.procs && exec ${process.execPath} -e '${connect}'`], { encoding: "utf8" });
    t.is(r.status, 0, r.stderr);
    // This process is not in the cgroup: its connect is not seen.
    spawnSync(process.execPath, ["-e", connect]);
    link.close();
    t.is(v.connect4_hits!.get(), 1n);
  } finally {
    obj.close();
    rmdirSync(cg);
  }
});
