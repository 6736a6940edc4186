// sslsniff against the live kernel: a local `openssl s_server` (Debian package openssl) and `curl -k`
// (package curl) talk HTTP/1.1 over TLS through libssl.so.3; the plaintext each side's SSL_write
// captured must equal what the other side's SSL_read captured and what was really sent, both ways.
// Python's ssl module (SSL_write_ex/SSL_read_ex) covers the _ex functions. HttpPairer is checked on
// its own too.

import test, { type ExecutionContext } from "ava";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { requireFeature } from "./helpers/kernel.js";
import { assertReleased, freePort, kernelIds, linkCount, metricsAsPrinted, processKernelIds, repoRoot, tlsServer, waitFor } from "./tracers-support.js";
import { loadSslsniff, type SslsniffEvent } from "../bpf/sslsniff/sslsniff.js";
import { attachProbes, findLibssl } from "../bpf/sslsniff/libssl.js";
import { HttpPairer, type TlsMessage } from "../bpf/sslsniff/http.js";

function have(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Passes the test with the reason (fails it under BPF2TS_REQUIRE_KERNEL=1). */
function cannot(t: ExecutionContext, reason: string): void {
  t.log(`cannot run: ${reason}`);
  if (process.env.BPF2TS_REQUIRE_KERNEL === "1") t.fail(reason);
  else t.pass();
}


const bytes = (e: SslsniffEvent): Buffer => Buffer.from(e.data.buffer, e.data.byteOffset, e.data.length);
const joined = (es: SslsniffEvent[]): string => Buffer.concat(es.map(bytes)).toString("latin1");

test.serial("sslsniff captures curl's HTTPS request and s_server's response in plaintext, both directions, and pairs them", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "btf"))) return;
  if (!have("openssl", ["version"]) || !have("curl", ["--version"])) return cannot(t, "needs openssl and curl (Debian packages openssl, curl)");
  const lib = findLibssl();
  const server = await tlsServer(t);
  const objs = await loadSslsniff();
  const small = await loadSslsniff({ constants: { targMaxData: 16 } });
  const ids = kernelIds(objs);
  const events: SslsniffEvent[] = [];
  const cut: SslsniffEvent[] = [];
  try {
    const probed = attachProbes(objs, lib);
    attachProbes(small, lib);
    t.deepEqual(probed.sort(), ["SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"]);
    t.is(linkCount(ids), 8, "entry and return of four functions");
    objs.maps.events.onEvent((e) => events.push(e));
    small.maps.events.onEvent((e) => cut.push(e));

    const token = randomUUID();
    const curl = spawn("curl", ["-sk", "--http1.1", "-H", `X-Token: ${token}`, `https://127.0.0.1:${server.port}/items/${token}?q=1`], { stdio: ["ignore", "pipe", "ignore"] });
    let body = "";
    curl.stdout!.on("data", (d: Buffer) => (body += d.toString("latin1")));
    const curlExit = new Promise((r) => curl.on("exit", r));
    t.true(await waitFor(() => server.received().includes("\r\n\r\n"), 10000), "s_server received the request");
    const request = server.received().toString("latin1");
    const content = `token ${token}\n`;
    const response = `HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: ${content.length}\r\n\r\n${content}`;
    server.proc.stdin!.write(response);
    await curlExit;
    t.is(body, content, "curl got the response");
    const of = (pid: number, write: number) => events.filter((e) => e.pid === pid && e.isWrite === write);
    t.true(await waitFor(() => joined(of(curl.pid!, 0)) === response), "curl's SSL_read plaintext is the response");
    // s_server's SSL_write return probe fires when its process runs again, which on a busy
    // machine can be after curl has read the response and exited.
    await waitFor(() => joined(of(server.proc.pid!, 1)) === response);

    t.regex(request, new RegExp(`^GET /items/${token}\\?q=1 HTTP/1.1\r\n`));
    t.true(request.includes(`X-Token: ${token}\r\n`));
    t.is(joined(of(curl.pid!, 1)), request, "curl's SSL_write plaintext is the request s_server received");
    t.is(joined(of(server.proc.pid!, 0)), request, "s_server's SSL_read plaintext is the request");
    t.is(joined(of(server.proc.pid!, 1)), response, "s_server's SSL_write plaintext is the response");
    for (const e of events.filter((x) => x.pid === curl.pid || x.pid === server.proc.pid)) {
      t.is(e.comm, e.pid === curl.pid ? "curl" : "openssl");
      t.is(e.dataLen, e.len, "short messages are captured whole");
      t.is(e.data.length, e.len, "the record is cut to the data");
      t.true(e.deltaNs > 0n && e.deltaNs < 10_000_000_000n, "call latency");
      t.is(e.isEx, 0, "curl and s_server call SSL_read/SSL_write");
      t.is(e.uid, process.getuid!());
    }
    t.is(new Set(of(curl.pid!, 1).concat(of(curl.pid!, 0)).map((e) => e.ssl)).size, 1, "one SSL * for curl's connection");

    // targ_max_data cuts the copy, not the count.
    const cutWrite = cut.find((e) => e.pid === curl.pid && e.isWrite === 1)!;
    t.is(cutWrite.len, request.length);
    t.is(cutWrite.dataLen, 16);
    t.is(bytes(cutWrite).toString("latin1"), request.slice(0, 16));

    // HTTP pairing over the same records.
    const pairer = new HttpPairer();
    const exchanges = events.map((e) => pairer.feed({ ...e, isWrite: e.isWrite === 1 })).filter((x) => x !== undefined);
    const client = exchanges.find((x) => x.pid === curl.pid)!;
    const srv = exchanges.find((x) => x.pid === server.proc.pid)!;
    t.like(client, { role: "client", comm: "curl", method: "GET", target: `/items/${token}?q=1`, status: 201, reason: "Created", version: "HTTP/1.1" });
    t.like(srv, { role: "server", comm: "openssl", method: "GET", target: `/items/${token}?q=1`, status: 201 });
    // Both wait for the test to write the response after the request arrived: the latencies cover that.
    for (const x of [client, srv]) t.true(x.latencyNs > 0n && x.latencyNs < 30_000_000_000n, `${x.role} latency ${x.latencyNs} ns`);
    t.is(objs.variables.lostEvents.get(), 0n);
  } finally {
    objs.close();
    small.close();
  }
  await assertReleased(t, ids);
});

