// Every attach kind against the live kernel, each proving the values are the real ones: syscall
// numbers, function arguments and return values, pids, packet payloads, sample counts.

import test from "ava";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { cgroup2Root, codecs, LE, loadObjectSync, packetSocket, type BpfError, type RingBuf, type StackTraceMap, type Struct, socketFd, type BpfObject, type IterLink, type Variable, type VariableDescriptor } from "@bpf2ts/runtime";
import { buildC, buildGo, compileBpf, descriptor, missingReason, requireFeature } from "./helpers/kernel.js";

const globals = [
  "raw_tp_count", "raw_tp_last_id", "tp_btf_count", "tp_btf_last_id", "uprobe_count", "uprobe_a", "uprobe_b",
  "uprobe_pid", "uprobe_cookie", "uretprobe_count", "uretprobe_ret", "usdt_count", "usdt_a", "usdt_b", "usdt_pid", "usdt_cookie_seen", "perf_samples", "perf_target_samples", "xdp_packets",
  "xdp_bytes", "tc_packets", "socket_seen", "socket_dropped", "kprobe_hits", "cgroup_packets", "user_stack_id",
  "kernel_stack_id",
] as const;
type Global = (typeof globals)[number];

/** Offsets of the .bss/.data globals from the object's symbol table (the test does not use the generator). */
function bssLayout(obj: Buffer): Record<string, VariableDescriptor> {
  const file = join(tmpdir(), `bpf2ts-progs-${process.pid}.o`);
  writeFileSync(file, obj);
  const out = spawnSync("llvm-objdump-19", ["-t", file], { encoding: "utf8" });
  rmSync(file, { force: true });
  const vars: Record<string, VariableDescriptor> = {};
  for (const line of out.stdout.split("\n")) {
    const m = /^([0-9a-f]+)\s.*\s(\.bss|\.data)\s+([0-9a-f]+)\s+(\w+)$/.exec(line.trim());
    if (!m) continue;
    const size = parseInt(m[3]!, 16);
    const name = m[4]!;
    const signed = ["uprobe_a", "uprobe_b", "uretprobe_ret", "usdt_a", "usdt_b", "user_stack_id", "kernel_stack_id"].includes(name);
    vars[name] = { name, section: m[2]!, offset: parseInt(m[1]!, 16), codec: size === 4 ? codecs.u32 : signed ? codecs.s64 : codecs.u64 };
  }
  return vars;
}

function load(programs: string[], tgid = process.pid): { obj: BpfObject; v: Record<Global, Variable<bigint | number>> } {
  const bytes = compileBpf("runtime-progs.bpf.c");
  const d = descriptor("progs", bytes, {
    variables: bssLayout(bytes),
    constants: { targetTgid: { name: "target_tgid", section: ".rodata", offset: 0, codec: codecs.u32 } },
  });
  const obj = loadObjectSync(d, { programs, constants: { targetTgid: tgid } });
  return { obj, v: obj.variables as Record<Global, Variable<bigint | number>> };
}

const SYS_kill = 62; // x86-64

/**
 * Calls kill(2) and reads the recorded syscall number straight from the mapped .bss (no syscall in
 * between). V8 may slip in a syscall of its own (GC), so up to three tries.
 */
function lastSyscallAfterKill(id: Variable<bigint | number>): bigint | number {
  let got: bigint | number = -1n;
  for (let i = 0; i < 3 && got !== BigInt(SYS_kill); i++) {
    process.kill(process.pid, 0);
    got = id.get();
  }
  return got;
}

test.serial("raw_tp: sees this thread's syscalls with their numbers; detaches on close", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "clang"))) return;
  const { obj, v } = load(["on_raw_sys_enter"]);
  try {
    const links = await obj.attach();
    t.is(links.links.length, 1);
    t.is(lastSyscallAfterKill(v.raw_tp_last_id), BigInt(SYS_kill), "the last syscall of the main thread was kill(2)");
    t.true((v.raw_tp_count.get() as bigint) >= 1n);
    links.close();
    // Read after close: close(2) of the link fd itself still enters the syscall while attached.
    const n = v.raw_tp_count.get();
    process.kill(process.pid, 0);
    statSync("/");
    t.is(v.raw_tp_count.get(), n, "no more events after close");
  } finally {
    obj.close();
  }
});

