// The contract's SEC() table, walked whole: every entry (libbpf 1.1's section_defs and the newer
// ones, marked with their libbpf version) parsed from a sample name with extras to its kind, program
// type, attach type and target; checked against the strings of the libbpf the runtime links; the
// runtime's kind lookup and the generator's model agree with it; and the contract entry point loads
// no native addon.

import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cgroupKinds, parseSection, programKinds, sectionDefs, sectionMatches } from "@bpf2ts/runtime/contract";
import { kindOfSection } from "@bpf2ts/runtime";
import { readElf } from "@bpf2ts/runtime/object-file";
import { NONE, sectionCases } from "./helpers/section-cases.js";
import { repoRoot } from "./helpers/kernel.js";

test("every entry of the table is walked: kind, program type, attach type, target and flags of a sample name", (t) => {
  const walked = new Set<string>();
  for (const c of sectionCases) {
    const info = parseSection(c.sec);
    if (!info) {
      t.fail(`${c.sec}: not recognised`);
      continue;
    }
    walked.add(info.def);
    t.is(info.kind, c.kind, `${c.sec}: kind`);
    t.is(info.progType, c.progType, `${c.sec}: program type`);
    t.is(info.attachType, c.attachType, `${c.sec}: attach type`);
    t.deepEqual(info.target, c.target ?? NONE, `${c.sec}: target`);
    t.is(info.autoAttach, c.autoAttach ?? false, `${c.sec}: auto-attach`);
    t.is(info.sleepable, c.sleepable ?? false, `${c.sec}: sleepable`);
    t.true(sectionMatches(info.def, c.sec));
    // The entry that matched is the first that matches, as in libbpf.
    t.is(sectionDefs.find((d) => sectionMatches(d.sec, c.sec))?.sec, info.def);
    t.is(kindOfSection(c.sec), c.kind, `${c.sec}: the runtime's kind is the table's`);
    t.is(parseSection(`?${c.sec}`)?.def, info.def, `?${c.sec} matches without the ?`);
  }
  t.deepEqual(sectionDefs.map((d) => d.sec).filter((s) => !walked.has(s)), [], "entries without a sample");
  t.true(sectionDefs.every((d) => programKinds.includes(d.kind)));
});

test("the hooks the two old tables disagreed on have the kinds that attach them", (t) => {
  const kind = (s: string) => parseSection(s)?.kind;
  t.is(kind("fmod_ret/security_file_open"), "fmod_ret");
  t.is(kind("action"), "other", "a tc action is not a classifier");
  for (const s of ["cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6", "cgroup/sendmsg4", "cgroup/recvmsg6", "cgroup/getpeername4", "cgroup/getsockname6"]) {
    t.is(kind(s), "cgroup_sock_addr", s);
  }
  for (const s of ["cgroup/sysctl", "cgroup/getsockopt", "cgroup/dev", "sockops", "lsm_cgroup/socket_bind"]) t.true(cgroupKinds.has(kind(s)!), s);
  // Names libbpf does not know; prefixes without their "/".
  for (const s of ["kprobex/foo", "tracepoints/a/b", "cgroup/bind5", "xdp/foo", "classifier/x", "sk_reuseport/other", ""]) t.is(parseSection(s), undefined, s);
  t.deepEqual(parseSection("tracepoint/syscalls")?.target, NONE, "a tracepoint needs category and event");
  t.false(parseSection("kprobe")!.autoAttach, "no target, no auto-attach");
});

test("newer libbpf's entries are marked with their version", (t) => {
  const marked = Object.fromEntries(sectionDefs.filter((d) => d.libbpf).map((d) => [d.sec, d.libbpf]));
  t.is(marked["tcx/ingress"], "1.3");
  t.is(marked["netfilter"], "1.3");
  t.is(marked["struct_ops.s+"], "1.2");
  t.is(marked["kprobe.session+"], "1.5");
  t.is(marked["uprobe.session+"], "1.6");
  t.is(parseSection("cgroup/connect_unix")?.needsLibbpf, "1.3");
  t.is(parseSection("tracepoint/a/b")?.needsLibbpf, undefined);
});

const LIBBPF =
  ["x86_64-linux-gnu", "aarch64-linux-gnu", "s390x-linux-gnu", "powerpc64le-linux-gnu", "riscv64-linux-gnu"].map((t) => `/usr/lib/${t}/libbpf.so.1`).find(existsSync) ??
  "/usr/lib64/libbpf.so.1";

test("the table agrees with the libbpf 1.1 the runtime links (its .rodata strings)", (t) => {
  if (!existsSync(LIBBPF)) return t.fail(`${LIBBPF} missing: bash scripts/setup.sh installs libbpf-dev`);
  const lib = readElf(readFileSync(LIBBPF), LIBBPF);
  const strings = Buffer.from(lib.section(".rodata")!.data()).toString("latin1").split("\0");
  // The linker merges a string into the tail of a longer one ("tp+" inside "raw_tp+"): look for suffixes.
  const known = (s: string) => strings.some((x) => x.endsWith(s));
  for (const d of sectionDefs) {
    if (d.libbpf !== undefined) {
      t.false(known(d.sec), `${d.sec} is marked newer than libbpf 1.1 but libbpf 1.1 has it`);
      continue;
    }
    t.true(known(d.sec), `libbpf 1.1 has no section "${d.sec}"`);
    t.true(known(d.progType), `libbpf 1.1 has no program type "${d.progType}"`);
    if (d.attachType) t.true(known(d.attachType), `libbpf 1.1 has no attach type "${d.attachType}"`);
  }
  // And the other way: every "name+" definition libbpf 1.1 has is in the table.
  const plus = [...new Set(strings.filter((x) => /^[a-z_.]+\+$/.test(x)))];
  t.true(plus.length > 20);
  for (const p of plus) t.true(sectionDefs.some((d) => d.sec.endsWith(p)), `table lacks libbpf's "${p}"`);
});

test("@bpf2ts/runtime/contract is plain data: importing it loads no addon, and it imports nothing else", (t) => {
  const mapsAfter = (spec: string, call: string) =>
    execFileSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(spec)}); ${call}; const fs = await import("node:fs"); process.stdout.write(fs.readFileSync("/proc/self/maps", "utf8"));`], { cwd: repoRoot, encoding: "utf8" });
  t.false(mapsAfter("@bpf2ts/runtime/contract", "m.parseSection('xdp')").includes("bpf2ts.node"));
  // The check can fail: the main entry does map the addon once it is used.
  if (existsSync(join(repoRoot, "runtime/build/Release/bpf2ts.node"))) t.true(mapsAfter("@bpf2ts/runtime", "m.libbpfVersion()").includes("bpf2ts.node"));
  const dir = join(repoRoot, "runtime/src/contract");
  for (const f of readdirSync(dir)) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/from "([^"]+)"/g)) t.regex(m[1]!, /^\.\/[\w-]+\.js$/, `${f} imports ${m[1]} (only the contract's own files)`);
  }
});

test("the generator's model classifies with the contract's table", (t) => {
  const model = readFileSync(join(repoRoot, "generator/model/model.ts"), "utf8");
  t.regex(model, /from "@bpf2ts\/runtime\/contract"/);
  t.false(existsSync(join(repoRoot, "generator/sections.ts")), "no second table in the generator");
});