test.serial("sslsniff captures SSL_write_ex/SSL_read_ex (Python's ssl module) against s_server", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "btf"))) return;
  if (!have("openssl", ["version"])) return cannot(t, "needs openssl (Debian package openssl)");
  const lib = findLibssl();
  let pyssl = "";
  try {
    const mod = execFileSync("python3", ["-c", "import _ssl; print(_ssl.__file__)"], { encoding: "utf8" }).trim();
    pyssl = execFileSync("ldd", [mod], { encoding: "utf8" });
  } catch (e) {
    return cannot(t, `no python3 with an ssl module: ${(e as Error).message.split("\n")[0]}`);
  }
  const linked = /libssl\.so\.3 => (\S+)/.exec(pyssl)?.[1];
  if (!linked || realpathSync(linked) !== lib) return cannot(t, `python3's _ssl does not use ${lib} (${linked ?? "statically linked"})`);
  const server = await tlsServer(t);
  const objs = await loadSslsniff();
  const events: SslsniffEvent[] = [];
  try {
    attachProbes(objs, lib);
    objs.maps.events.onEvent((e) => events.push(e));
    const hello = `ping ${randomUUID()}\n`;
    const py = spawn("python3", ["-c", `
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", ${server.port}))) as s:
    s.sendall(sys.argv[1].encode())
    print(s.recv(100).decode(), end="")
`, hello], { stdio: ["ignore", "pipe", "ignore"] });
    let got = "";
    py.stdout!.on("data", (d: Buffer) => (got += d.toString()));
    const exited = new Promise((r) => py.on("exit", r));
    t.true(await waitFor(() => server.received().toString().includes(hello), 10000));
    const reply = `pong ${randomUUID()}\n`;
    server.proc.stdin!.write(reply);
    await exited;
    t.is(got, reply);
    const mine = () => events.filter((e) => e.pid === py.pid);
    t.true(await waitFor(() => mine().some((e) => e.isWrite === 0)));
    const w = mine().find((e) => e.isWrite === 1)!;
    const r = mine().find((e) => e.isWrite === 0)!;
    t.is(bytes(w).toString(), hello);
    t.is(bytes(r).toString(), reply);
    t.is(w.isEx, 1, "SSL_write_ex: the count came through its pointer");
    t.is(r.isEx, 1, "SSL_read_ex");
    t.is(r.len, reply.length);
    t.regex(w.comm, /^python/);
  } finally {
    objs.close();
  }
});