test.serial("tp_btf: typed raw tracepoint args", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "clang"))) return;
  const { obj, v } = load(["on_btf_sys_enter"]);
  try {
    using link = obj.programs.on_btf_sys_enter!.attach();
    t.true(link.fd >= 0);
    t.is(lastSyscallAfterKill(v.tp_btf_last_id), BigInt(SYS_kill));
    t.true((v.tp_btf_count.get() as bigint) >= 1n);
  } finally {
    obj.close();
  }
});

const addC = `
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) long add_numbers(long a, long b) { return a + b; }
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1, s = 0;
  for (long i = 0; i < n; i++) s += add_numbers(i, 1000 + i);
  printf("%ld\\n", s);
  return 0;
}
`;

test.serial("uprobe + uretprobe on a C program: arguments, return value, pid, count, cookie", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "gcc", "clang"))) return;
  const bin = buildC("add", addC);
  const { obj, v } = load(["on_add", "on_add_ret"]);
  try {
    const entry = obj.programs.on_add!.attach({ path: bin, symbol: "add_numbers", cookie: 0xc0ffeen });
    const exit = obj.programs.on_add_ret!.attach({ path: bin, symbol: "add_numbers" });
    const run = spawnSync(bin, ["3"], { encoding: "utf8" });
    t.is(run.stdout.trim(), String(0 + 1000 + 1 + 1001 + 2 + 1002));
    t.is(v.uprobe_count.get(), 3n);
    t.is(v.uretprobe_count.get(), 3n);
    t.is(v.uprobe_a.get(), 2n, "first argument of the last call");
    t.is(v.uprobe_b.get(), 1002n, "second argument of the last call");
    t.is(v.uretprobe_ret.get(), 1004n, "return value of the last call");
    t.is(v.uprobe_pid.get(), run.pid);
    t.is(v.uprobe_cookie.get(), 0xc0ffeen, "the attach cookie");
    entry.close();
    exit.close();
    spawnSync(bin, ["2"]);
    t.is(v.uprobe_count.get(), 3n, "no more hits after close");
  } finally {
    obj.close();
  }
});

// A probe point per loop pass (<sys/sdt.h>, systemtap-sdt-dev): two arguments, as libbpf-tools'
// USDT programs read them (javagc, the libbpf-bootstrap usdt example).
const ticksC = `#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1;
  for (long i = 0; i < n; i++) DTRACE_PROBE2(bpf2ts, tick, i, 1000 + i);
  printf("%ld\\n", n);
  return 0;
}
`;

test.serial("usdt on a C program's probe: arguments, pid, count and cookie; a bare SEC(\"usdt\") without a target is refused", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "gcc", "clang"))) return;
  const bin = buildC("ticks", ticksC);
  const { obj, v } = load(["on_tick"]);
  try {
    t.is(obj.programs.on_tick!.kind, "usdt");
    const err = t.throws(() => obj.programs.on_tick!.attach({}));
    t.regex(err.message, /usdt needs \{ path, provider, name \}/);
    const link = obj.programs.on_tick!.attach({ path: bin, provider: "bpf2ts", name: "tick", cookie: 0xfeedn });
    const run = spawnSync(bin, ["3"], { encoding: "utf8" });
    t.is(run.stdout.trim(), "3");
    t.is(v.usdt_count.get(), 3n);
    t.is(v.usdt_a.get(), 2n, "first argument of the last hit");
    t.is(v.usdt_b.get(), 1002n, "second argument of the last hit");
    t.is(v.usdt_pid.get(), run.pid);
    t.is(v.usdt_cookie_seen.get(), 0xfeedn);
    link.close();
    spawnSync(bin, ["2"]);
    t.is(v.usdt_count.get(), 3n, "no more hits after close");
  } finally {
    obj.close();
  }
});

