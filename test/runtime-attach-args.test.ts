// Attach options are checked at the call (issue 11 item 5): offsets, pids, cookies and names of the
// wrong type or out of range throw a TypeError/RangeError naming the program and the option, before
// anything reaches the kernel; and a second attach to the same hook says why it failed.

import test from "ava";
import { spawnSync } from "node:child_process";
import { loadObjectSync, type BpfError } from "@bpf2ts/runtime";
import { compileBpf, descriptor, requireFeature } from "./helpers/kernel.js";
import { tempDir } from "./helpers/temp-dir.js";

const load = (programs: string[]) =>
  loadObjectSync(
    descriptor("attachargs", compileBpf("runtime-progs.bpf.c"), {
      constants: {},
    }),
    { programs },
  );

test("uprobe: offsets, pids, cookies and paths of the wrong type or range are refused at the call", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "clang"))) return;
  const obj = load(["on_add"]);
  try {
    const p = obj.programs.on_add!;
    const attach = (o: Record<string, unknown>) => () => p.attach(o as never);
    const max = Number.MAX_SAFE_INTEGER;
    t.throws(attach({ path: "/bin/true", offset: -1 }), { instanceOf: RangeError, message: `attach on_add (uprobe): options.offset must be an integer in 0..${max}, got -1` });
    t.throws(attach({ path: "/bin/true", offset: 1.5 }), { instanceOf: RangeError, message: `attach on_add (uprobe): options.offset must be an integer in 0..${max}, got 1.5` });
    t.throws(attach({ path: "/bin/true", offset: NaN }), { instanceOf: RangeError, message: /options.offset must be an integer/ });
    t.throws(attach({ path: "/bin/true", offset: "16" }), { instanceOf: TypeError, message: 'attach on_add (uprobe): options.offset must be a number, got "16"' });
    t.throws(attach({ path: "/bin/true", offset: 0, pid: 1.5 }), { instanceOf: RangeError, message: "attach on_add (uprobe): options.pid must be an integer in -1..2147483647, got 1.5" });
    t.throws(attach({ path: "/bin/true", offset: 0, pid: -2 }), { instanceOf: RangeError, message: /options.pid must be an integer in -1\.\.2147483647, got -2/ });
    t.throws(attach({ path: "/bin/true", offset: 0, cookie: 5 }), { instanceOf: TypeError, message: "attach on_add (uprobe): options.cookie must be a bigint, got 5" });
    t.throws(attach({ path: "/bin/true", offset: 0, cookie: -1n }), { instanceOf: RangeError, message: /options.cookie must be a u64 bigint, got -1n/ });
    t.throws(attach({ path: 42 }), { instanceOf: TypeError, message: "attach on_add (uprobe): options.path must be a string, got 42" });
    t.throws(() => p.attach(7 as never), { instanceOf: TypeError, message: "attach on_add (uprobe): options must be an object, got 7" });
  } finally {
    obj.close();
  }
});

test("xdp: a second attach to the same interface says a program is already attached there", async (t) => {
  if (!(await requireFeature(t, "root", "xdp", "iproute2", "clang"))) return;
  const dev = `rrt${process.pid % 100000}`;
  // A veth pair of our own (dummy devices need a module this kernel may lack; lo is shared).
  const add = spawnSync("ip", ["link", "add", dev, "type", "veth", "peer", "name", `${dev}p`], { encoding: "utf8" });
  if (add.status !== 0) {
    t.log(`cannot run: ip link add ${dev} type veth: ${add.stderr.trim()}`);
    t.pass();
    return;
  }
  const obj = load(["on_xdp"]);
  try {
    const p = obj.programs.on_xdp!;
    t.throws(() => p.attach({ interface: dev, flags: -1 } as never), { instanceOf: RangeError, message: /options.flags must be an integer in 0\.\.4294967295, got -1/ });
    const first = p.attach({ interface: dev });
    try {
      const e = t.throws<BpfError>(() => p.attach({ interface: dev }));
      t.is(e?.name, "BpfError");
      t.true(e?.code === "EEXIST" || e?.code === "EBUSY", `code ${e?.code}`);
      t.regex(e?.message ?? "", /hint: a program is already attached there/);
      t.regex(e?.hint ?? "", /close the link that holds it/);
    } finally {
      first.close();
    }
    p.attach({ interface: dev }).close(); // free again once the first link is closed
  } finally {
    obj.close();
    spawnSync("ip", ["link", "del", dev]);
  }
});

test("cgroup: a directory that is not a cgroup v2 one gets a hint saying so (EBADF alone said nothing)", async (t) => {
  if (!(await requireFeature(t, "root", "cgroup_skb", "clang"))) return;
  const obj = load(["on_cgroup_egress"]);
  try {
    const dir = tempDir(t, "bpf2ts-not-a-cgroup-");
    const e = t.throws<BpfError>(() => obj.programs.on_cgroup_egress!.attach({ cgroup: dir }));
    t.is(e?.code, "EBADF");
    t.regex(e?.hint ?? "", /^the path is not a cgroup v2 directory .*cgroup2Root\(\)/);
    t.throws(() => obj.programs.on_cgroup_egress!.attach({ cgroup: 5 } as never), { instanceOf: TypeError, message: "attach on_cgroup_egress (cgroup_skb): options.cgroup must be a string, got 5" });
  } finally {
    obj.close();
  }
});
