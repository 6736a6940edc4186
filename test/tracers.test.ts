// The tracer collection against the live kernel: each test loads a tracer through its generated
// loader, causes the behaviour it traces, asserts the specific events or counts with their fields,
// and checks that close() leaves no program, map or link behind.

import test from "ava";
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createSocket } from "node:dgram";
import { accessSync, chmodSync, closeSync, copyFileSync, readFileSync, mkdirSync, openSync, rmdirSync, writeFileSync, existsSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { buildC, requireFeature } from "./helpers/kernel.js";
import { assertReleased, kernelIds, linkCount, sleep, waitFor } from "./tracers-support.js";
import { loadExecsnoop, type ExecsnoopEvent } from "../bpf/execsnoop/execsnoop.js";
import { loadOpensnoop, type OpensnoopEvent } from "../bpf/opensnoop/opensnoop.js";
import { loadSyscount } from "../bpf/syscount/syscount.js";
import { loadRunqlat } from "../bpf/runqlat/runqlat.js";
import { loadTcpstates, type TcpstatesEvent } from "../bpf/tcpstates/tcpstates.js";
import { loadSoftirqs } from "../bpf/softirqs/softirqs.js";
import { loadProfile } from "../bpf/profile/profile.js";
import { loadDropwatch, type DropwatchEvent } from "../bpf/dropwatch/dropwatch.js";
import { loadOomkill, type OomkillEvent } from "../bpf/oomkill/oomkill.js";
import { syscallName } from "../bpf/lib/syscalls.js";
import { formatAddress, tcpState } from "../bpf/lib/net.js";
import { KernelSymbols, UserSymbols } from "../bpf/lib/symbolize.js";
import { symbolicValues } from "../bpf/lib/tracefs.js";
import { tempDir } from "./helpers/temp-dir.js";

const execFileP = promisify(execFile);

// The tracers see the whole system and the fd checks are per process: run one at a time.
test.serial("execsnoop reports an exec with pid, ppid, argv, comm and return code; failed execs too", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const objs = await loadExecsnoop({ constants: { targPpid: process.pid } });
  const ids = kernelIds(objs);
  const events: ExecsnoopEvent[] = [];
  try {
    await objs.attach();
    t.is(linkCount(ids), 2, "both tracepoints attached");
    objs.maps.events.onEvent((e) => events.push(e));
    const token = `bpf2ts-${randomUUID()}`;
    const child = spawn("/bin/echo", [token, "second arg"], { stdio: "ignore" });
    await new Promise((r) => child.on("exit", r));
    const missing = `/nonexistent-${token}`;
    const bad = spawn(missing, [], { stdio: "ignore" });
    await new Promise((r) => bad.on("error", r));
    t.true(await waitFor(() => events.some((e) => e.args[0] === missing)), "the failed exec arrives");
    const ok = events.find((e) => e.args[1] === token);
    t.truthy(ok, "the exec of /bin/echo arrives");
    t.is(ok!.pid, child.pid!);
    t.is(ok!.ppid, process.pid, "ppid read through task->real_parent->tgid");
    t.is(ok!.comm, "echo");
    t.is(ok!.retval, 0);
    t.is(ok!.argsCount, 3);
    t.deepEqual(ok!.args.slice(0, 3), ["/bin/echo", token, "second arg"]);
    t.is(ok!.argsTruncated, 0);
    const failed = events.find((e) => e.args[0] === missing)!;
    t.is(failed.retval, -2, "ENOENT");
    t.true(events.every((e) => e.ppid === process.pid), "the targPpid constant filters in the kernel");
    t.is(objs.variables.lostEvents.get(), 0n);
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

test.serial("execsnoop marks argument vectors longer than it captures", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const objs = await loadExecsnoop({ constants: { targPpid: process.pid, targComm: "true" } });
  try {
    await objs.attach();
    const args = Array.from({ length: 20 }, (_, i) => `a${i}`);
    await execFileP("/bin/true", args);
    const events = await objs.maps.events.read({ batch: true, signal: AbortSignal.timeout(3000) });
    const e = events.find((x) => x.comm === "true")!;
    t.is(e.argsCount, 16);
    t.is(e.argsTruncated, 1);
    t.deepEqual(e.args.slice(0, 16), ["/bin/true", ...args.slice(0, 15)]);
  } finally {
    objs.close();
  }
});

test.serial("execsnoop counts the events a full ring buffer drops: read + lost = execs", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  // A uniquely named copy of true(1), so the comm filter sees only our execs.
  const name = `b2t${process.pid}`.slice(0, 15);
  const dir = tempDir(t, "bpf2ts-lost-");
  const bin = join(dir, name);
  copyFileSync("/bin/true", bin);
  chmodSync(bin, 0o755);
  const objs = await loadExecsnoop({ constants: { targComm: name } });
  try {
    await objs.attach();
    // Nobody reads while 400 execs run: the 256 KiB ring holds ~164 events of 1584 bytes.
    const execs = 400;
    await execFileP("sh", ["-c", `i=0; while [ $i -lt ${execs} ]; do ${bin}; i=$((i+1)); done`]);
    const read = objs.maps.events.consume();
    const lost = objs.variables.lostEvents.get();
    t.log(`${read.length} read, ${lost} lost`);
    t.true(lost > 0n, "the ring overflowed");
    t.true(read.every((e) => e.comm === name));
    t.is(BigInt(read.length) + lost, BigInt(execs), "every exec is either delivered or counted as lost");
  } finally {
    objs.close();
  }
});

test.serial("opensnoop pairs openat enter/exit: path, flags, fd and errno", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const objs = await loadOpensnoop({ constants: { targPid: process.pid } });
  const ids = kernelIds(objs);
  const events: OpensnoopEvent[] = [];
  const dir = tempDir(t, "bpf2ts-opensnoop-");
  try {
    await objs.attach();
    objs.maps.events.onEvent((e) => events.push(e));
    const path = join(dir, `file-${randomUUID()}`);
    const fd = openSync(path, "w");
    closeSync(fd);
    const missing = join(dir, `missing-${randomUUID()}`);
    t.throws(() => openSync(missing, "r"));
    t.true(await waitFor(() => events.some((e) => e.fname === missing)));
    const created = events.find((e) => e.fname === path)!;
    t.truthy(created);
    t.is(created.fd, fd);
    t.is(created.err, 0);
    t.is(created.pid, process.pid);
    t.is(created.flags & 0o3, 1, "O_WRONLY");
    t.truthy(created.flags & 0o100, "O_CREAT");
    t.truthy(created.flags & 0o1000, "O_TRUNC");
    const failed = events.find((e) => e.fname === missing)!;
    t.is(failed.fd, -1);
    t.is(failed.err, 2, "ENOENT");
    t.true(events.every((e) => e.pid === process.pid), "targPid filters in the kernel");
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

test.serial("syscount counts a known number of failing syscalls for this process, per CPU", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf"))) return;
  const objs = await loadSyscount({ constants: { targPid: process.pid } });
  const ids = kernelIds(objs);
  try {
    await objs.attach();
    const missing = join(tmpdir(), `bpf2ts-none-${randomUUID()}`);
    const calls = 500;
    for (let i = 0; i < calls; i++) t.throws(() => accessSync(missing), undefined, undefined);
    await sleep(50);
    const rows = [...objs.maps.syscallStats.entries()].map(([nr, perCpu]) => ({
      name: syscallName(nr),
      count: perCpu.reduce((s, x) => s + x.count, 0n),
      errors: perCpu.reduce((s, x) => s + x.errors, 0n),
    }));
    const access = rows.find((r) => ["access", "faccessat", "faccessat2"].includes(r.name));
    t.truthy(access, `an access syscall was counted (saw ${rows.map((r) => r.name).join(", ")})`);
    t.true(access!.count >= BigInt(calls), `count ${access!.count} >= ${calls}`);
    t.true(access!.errors >= BigInt(calls), `errors ${access!.errors} >= ${calls}`);
    const perPid = [...objs.maps.pidCounts.entries()];
    t.deepEqual(perPid.map(([pid]) => pid), [process.pid], "only this process is counted");
    t.true(perPid[0]![1].reduce((s, x) => s + x, 0n) >= BigInt(calls));
    t.is(perPid[0]![1].length, objs.maps.pidCounts.get(process.pid)!.length, "one value per possible CPU");
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

test.serial("runqlat builds a per-process log2 histogram of a process that sleeps and wakes", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "btf"))) return;
  // The child waits for a line on stdin, so its pid is known before the filter is set.
  const child = spawn(process.execPath, ["-e", "process.stdin.once('data', () => { let n = 0; const tick = () => (++n < 100 ? setTimeout(tick, 2) : process.exit(0)); tick(); })"], { stdio: ["pipe", "ignore", "ignore"] });
  const exited = new Promise((r) => child.on("exit", r));
  const objs = await loadRunqlat({ constants: { targTgid: child.pid!, targPerProcess: true } });
  const ids = kernelIds(objs);
  try {
    await objs.attach();
    t.is(linkCount(ids), 3);
    child.stdin!.write("go\n");
    await exited;
    const entries = [...objs.maps.hists.entries()];
    t.deepEqual(entries.map(([k]) => k), [child.pid], "one histogram, keyed by the child's tgid");
    const hist = entries[0]![1];
    const total = hist.slots.reduce((s, x) => s + x, 0);
    t.true(total >= 100, `at least one wakeup per timer tick (${total})`);
    t.is(hist.slots.length, 27);
    t.regex(hist.comm, /^node/);
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

async function tcpRoundTrip(host: string): Promise<{ serverPort: number; clientPort: number }> {
  const server = createServer((c) => c.end("bye"));
  await new Promise<void>((r) => server.listen(0, host, r));
  const serverPort = (server.address() as AddressInfo).port;
  const client = connect(serverPort, host);
  const clientPort = await new Promise<number>((r) => client.on("connect", () => r(client.localPort!)));
  client.resume();
  await new Promise((r) => client.on("close", r));
  await new Promise((r) => server.close(r));
  return { serverPort, clientPort };
}

for (const [family, host] of [[2, "127.0.0.1"], [10, "::1"]] as const) {
  test.serial(`tcpstates reports the state changes of a loopback connection (${family === 2 ? "IPv4" : "IPv6"})`, async (t) => {
    if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
    const objs = await loadTcpstates({ constants: { targFamily: family } });
    const ids = kernelIds(objs);
    const events: TcpstatesEvent[] = [];
    try {
      await objs.attach();
      objs.maps.events.onEvent((e) => events.push(e));
      const { serverPort, clientPort } = await tcpRoundTrip(host);
      const mine = () => events.filter((e) => (e.sport === clientPort && e.dport === serverPort) || (e.sport === serverPort && e.dport === clientPort));
      await waitFor(() => mine().filter((e) => tcpState(e.newstate) === "CLOSE").length >= 2);
      const client = mine().filter((e) => e.sport === clientPort);
      const server = mine().filter((e) => e.sport === serverPort);
      const trans = (es: TcpstatesEvent[]) => es.map((e) => `${tcpState(e.oldstate)}>${tcpState(e.newstate)}`);
      t.true(trans(client).includes("SYN_SENT>ESTABLISHED"), trans(client).join(" "));
      t.true(trans(server).includes("SYN_RECV>ESTABLISHED"), trans(server).join(" "));
      t.true(trans(server).some((s) => s.endsWith(">FIN_WAIT1")), "the server closes first");
      t.true(trans(client).some((s) => s.endsWith(">CLOSE")) && trans(server).some((s) => s.endsWith(">CLOSE")));
      for (const e of [...client, ...server]) {
        t.is(e.family, family);
        t.is(formatAddress(e.family, e.saddr), host);
        t.is(formatAddress(e.family, e.daddr), host);
      }
      const established = client.find((e) => tcpState(e.newstate) === "ESTABLISHED")!;
      t.true(established.deltaNs > 0n && established.deltaNs < 5_000_000_000n, "time spent in SYN_SENT");
      t.true(events.every((e) => e.family === family), "targFamily filters in the kernel");
    } finally {
      objs.close();
    }
    await assertReleased(t, ids);
  });
}

test.serial("softirqs accounts NET_RX and TIMER time per vector on every CPU, histograms consistent with counts", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "btf"))) return;
  const objs = await loadSoftirqs();
  const ids = kernelIds(objs);
  try {
    await objs.attach();
    // Loopback traffic is received in NET_RX softirqs.
    const rx = createSocket("udp4");
    await new Promise<void>((r) => rx.bind(0, "127.0.0.1", r));
    const tx = createSocket("udp4");
    let got = 0;
    rx.on("message", () => got++);
    for (let i = 0; i < 200; i++) tx.send("x", (rx.address() as AddressInfo).port, "127.0.0.1");
    await waitFor(() => got >= 200);
    await sleep(100);
    tx.close();
    rx.close();
    const stat = (vec: number) => objs.maps.stats.get(vec)!;
    const netRx = stat(3);
    const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    t.true(sum(netRx.map((s) => s.count)) > 0n, "NET_RX ran");
    t.true(sum(stat(1).map((s) => s.count)) > 0n, "TIMER ran");
    for (let vec = 0; vec < 10; vec++) {
      for (const s of stat(vec)) {
        t.is(BigInt(s.slots.reduce((a, b) => a + b, 0)), s.count, `vector ${vec}: histogram total equals the count`);
        t.true(s.maxNs <= s.totalNs);
      }
    }
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

const burnC = `
#include <stdio.h>
#include <time.h>
/* A named function the profile must find in the sampled user stacks. */
__attribute__((noinline)) unsigned long burn_cpu_here(unsigned long n) {
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < n; i++) x += i * i;
  return x;
}
int main(void) {
  time_t end = time(NULL) + 20;
  unsigned long s = 0;
  while (time(NULL) < end) s += burn_cpu_here(1000000);
  printf("%lu\\n", s);
  return 0;
}
`;

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15, in clock ticks of 100 Hz). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test.serial("profile samples a busy process's user stacks and symbolizes them from its ELF symbols", async (t) => {
  if (!(await requireFeature(t, "root", "perf_event", "btf", "gcc"))) return;
  const bin = buildC("burn", burnC, ["-O1", "-fno-omit-frame-pointer"]);
  const child = spawn(bin, [], { stdio: "ignore" });
  const exited = new Promise((r) => child.on("exit", r));
  const objs = await loadProfile({ constants: { targPid: child.pid!, userStacksOnly: true } });
  const ids = kernelIds(objs);
  try {
    const cpuStart = cpuSeconds(child.pid!);
    objs.programs.doSample.attach({ event: "cpu-clock", frequency: 199 });
    t.true(linkCount(ids) >= 1, "one perf event link per CPU");
    // Samples only come while the process is on a CPU: wait for 0.4 s of its CPU time (a loaded
    // machine gives it less than wall time), at most 5 s.
    await waitFor(() => cpuSeconds(child.pid!) - cpuStart >= 0.4, 5000);
    const usyms = new UserSymbols();
    let samples = 0n;
    let inBurn = 0n;
    for (const [key, count] of objs.maps.counts.entries()) {
      t.is(key.pid, child.pid!, "targPid filters in the kernel");
      t.is(key.comm, basename(bin).slice(0, 15));
      samples += count;
      if (key.userStackId < 0) continue;
      const frames = (objs.maps.stacks.get(key.userStackId) ?? []).map((ip) => usyms.lookup(key.pid, ip));
      if (frames.includes("burn_cpu_here")) inBurn += count;
    }
    const cpu = cpuSeconds(child.pid!) - cpuStart;
    const expected = cpu * 199;
    t.log(`${samples} samples over ${cpu.toFixed(2)} s of CPU time at 199 Hz (expected ~${Math.round(expected)})`);
    t.true(Number(samples) >= Math.max(10, expected * 0.5) && Number(samples) <= expected * 1.5 + 20, "sample count matches the CPU time at 199 Hz");
    t.true(inBurn * 2n >= samples, `most samples are in burn_cpu_here (${inBurn}/${samples})`);
    t.is(objs.variables.lostSamples.get(), 0n);
  } finally {
    objs.close();
    child.kill();
    await exited;
  }
  await assertReleased(t, ids);
});

test.serial("dropwatch reports a UDP packet to a closed port as NO_SOCKET with its kernel stack", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const reasons = symbolicValues("skb", "kfree_skb", "reason");
  const noSocket = [...reasons].find(([, n]) => n === "NO_SOCKET")?.[0];
  if (noSocket === undefined) t.log("tracefs not mounted here: drop reasons checked by number only");
  const objs = await loadDropwatch({ constants: { targProtocol: 0x0800, ...(noSocket !== undefined && { targReason: noSocket }) } });
  const ids = kernelIds(objs);
  const events: DropwatchEvent[] = [];
  try {
    await objs.attach();
    objs.maps.events.onEvent((e) => events.push(e));
    // A port nobody listens on: bind then close to pick one.
    const probe = createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    const tx = createSocket("udp4");
    await new Promise<void>((r) => tx.send("dropped", port, "127.0.0.1", () => r()));
    tx.close();
    // Loopback delivery runs the receive softirq in the sender's context, or in ksoftirqd when deferred.
    const ours = (x: DropwatchEvent) => x.pid === process.pid || x.comm.startsWith("ksoftirqd");
    t.true(await waitFor(() => events.some(ours)), "the drop arrives");
    const e = events.find(ours)!;
    t.is(e.protocol, 0x0800);
    if (noSocket !== undefined) t.is(e.reason, noSocket);
    const ksyms = new KernelSymbols();
    t.regex(ksyms.lookup(e.location) ?? "", /udp/, "dropped in the UDP receive path");
    t.true(e.stackId >= 0, "kernel stack recorded");
    const stack = (objs.maps.stacks.get(e.stackId) ?? []).map((ip) => ksyms.lookup(ip));
    t.true(stack.some((f) => f?.includes("udp")), stack.join(" < "));
    if (e.pid === process.pid) t.true(stack.some((f) => f?.includes("sendmsg")), "the stack reaches the sender's syscall");
  } finally {
    objs.close();
  }
  await assertReleased(t, ids);
});

test.serial("oomkill reports the victim of an OOM kill in a memory-limited cgroup", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const cgRoot = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"].find((d) => existsSync(join(d, "cgroup.procs")) && (existsSync(join(d, "memory.limit_in_bytes")) || existsSync(join(d, "cgroup.subtree_control"))));
  const v1 = cgRoot !== undefined && existsSync(join(cgRoot, "memory.limit_in_bytes"));
  const cg = cgRoot && join(cgRoot, `bpf2ts-oom-${process.pid}`);
  try {
    if (!cg) throw new Error("no memory cgroup hierarchy mounted");
    mkdirSync(cg, { recursive: true });
    writeFileSync(join(cg, v1 ? "memory.limit_in_bytes" : "memory.max"), String(48 << 20));
  } catch (e) {
    const reason = `cannot trigger an OOM kill here: ${(e as Error).message}`;
    t.log(reason);
    if (process.env.BPF2TS_REQUIRE_KERNEL === "1") t.fail(reason);
    else t.pass();
    return;
  }
  const objs = await loadOomkill();
  const ids = kernelIds(objs);
  const events: OomkillEvent[] = [];
  try {
    await objs.attach();
    objs.maps.events.onEvent((e) => events.push(e));
    // The shell moves itself into the cgroup, then becomes a node process that allocates without end.
    const hog = spawn("sh", ["-c", `echo $$ > ${join(cg, "cgroup.procs")} && exec ${process.execPath} -e 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))'`], { stdio: "ignore" });
    const signal = await new Promise<NodeJS.Signals | null>((r) => hog.on("exit", (_c, s) => r(s)));
    t.is(signal, "SIGKILL", "the OOM killer killed the hog");
    t.true(await waitFor(() => events.some((e) => e.victimPid === hog.pid)));
    const e = events.find((x) => x.victimPid === hog.pid)!;
    t.is(e.victimComm, "node");
    t.true(e.anonRssKb > 0n && e.anonRssKb <= 48n * 1024n, `anon rss ${e.anonRssKb} kB within the 48 MiB limit`);
    t.true(e.totalVmKb > e.anonRssKb);
    t.is(e.triggerPid, hog.pid!, "the hog itself hit the limit");
  } finally {
    objs.close();
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(cg);
        break;
      } catch {
        await sleep(50);
      }
    }
  }
  await assertReleased(t, ids);
});