test.serial("uprobe with pid filter only fires for that process", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "gcc", "clang"))) return;
  const bin = buildC("add", addC);
  const { obj, v } = load(["on_add"]);
  try {
    // A pid that is not the child's: the probe must not fire.
    obj.programs.on_add!.attach({ path: bin, symbol: "add_numbers", pid: process.pid });
    spawnSync(bin, ["4"]);
    t.is(v.uprobe_count.get(), 0n);
  } finally {
    obj.close();
  }
});

const goSrc = `
package main

import (
	"fmt"
	"os"
	"strconv"
)

type counter struct{ n int }

//go:noinline
func (c *counter) bump(n int) { c.n += n }

//go:noinline
func Add(a, b int) int { return a + b }

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	c := &counter{}
	s := 0
	for i := 0; i < n; i++ {
		s += Add(i, 1000+i)
		c.bump(i)
	}
	fmt.Println(s, c.n)
}
`;

test.serial("uprobe on a Go 1.19 binary by Go symbol names (main.Add, main.(*counter).bump)", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "go", "clang"))) return;
  const bin = buildGo("gocount", goSrc);
  const { obj, v } = load(["on_add"]);
  try {
    const a = obj.programs.on_add!.attach({ path: bin, symbol: "main.Add" });
    let run = spawnSync(bin, ["5"], { encoding: "utf8" });
    t.is(run.status, 0);
    t.is(v.uprobe_count.get(), 5n);
    t.is(v.uprobe_pid.get(), run.pid);
    a.close();
    obj.programs.on_add!.attach({ path: bin, symbol: "main.(*counter).bump" });
    run = spawnSync(bin, ["7"], { encoding: "utf8" });
    t.is(run.stdout.trim(), `${Array.from({ length: 7 }, (_, i) => 1000 + 2 * i).reduce((x, y) => x + y)} 21`);
    t.is(v.uprobe_count.get(), 12n);
  } finally {
    obj.close();
  }
});

test.serial("perf_event: CPU-clock samples match this thread's CPU time; StackTraceMap holds its real stacks", async (t) => {
  if (!(await requireFeature(t, "root", "perf_event", "clang"))) return;
  const { obj, v } = load(["on_sample"]);
  try {
    // CPU time of the main thread (utime + stime, in clock ticks of 10 ms).
    const cpuMs = () => {
      const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(f[11]) + Number(f[12])) * 10;
    };
    const link = obj.programs.on_sample!.attach({ frequency: 1000 });
    const cpu0 = cpuMs();
    const deadline = Date.now() + 5000;
    let x = 0;
    // Spin until the main thread has had 300 ms of CPU (on a busy machine that takes longer).
    while (cpuMs() - cpu0 < 300 && Date.now() < deadline) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
    link.close();
    const cpu = cpuMs() - cpu0;
    const total = v.perf_samples.get() as bigint;
    const mine = Number(v.perf_target_samples.get());
    t.log(`samples: ${total} total, ${mine} of the main thread over ${cpu} ms of its CPU time (x=${x > 0})`);
    // A 1 kHz CPU clock samples a thread about once per ms of its CPU time.
    t.true(mine >= cpu * 0.5 && mine <= cpu * 1.5 + 30, `${mine} samples for ${cpu} ms of CPU`);
    t.true(total >= BigInt(mine));

    // The last sample's stacks: the innermost user frame (the sampled instruction pointer) lies in
    // an executable mapping of this process, kernel frames in the kernel half of the address space.
    // Outer user frames come from frame-pointer unwinding, which code built without frame pointers
    // (libc) derails into garbage now and then, so they are only counted.
    const stacks = obj.maps.stacks as StackTraceMap;
    const user = stacks.get(Number(v.user_stack_id.get()));
    const kernel = stacks.get(Number(v.kernel_stack_id.get()));
    const exec = readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => /^\S+ ..x/.test(l)).map((l) => l.split(" ")[0]!.split("-").map((x) => BigInt(`0x${x}`)));
    t.truthy(user, `user stack id ${v.user_stack_id.get()}`);
    t.true(user!.length >= 1);
    const executable = (ip: bigint) => exec.some(([lo, hi]) => ip >= lo! && ip < hi!);
    t.true(executable(user![0]!), `innermost user frame 0x${user![0]!.toString(16)} is in an executable mapping`);
    t.log(`user stack: ${user!.length} frames, ${user!.filter(executable).length} in executable mappings`);
    if (kernel) for (const ip of kernel) t.true(ip >= 0xffff800000000000n, `kernel frame 0x${ip.toString(16)}`);
    const after = v.perf_samples.get();
    await new Promise((r) => setTimeout(r, 50));
    t.is(v.perf_samples.get(), after, "no samples after close");
  } finally {
    obj.close();
  }
});