test("HttpPairer pairs pipelined requests in order, skips 1xx and same-direction lines, keeps connections apart", (t) => {
  const msg = (pid: number, ssl: bigint, isWrite: boolean, ts: number, text: string): TlsMessage => ({ pid, comm: "c", ssl, isWrite, tsNs: BigInt(ts), data: Buffer.from(text) });
  const p = new HttpPairer();
  t.is(p.feed(msg(1, 7n, true, 100, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")), undefined);
  t.is(p.feed(msg(1, 7n, true, 150, "POST /b HTTP/1.1\r\n")), undefined);
  t.is(p.feed(msg(1, 8n, false, 160, "HTTP/1.1 200 OK\r\n")), undefined, "another connection");
  t.is(p.feed(msg(1, 7n, true, 170, "HTTP/1.1 200 OK\r\n")), undefined, "same direction as the request: not its response");
  t.is(p.feed(msg(1, 7n, false, 180, "HTTP/1.1 100 Continue\r\n\r\n")), undefined, "interim response");
  t.like(p.feed(msg(1, 7n, false, 300, "HTTP/1.1 404 Not Found\r\n")), { role: "client", method: "GET", target: "/a", status: 404, reason: "Not Found", latencyNs: 200n });
  t.like(p.feed(msg(1, 7n, false, 400, "HTTP/1.0 204\r\n")), { method: "POST", target: "/b", status: 204, reason: "", version: "HTTP/1.0", latencyNs: 250n });
  t.is(p.feed(msg(1, 7n, false, 500, "HTTP/1.1 200 OK\r\n")), undefined, "nothing pending");
  t.like(p.feed(msg(2, 7n, false, 10, "PUT /c HTTP/1.1\r\n")) ?? p.feed(msg(2, 7n, true, 30, "HTTP/1.1 201 Created\r\n")), { role: "server", method: "PUT", status: 201, latencyNs: 20n });
  t.is(p.feed(msg(3, 1n, true, 0, "\x16\x03\x01 binary")), undefined);
});

test.serial("sslsniff's CLI prints curl's plaintext request as a JSON line, counts calls and bytes in its metrics and stops on SIGINT with its links detached", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "btf"))) return;
  if (!have("openssl", ["version"]) || !have("curl", ["--version"])) return cannot(t, "needs openssl and curl (Debian packages openssl, curl)");
  const server = await tlsServer(t);
  const metricsPort = await freePort();
  const proc = spawn(process.execPath, [join(repoRoot, "dist/bpf/sslsniff/cli.js"), "--json", "--metrics", `127.0.0.1:${metricsPort}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  try {
    t.true(await waitFor(() => linkCount(processKernelIds(proc.pid!)) >= 4, 30_000), "the CLI loaded and attached its uprobes");
    const token = randomUUID();
    // s_server never answers: curl gives up after its max time, its request already written.
    const curl = spawn("curl", ["-sk", "-m", "2", "--http1.1", "-H", `X-Token: ${token}`, `https://127.0.0.1:${server.port}/cli`], { stdio: "ignore" });
    const curlExit = new Promise((r) => curl.on("exit", r));
    type Line = { func: string; pid: number; comm: string; len: number; captured: number; data: string };
    const lines = (): Line[] => out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line).filter((l) => l.data.includes(token));
    // Both ends print it: curl's SSL_write and s_server's SSL_read, in either order.
    t.true(await waitFor(() => lines().length >= 2, 10_000), `the request's plaintext is printed: ${out}`);
    const write = lines().find((l) => l.pid === curl.pid);
    const read = lines().find((l) => l.pid === server.proc.pid);
    t.like(write, { func: "SSL_write", comm: "curl" });
    t.like(read, { func: "SSL_read", comm: "openssl" });
    t.true(write!.data.startsWith("GET /cli HTTP/1.1\r\n"), write!.data);
    t.is(write!.len, Buffer.byteLength(write!.data, "latin1"));
    t.true(write!.data.includes(read!.data), "s_server read what curl wrote");
    await curlExit;
    // The metrics count every call the CLI printed, by command and direction (other curls on the
    // machine included): compare with all the printed lines, once both have settled.
    type Call = { comm: string; func: string; len: number };
    const series = () => {
      const m: Record<string, number> = {};
      for (const c of out.trim().split("\n").map((l) => JSON.parse(l) as Call)) {
        const labels = `{comm="${c.comm}",is_write="${c.func.startsWith("SSL_write") ? 1 : 0}"}`;
        m[`sslsniff_calls_total${labels}`] = (m[`sslsniff_calls_total${labels}`] ?? 0) + 1;
        m[`sslsniff_bytes_total${labels}`] = (m[`sslsniff_bytes_total${labels}`] ?? 0) + c.len;
      }
      return m;
    };
    const m = await metricsAsPrinted(metricsPort, series);
    t.deepEqual(m.got, m.want, "calls and bytes by comm and direction, as printed");
    t.true(m.want['sslsniff_bytes_total{comm="curl",is_write="1"}']! >= write!.len, "curl's request among the bytes written");
    const ids = processKernelIds(proc.pid!);
    proc.kill("SIGINT");
    t.is(await new Promise((r) => proc.on("exit", (c) => r(c))), 0, "a clean exit on Ctrl-C");
    await assertReleased(t, ids);
  } finally {
    proc.kill();
  }
});
