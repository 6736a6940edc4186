// The network tracers against the live kernel: tcpconnlat (connect latency from
// sock/inet_sock_set_state) and netrecvlat (receive-path latency). Each test causes the traffic on
// loopback and checks the events' addresses, ports, process and times.

import test from "ava";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer, connect, type AddressInfo, type Server } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { requireFeature } from "./helpers/kernel.js";
import { assertReleased, freePort, kernelIds, linkCount, metricsAsPrinted, processKernelIds, repoRoot, sleep, waitFor } from "./tracers-support.js";
import { loadTcpconnlat, type TcpconnlatEvent } from "../bpf/tcpconnlat/tcpconnlat.js";
import { loadNetrecvlat, type NetrecvlatEvent } from "../bpf/netrecvlat/netrecvlat.js";
import { formatAddress } from "../bpf/lib/net.js";

const cli = (name: string) => join(repoRoot, "dist/bpf", name, "cli.js");

async function listen(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Connects to host:port; resolves with the local port once established (and closes), or the error code. */
function connectOnce(host: string, port: number): Promise<{ localPort?: number; error?: string }> {
  return new Promise((resolve) => {
    const c = connect(port, host);
    c.on("connect", () => {
      const localPort = c.localPort!;
      c.destroy();
      resolve({ localPort });
    });
    c.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(host: string): Promise<number> {
  const { server, port } = await listen(host);
  await new Promise((r) => server.close(r));
  return port;
}

test.serial("tcpconnlat reports IPv4 and IPv6 connects with addresses, ports, pid, comm and latency; refused connects are not reported", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const objs = await loadTcpconnlat({ constants: { targTgid: process.pid } });
  const ids = kernelIds(objs);
  const events: TcpconnlatEvent[] = [];
  const v4 = await listen("127.0.0.1");
  const v6 = await listen("::1");
  try {
    await objs.attach();
    t.is(linkCount(ids), 1);
    objs.maps.events.onEvent((e) => events.push(e));
    const refused = await connectOnce("127.0.0.1", await closedPort("127.0.0.1"));
    t.is(refused.error, "ECONNREFUSED");
    const before = process.hrtime.bigint();
    const a = await connectOnce("127.0.0.1", v4.port);
    const b = await connectOnce("::1", v6.port);
    const wall = process.hrtime.bigint() - before;
    t.true(await waitFor(() => events.length >= 2), `both connects arrive (${events.length})`);
    await sleep(100);
    t.is(events.length, 2, "one event per established connect, none for the refused one");
    for (const [e, family, host, port, local] of [[events.find((x) => x.family === 2), 2, "127.0.0.1", v4.port, a.localPort], [events.find((x) => x.family === 10), 10, "::1", v6.port, b.localPort]] as const) {
      t.truthy(e, `the ${family === 2 ? "IPv4" : "IPv6"} connect arrives`);
      t.is(e!.family, family);
      t.is(formatAddress(e!.family, e!.saddr), host);
      t.is(formatAddress(e!.family, e!.daddr), host);
      t.is(e!.dport, port);
      t.is(e!.lport, local!, "the local port, bound after SYN_SENT, is read at ESTABLISHED");
      t.is(e!.tgid, process.pid, "the connecting process, recorded at SYN_SENT");
      t.is(e!.comm, readFileSync("/proc/self/comm", "utf8").trim(), "connect() runs on the main thread");
      t.true(e!.deltaNs > 0n && e!.deltaNs < wall, `latency ${e!.deltaNs} ns is positive and within the measured wall time ${wall} ns`);
    }
    t.is([...objs.maps.start.keys()].length, 0, "no connect left in flight: the refused one was forgotten at CLOSE");
    t.is(objs.variables.lostEvents.get(), 0n);
  } finally {
    objs.close();
    v4.server.close();
    v6.server.close();
  }
  await assertReleased(t, ids);
});

test.serial("tcpconnlat's minimum latency and family filters work in the kernel", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  // A loopback connect takes far less than 10 s: the minimum filters it out; IPv6 only drops IPv4.
  const slow = await loadTcpconnlat({ constants: { targTgid: process.pid, targMinUs: 10_000_000n } });
  const v6only = await loadTcpconnlat({ constants: { targTgid: process.pid, targFamily: 10 } });
  const v4 = await listen("127.0.0.1");
  const v6 = await listen("::1");
  try {
    await slow.attach();
    await v6only.attach();
    const got6: TcpconnlatEvent[] = [];
    v6only.maps.events.onEvent((e) => got6.push(e));
    await connectOnce("127.0.0.1", v4.port);
    await connectOnce("::1", v6.port);
    t.true(await waitFor(() => got6.length >= 1));
    await sleep(100);
    t.deepEqual(got6.map((e) => e.dport), [v6.port], "only the IPv6 connect");
    t.is(slow.maps.events.consume().length, 0, "no connect is slower than 10 s");
  } finally {
    slow.close();
    v6only.close();
    v4.server.close();
    v6.server.close();
  }
});

test.serial("tcpconnlat's CLI prints connects as JSON lines, counts them in its metrics and stops on SIGINT with its links detached", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "ringbuf", "btf"))) return;
  const v4 = await listen("127.0.0.1");
  const metricsPort = await freePort();
  const proc = spawn(process.execPath, [cli("tcpconnlat"), "--json", "--pid", String(process.pid), "-4", "--metrics", `127.0.0.1:${metricsPort}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  try {
    // The CLI needs a moment to load: connect until it reports one.
    let local: number | undefined;
    for (let i = 0; i < 100 && !out.includes(`"dport":${v4.port}`); i++) {
      local = (await connectOnce("127.0.0.1", v4.port)).localPort;
      await sleep(100);
    }
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines.at(-1)!;
    t.like(last, { pid: process.pid, family: "ipv4", saddr: "127.0.0.1", daddr: "127.0.0.1", dport: v4.port });
    t.true(lines.some((l) => l.lport === local), "the local port of a connect");
    t.true(typeof last.ms === "number" && last.ms > 0);
    // The metrics count the same connects (IPv4: family 2), each in the latency histogram.
    const printed = () => out.trim().split("\n").length;
    const m = await metricsAsPrinted(metricsPort, () => ({ 'tcpconnlat_connects_total{family="2"}': printed(), 'tcpconnlat_latency_seconds_count{family="2"}': printed() }));
    t.deepEqual(m.got, m.want, "connects counted as printed");
    const ids = processKernelIds(proc.pid!);
    t.is(linkCount(ids), 1);
    proc.kill("SIGINT");
    t.is(await new Promise((r) => proc.on("exit", (c) => r(c))), 0, "a clean exit on Ctrl-C");
    await assertReleased(t, ids);
  } finally {
    proc.kill();
    v4.server.close();
  }
});

for (const [family, host, udp] of [[2, "127.0.0.1", "udp4"], [10, "::1", "udp6"]] as const) {
  test.serial(`netrecvlat times UDP datagrams from arrival to their socket (${udp}): addresses, ports, sizes`, async (t) => {
    if (!(await requireFeature(t, "root", "tp_btf", "ringbuf", "btf"))) return;
    const rx = createSocket(udp);
    await new Promise<void>((r) => rx.bind(0, host, r));
    const port = (rx.address() as AddressInfo).port;
    const objs = await loadNetrecvlat({ constants: { targProtocol: 17, targPort: port } });
    const ids = kernelIds(objs);
    const events: NetrecvlatEvent[] = [];
    const tx = createSocket(udp);
    try {
      await objs.attach();
      t.is(linkCount(ids), 4);
      objs.maps.events.onEvent((e) => events.push(e));
      let got = 0;
      rx.on("message", () => got++);
      const sizes = [1, 100, 1000, 1400];
      for (const n of sizes) await new Promise<void>((r) => tx.send(Buffer.alloc(n, 0x61), port, host, () => r()));
      t.true(await waitFor(() => got === sizes.length && events.length >= sizes.length));
      await sleep(50);
      t.deepEqual(events.map((e) => e.len), sizes, "one event per datagram, in order, with its payload size");
      const sport = tx.address().port;
      for (const e of events) {
        t.like(e, { protocol: 17, family, sport, dport: port });
        t.is(formatAddress(e.family, e.saddr), host);
        t.is(formatAddress(e.family, e.daddr), host);
        t.true(e.deltaNs > 0n && e.deltaNs < 1_000_000_000n, `arrival to socket ${e.deltaNs} ns`);
      }
    } finally {
      objs.close();
      rx.close();
      tx.close();
    }
    await assertReleased(t, ids);
  });
}

test.serial("netrecvlat times TCP segments to the receiving socket; the threshold filters in the kernel", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "ringbuf", "btf"))) return;
  const received: Buffer[] = [];
  const server = createServer((c) => c.on("data", (d: Buffer) => received.push(d)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const objs = await loadNetrecvlat({ constants: { targProtocol: 6, targPort: port } });
  const slow = await loadNetrecvlat({ constants: { targPort: port, minLatUs: 10_000_000n } });
  const events: NetrecvlatEvent[] = [];
  try {
    await objs.attach();
    await slow.attach();
    objs.maps.events.onEvent((e) => events.push(e));
    const payload = "x".repeat(777);
    const c = connect(port, "127.0.0.1");
    await new Promise((r) => c.on("connect", r));
    c.write(payload);
    t.true(await waitFor(() => Buffer.concat(received).length === payload.length && events.length >= 1));
    const e = events[0]!;
    t.like(e, { protocol: 6, family: 2, sport: c.localPort, dport: port, len: payload.length });
    t.true(e.deltaNs > 0n && e.deltaNs < 1_000_000_000n);
    t.is(slow.maps.events.consume().length, 0, "nothing waits 10 s on loopback");
    c.destroy();
  } finally {
    objs.close();
    slow.close();
    server.close();
  }
});

test.serial("netrecvlat's CLI prints datagrams to a port as JSON lines, counts them in its metrics and stops on SIGINT with its links detached", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "ringbuf", "btf"))) return;
  const rx = createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", r));
  const port = (rx.address() as AddressInfo).port;
  const tx = createSocket("udp4");
  const metricsPort = await freePort();
  const proc = spawn(process.execPath, [cli("netrecvlat"), "--json", "--protocol", "udp", "--port", String(port), "--metrics", `127.0.0.1:${metricsPort}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  try {
    // The CLI needs a moment to load: send until it reports one, then a datagram of a known size.
    for (let i = 0; i < 100 && !out.includes(`"dport":${port}`); i++) {
      await new Promise<void>((r) => tx.send(Buffer.alloc(1, 0x61), port, "127.0.0.1", () => r()));
      await sleep(100);
    }
    await new Promise<void>((r) => tx.send(Buffer.alloc(333, 0x62), port, "127.0.0.1", () => r()));
    t.true(await waitFor(() => out.includes(`"len":333`), 5000), out);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const e = lines.find((l) => l.len === 333)!;
    t.like(e, { protocol: "udp", family: "ipv4", saddr: "127.0.0.1", daddr: "127.0.0.1", sport: tx.address().port, dport: port });
    t.true(typeof e.us === "number" && e.us > 0 && e.us < 1_000_000, `arrival to socket ${String(e.us)} µs`);
    // The metrics count the same datagrams (UDP: protocol 17).
    const printed = () => out.trim().split("\n").length;
    const m = await metricsAsPrinted(metricsPort, () => ({ 'netrecvlat_packets_total{protocol="17"}': printed(), 'netrecvlat_latency_seconds_count{protocol="17"}': printed() }));
    t.deepEqual(m.got, m.want, "datagrams counted as printed");
    const ids = processKernelIds(proc.pid!);
    t.true(linkCount(ids) > 0, "its programs are attached");
    proc.kill("SIGINT");
    t.is(await new Promise((r) => proc.on("exit", (c) => r(c))), 0, "a clean exit on Ctrl-C");
    await assertReleased(t, ids);
  } finally {
    proc.kill();
    rx.close();
    tx.close();
  }
});