function frame(payload: string): Uint8Array {
  const b = Buffer.alloc(64);
  b.write(payload, 0, "latin1");
  return b;
}

test.serial("xdp testRun: verdicts and data_out are the program's", async (t) => {
  if (!(await requireFeature(t, "root", "xdp", "test_run", "clang"))) return;
  const { obj, v } = load(["on_xdp"]);
  try {
    const p = obj.programs.on_xdp!;
    const drop = p.testRun({ data: frame("XDP!hello") });
    t.is(drop.retval, 1, "XDP_DROP");
    t.is(Buffer.from(drop.data!).toString("latin1", 0, 9), "XDP!#ello", "the program rewrote byte 4");
    const pass = p.testRun({ data: frame("other"), repeat: 10 });
    t.is(pass.retval, 2, "XDP_PASS");
    t.is(v.xdp_packets.get(), 11n);
    t.is(v.xdp_bytes.get(), 11n * 64n);
  } finally {
    obj.close();
  }
});

test.serial("syscall testRun: context in, retval out, context written back", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const { obj } = load(["add_ctx"]);
  try {
    const ctx = new Uint8Array(24);
    const v = new DataView(ctx.buffer);
    v.setBigUint64(0, 40n, true);
    v.setBigUint64(8, 2n, true);
    const r = obj.programs.add_ctx!.testRun({ ctx });
    t.is(r.retval, 80);
    t.is(v.getBigUint64(16, true), 42n, "the kernel copied the context back");
  } finally {
    obj.close();
  }
});

/** Sends each message as one UDP datagram to 127.0.0.1:`port`, waiting for each send. */
async function udpToLoopback(port: number, messages: string[]): Promise<void> {
  const c = dgram.createSocket("udp4");
  for (const m of messages) await new Promise<void>((res, rej) => c.send(m, port, "127.0.0.1", (e) => (e ? rej(e) : res())));
  c.close();
}

test.serial("xdp on loopback: counts real packets", async (t) => {
  if (!(await requireFeature(t, "root", "xdp", "clang"))) return;
  const { obj, v } = load(["on_xdp"]);
  try {
    const link = obj.programs.on_xdp!.attach({ interface: "lo" });
    await udpToLoopback(47112, ["a", "b", "c"]);
    await new Promise((r) => setTimeout(r, 20));
    link.close();
    // Other traffic on lo may add to it; our three datagrams are there.
    t.true((v.xdp_packets.get() as bigint) >= 3n);
    t.true((v.xdp_bytes.get() as bigint) >= 3n * (14n + 20n + 8n + 1n));
  } finally {
    obj.close();
  }
});

test.serial("xdp in skb mode (netlink attach with flags) counts packets and detaches on close", async (t) => {
  if (!(await requireFeature(t, "root", "xdp", "clang"))) return;
  const { obj, v } = load(["on_xdp"]);
  try {
    const link = obj.programs.on_xdp!.attach({ interface: "lo", mode: "skb" });
    t.is(link.fd, -1, "a netlink attachment, not a bpf_link");
    await udpToLoopback(47112, ["a", "b"]);
    await new Promise((r) => setTimeout(r, 20));
    t.true((v.xdp_packets.get() as bigint) >= 2n);
    link.close();
    const after = v.xdp_packets.get();
    await udpToLoopback(47112, ["c", "d"]);
    await new Promise((r) => setTimeout(r, 20));
    t.is(v.xdp_packets.get(), after, "detached");
  } finally {
    obj.close();
  }
});

test.serial("tc egress and ingress on loopback: count UDP to port 47111, detach independently", async (t) => {
  if (!(await requireFeature(t, "root", "tc", "clang"))) return;
  const { obj, v } = load(["on_tc"]);
  try {
    const link = obj.programs.on_tc!.attach({ interface: "lo", direction: "egress" });
    t.is(link.fd, -1, "tc attachments are not bpf_links in libbpf 1.1");
    await udpToLoopback(47111, ["1", "2", "3", "4"]);
    await udpToLoopback(47113, ["other port"]);
    await new Promise((r) => setTimeout(r, 20));
    t.is(v.tc_packets.get(), 4n);
    // Ingress too: on loopback each datagram now passes both hooks.
    const ingress = obj.programs.on_tc!.attach({ interface: "lo", direction: "ingress" });
    await udpToLoopback(47111, ["5", "6"]);
    await new Promise((r) => setTimeout(r, 20));
    t.is(v.tc_packets.get(), 8n);
    link.close();
    await udpToLoopback(47111, ["7"]);
    await new Promise((r) => setTimeout(r, 20));
    t.is(v.tc_packets.get(), 9n, "egress detached, ingress still counts");
    ingress.close();
    await udpToLoopback(47111, ["8"]);
    t.is(v.tc_packets.get(), 9n, "both detached");
  } finally {
    obj.close();
  }
});

test.serial("socket filter: drops datagrams starting with DROP on the receiving socket", async (t) => {
  if (!(await requireFeature(t, "root", "socket", "clang"))) return;
  const { obj, v } = load(["on_socket"]);
  const server = dgram.createSocket("udp4");
  try {
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    const port = server.address().port;
    const link = obj.programs.on_socket!.attach({ fd: socketFd(server) });
    const got: string[] = [];
    server.on("message", (m) => got.push(m.toString()));
    await udpToLoopback(port, ["KEEP1", "DROP2", "KEEP3"]);
    const deadline = Date.now() + 2000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(got, ["KEEP1", "KEEP3"]);
    t.is(v.socket_dropped.get(), 1n);
    t.is(v.socket_seen.get(), 3n);
    link.close();
    await udpToLoopback(port, ["DROP4"]);
    const end = Date.now() + 2000;
    while (got.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    t.deepEqual(got, ["KEEP1", "KEEP3", "DROP4"], "filter gone after close");
  } finally {
    server.close();
    obj.close();
  }
});

/** `struct frame` of runtime-packet.bpf.c, as generated code would write it. */
interface Frame {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  protocol: number;
  len: number;
  pktType: number;
}
const Frame: Struct<Frame> = {
  name: "frame",
  size: 24,
  align: 4,
  fields: { saddr: { offset: 0, size: 4 }, daddr: { offset: 4, size: 4 }, sport: { offset: 8, size: 2 }, dport: { offset: 10, size: 2 }, protocol: { offset: 12, size: 4 }, len: { offset: 16, size: 4 }, pktType: { offset: 20, size: 4 } },
  decode: (v, o = 0) => ({ saddr: v.getUint32(o, LE), daddr: v.getUint32(o + 4, LE), sport: v.getUint16(o + 8, LE), dport: v.getUint16(o + 10, LE), protocol: v.getUint32(o + 12, LE), len: v.getUint32(o + 16, LE), pktType: v.getUint32(o + 20, LE) }),
  encode: (x, v, o = 0) => {
    v.setUint32(o, x.saddr, LE);
    v.setUint32(o + 4, x.daddr, LE);
    v.setUint16(o + 8, x.sport, LE);
    v.setUint16(o + 10, x.dport, LE);
    v.setUint32(o + 12, x.protocol, LE);
    v.setUint32(o + 16, x.len, LE);
    v.setUint32(o + 20, x.pktType, LE);
  },
  view: (v, o = 0) => Frame.decode(v, o),
};

test.serial("socket program on packetSocket({ interface: 'lo' }): each loopback UDP frame's addresses, ports and length through a ring buffer", async (t) => {
  if (!(await requireFeature(t, "root", "socket", "ringbuf", "clang"))) return;
  const obj = loadObjectSync(descriptor("packet", compileBpf("runtime-packet.bpf.c"), { maps: { frames: { name: "frames", type: "ringbuf", value: Frame } } }));
  const sock = packetSocket({ interface: "lo" });
  const server = dgram.createSocket("udp4");
  try {
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    const port = server.address().port;
    const link = obj.programs.on_frame!.attach({ fd: sock.fd });
    await udpToLoopback(port, ["hello", "bpf2ts!"]);
    const frames = obj.maps.frames as RingBuf<Frame>;
    const seen: Frame[] = [];
    const mine = () => seen.filter((f) => f.protocol === 17 && f.dport === port);
    // On lo a packet socket sees each frame twice: sent (PACKET_OUTGOING, 4), then received (PACKET_HOST, 0).
    for (const end = Date.now() + 3000; mine().length < 4 && Date.now() < end; ) {
      seen.push(...frames.consume());
      await new Promise((r) => setTimeout(r, 10));
    }
    const loopback = 0x7f000001;
    // Host order of the bytes as they are on the wire (127.0.0.1 reads back as 0x0100007f little-endian).
    const wire = (a: number) => ((a & 0xff) << 24) | ((a >>> 8 & 0xff) << 16) | ((a >>> 16 & 0xff) << 8) | (a >>> 24);
    const byLength = mine().sort((a, b) => a.len - b.len || b.pktType - a.pktType);
    t.deepEqual(byLength.map((f) => ({ saddr: wire(f.saddr) >>> 0, daddr: wire(f.daddr) >>> 0, len: f.len, pktType: f.pktType })), [
      { saddr: loopback, daddr: loopback, len: 14 + 20 + 8 + 5, pktType: 4 },
      { saddr: loopback, daddr: loopback, len: 14 + 20 + 8 + 5, pktType: 0 },
      { saddr: loopback, daddr: loopback, len: 14 + 20 + 8 + 7, pktType: 4 },
      { saddr: loopback, daddr: loopback, len: 14 + 20 + 8 + 7, pktType: 0 },
    ]);
    t.true(mine().every((f) => f.sport !== 0 && f.sport !== port), "the sender's ephemeral port");
    link.close();
    sock.close();
    sock.close(); // twice: a no-op
  } finally {
    server.close();
    sock.close();
    obj.close();
  }
});

test.serial("cgroup_skb egress: counts exactly the datagrams a process in the cgroup sends", async (t) => {
  if (!(await requireFeature(t, "root", "cgroup_skb", "clang"))) return;
  const root = cgroup2Root();
  if (!existsSync(join(root, "cgroup.procs"))) return void t.fail(`no cgroup v2 hierarchy at ${root}`);
  const cg = join(root, `bpf2ts-test-${process.pid}`);
  mkdirSync(cg, { recursive: true });
  const { obj, v } = load(["on_cgroup_egress"]);
  try {
    const link = obj.programs.on_cgroup_egress!.attach({ cgroup: cg });
    // A shell joins the cgroup, then becomes a Node process that sends 5 datagrams to :47115.
    const send = `const s=require("dgram").createSocket("udp4");let n=0;const go=()=>s.send("x",47115,"127.0.0.1",()=>{if(++n<5)go();else s.close()});go();`;
    const r = spawnSync("sh", ["-c", `echo $$ > ${cg}/cgroup.procs && exec ${process.execPath} -e '${send}'`], { encoding: "utf8" });
    t.is(r.status, 0, r.stderr);
    // Our own datagrams to that port (outside the cgroup) are not counted.
    await udpToLoopback(47115, ["y", "y"]);
    t.is(v.cgroup_packets.get(), 5n);
    link.close();
  } finally {
    obj.close();
    rmdirSync(cg);
  }
});

test.serial("iter/task: reads the iterator's output, the real threads of this process", async (t) => {
  if (!(await requireFeature(t, "root", "iter", "clang"))) return;
  const { obj } = load(["on_task"]);
  try {
    const link = obj.programs.on_task!.attach() as IterLink;
    const text = link.readText();
    const tids = text.trim().split("\n").map((l) => Number(l.split(" ")[0]));
    const real = new Set(readdirSync("/proc/self/task").map(Number));
    t.true(tids.includes(process.pid), `main thread ${process.pid} in:\n${text}`);
    for (const tid of tids) t.true(real.has(tid) || !existsSync(`/proc/self/task/${tid}`), `tid ${tid} is a thread of ours`);
    t.regex(text, new RegExp(`^${process.pid} \\S+`, "m"));
    t.is(link.readText().split("\n")[0]!.split(" ")[0], text.split("\n")[0]!.split(" ")[0], "each read runs the iterator again");
  } finally {
    obj.close();
  }
});

test.serial("kprobe: attaches where the kernel has kprobes, else a clear error", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const { obj, v } = load(["on_kprobe"]);
  try {
    const reason = await missingReason("kprobe");
    if (reason === undefined) {
      const link = obj.programs.on_kprobe!.attach();
      spawnSync("sleep", ["0.01"]);
      link.close();
      t.true((v.kprobe_hits.get() as bigint) >= 1n);
      return;
    }
    t.log(`probe: ${reason}`);
    const e = t.throws<BpfError>(() => obj.programs.on_kprobe!.attach(), { name: "BpfError" });
    t.true(e!.errno > 0);
    t.regex(e!.message, /kprobe/);
    if (!existsSync("/sys/kernel/tracing/kprobe_events")) t.regex(e!.message, /CONFIG_KPROBE_EVENTS/);
  } finally {
    obj.close();
  }
});

test.serial("fentry: attaches where allowed, else a clear error with errno", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "btf", "clang"))) return;
  const reason = await missingReason("fentry");
  const d = descriptor("probe", compileBpf("probe.bpf.c"));
  if (reason === undefined) {
    const obj = loadObjectSync(d, { programs: ["probe_fentry"] });
    obj.programs.probe_fentry!.attach().close();
    obj.close();
    t.pass();
    return;
  }
  t.log(`probe: ${reason}`);
  const e = t.throws<BpfError>(() => {
    const obj = loadObjectSync(d, { programs: ["probe_fentry"] });
    try {
      obj.programs.probe_fentry!.attach();
    } finally {
      obj.close();
    }
  }, { name: "BpfError" });
  t.true(e!.errno > 0);
  t.regex(e!.message, /probe_fentry/);
  t.regex(e!.hint ?? "", /fentry/, "the hint names the cause");
  t.regex(e!.message, /SEC\("fentry\/do_nanosleep"\)/);
});

test.serial("verifier error: BpfError with errno, program name and the log", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "clang"))) return;
  const e = t.throws<BpfError>(() => loadObjectSync(descriptor("bad", compileBpf("runtime-bad.bpf.c"))), { name: "BpfError" });
  t.is(e!.code, "EACCES");
  t.is(e!.errno, 13);
  t.is(e!.program, "bad_deref");
  t.regex(e!.log, /invalid mem access 'map_value_or_null'/);
  t.regex(e!.message, /verifier log \(tail\)/);
  t.regex(e!.message, /hint: /);
});

test.serial("attach() detaches what it made when a later program fails", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "clang"))) return;
  if ((await missingReason("kprobe")) === undefined) {
    t.log("kprobes work here: no failing auto-attach to test rollback with");
    t.pass();
    return;
  }
  const { obj, v } = load(["on_raw_sys_enter", "on_kprobe"]);
  try {
    await t.throwsAsync<BpfError>(obj.attach(), { name: "BpfError", message: /kprobe/ });
    const before = v.raw_tp_count.get();
    process.kill(process.pid, 0);
    statSync("/");
    t.is(v.raw_tp_count.get(), before, "the raw_tp link made before the failure was closed");
  } finally {
    obj.close();
  }
});

test.serial("links pin and unpin on bpffs; closing the object closes its links", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "clang"))) return;
  if (!existsSync("/sys/fs/bpf")) return void t.log("no /sys/fs/bpf");
  const { obj, v } = load(["on_raw_sys_enter"]);
  const path = `/sys/fs/bpf/bpf2ts-test-link-${process.pid}`;
  const link = obj.programs.on_raw_sys_enter!.attach();
  link.pin(path);
  t.true(existsSync(path));
  link.unpin();
  t.false(existsSync(path));
  process.kill(process.pid, 0);
  t.true((v.raw_tp_count.get() as bigint) >= 1n);
  obj.close();
  t.true(link.closed, "the object closed its link");
  t.throws<BpfError>(() => link.fd, { name: "BpfError", message: /closed/ });
  link.close();
});
