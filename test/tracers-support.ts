// Shared by the tracer tests: kernel object ids behind an object's fds, and the check that closing an
// object leaves no program, map or link behind in the kernel.

import type { ExecutionContext } from "ava";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers/temp-dir.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

interface HasFds {
  programs: Record<string, { fd: number }>;
  /** Maps expose `fd`; event readers (RingBuf, PerfEventArray) their map's handle as `map.fd`. */
  maps: Record<string, object>;
}

function mapFd(m: object): number | undefined {
  const x = m as { fd?: unknown; map?: { fd?: unknown } };
  if (typeof x.fd === "number") return x.fd;
  if (typeof x.map?.fd === "number") return x.map.fd;
  return undefined;
}

function fdinfoField(fd: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s*(\\d+)`, "m").exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface KernelIds {
  programs: number[];
  maps: number[];
}

/** The kernel ids of an object's loaded programs and its maps (read from /proc/self/fdinfo). */
export function kernelIds(objs: HasFds): KernelIds {
  const programs: number[] = [];
  const maps: number[] = [];
  for (const p of Object.values(objs.programs)) {
    let fd: number;
    try {
      fd = p.fd;
    } catch {
      continue; // not loaded
    }
    const id = fdinfoField(fd, "prog_id");
    if (id !== undefined) programs.push(id);
  }
  for (const m of Object.values(objs.maps)) {
    const fd = mapFd(m);
    const id = fd === undefined ? undefined : fdinfoField(fd, "map_id");
    if (id !== undefined) maps.push(id);
  }
  return { programs, maps };
}

/** The kernel ids of every BPF program and map another process holds an fd to (/proc/PID/fdinfo). */
export function processKernelIds(pid: number): KernelIds {
  const programs = new Set<number>();
  const maps = new Set<number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return { programs: [], maps: [] };
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue;
    }
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    const map = /^map_id:\s*(\d+)/m.exec(info);
    if (prog && !/^link_id:/m.test(info)) programs.add(Number(prog[1]));
    if (map) maps.add(Number(map[1]));
  }
  return { programs: [...programs].sort(), maps: [...maps].sort() };
}

function exists(kind: "prog" | "map", id: number): boolean {
  try {
    execFileSync("bpftool", [kind, "show", "id", String(id)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function linksOf(programs: number[]): number[] {
  // bpftool fails (EAGAIN) when a link it listed is destroyed before it reads it: other tests run.
  let json = "";
  for (let attempt = 1; ; attempt++) {
    try {
      json = execFileSync("bpftool", ["link", "list", "-j"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      break;
    } catch (e) {
      if (attempt === 5) throw e;
    }
  }
  const links = JSON.parse(json || "[]") as Array<{ id: number; prog_id: number }>;
  return links.filter((l) => programs.includes(l.prog_id)).map((l) => l.id);
}

/** Counts the links currently attached to these programs (bpftool link list). */
export function linkCount(ids: KernelIds): number {
  return linksOf(ids.programs).length;
}

/**
 * Asserts that, after close(), none of the object's programs, maps or links exist in the kernel any
 * more. The kernel frees them after an RCU grace period, so this polls for up to two seconds.
 */
export async function assertReleased(t: ExecutionContext, ids: KernelIds): Promise<void> {
  t.true(ids.programs.length > 0 && ids.maps.length > 0, "the object's programs and maps were found in the kernel");
  let left: string[] = [];
  for (let i = 0; i < 40; i++) {
    left = [
      ...linksOf(ids.programs).map((id) => `link ${id}`),
      ...ids.programs.filter((id) => exists("prog", id)).map((id) => `program ${id}`),
      ...ids.maps.filter((id) => exists("map", id)).map((id) => `map ${id}`),
    ];
    if (left.length === 0) break;
    await sleep(50);
  }
  t.deepEqual(left, [], "close() must leave no program, map or link in the kernel");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `pred()` holds (polled), or the timeout passes; returns whether it held. */
export async function waitFor(pred: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(20);
  }
  return pred();
}

/** Spawns a process and collects its stdout; `exited` resolves with its exit code. */
export function run(cmd: string, args: string[], opts: { stdin?: "pipe" } = {}): { child: ChildProcess; stdout: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? "ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", () => {});
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, stdout: () => out, exited };
}

// A vfork parent waits in D state (TASK_KILLABLE) until its child execs or exits; the child sleeps
// through a raw syscall (no libc state touched) and exits.
export const vforkerC = `
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long ms = atol(argv[1]);
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  if (vfork() == 0) { syscall(SYS_nanosleep, &ts, 0); _exit(0); }
  return 0;
}
`;

export interface Loop {
  path: string;
  /** The kernel's dev_t of the disk: major << 20 | minor. */
  dev: number;
  major: number;
  minor: number;
  detach(): void;
}

/**
 * A fresh 8 MiB loop device backed by a file, with direct I/O to the file; undefined when none can be
 * made (the reason logged; a failure under BPF2TS_REQUIRE_KERNEL).
 */
export function loopDevice(t: ExecutionContext): Loop | undefined {
  const file = join(tempDir(t, "bpf2ts-loop-"), "disk.img");
  writeFileSync(file, Buffer.alloc(8 << 20));
  let path: string;
  try {
    path = execFileSync("losetup", ["--find", "--show", "--direct-io=on", file], { encoding: "utf8" }).trim();
  } catch (e) {
    const reason = `cannot set up a loop device (losetup, Debian package mount): ${(e as Error).message.split("\n")[0]}`;
    t.log(reason);
    if (process.env.BPF2TS_REQUIRE_KERNEL === "1") t.fail(reason);
    return undefined;
  }
  const [major, minor] = readFileSync(`/sys/block/${basename(path)}/dev`, "utf8").trim().split(":").map(Number) as [number, number];
  return { path, major, minor, dev: (major << 20) | minor, detach: () => execFileSync("losetup", ["--detach", path]) };
}

/**
 * The port a CLI started with `--metrics 127.0.0.1:0` serves on, from its "serving metrics at" line
 * (undefined until printed). The CLI binds the port itself: a port found free and handed over could be
 * taken by any connection in between.
 */
export function servedMetricsPort(stderr: string): number | undefined {
  const m = /serving metrics at http:\/\/\S+:(\d+)\/metrics/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/**
 * A port free now, for a server this test starts next. Taken below the kernel's ephemeral range
 * (ip_local_port_range), which every outgoing connection draws from: a port from `listen(0)` is one
 * of those, and the many loopback connections of the tests running beside this one could take it
 * before the server binds it.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number) as [number];
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow) - 1;
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low));
    const s = createServer();
    const bound = await new Promise<boolean>((r) => s.once("error", () => r(false)).listen(port, "127.0.0.1", () => r(true)));
    if (!bound) continue;
    await new Promise((r) => s.close(r));
    return port;
  }
}

/** `openssl s_server` on 127.0.0.1 with a fresh self-signed certificate: stdin goes to the client, what the client sends comes out on stdout. */
export async function tlsServer(t: ExecutionContext): Promise<{ proc: ChildProcess; port: number; received: () => Buffer }> {
  const dir = tempDir(t, "bpf2ts-ssl-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=localhost", "-days", "1"], { stdio: "ignore" });
  const port = await freePort();
  const proc = spawn("openssl", ["s_server", "-quiet", "-accept", `127.0.0.1:${port}`, "-cert", join(dir, "cert.pem"), "-key", join(dir, "key.pem")], { stdio: ["pipe", "pipe", "ignore"] });
  const chunks: Buffer[] = [];
  proc.stdout!.on("data", (d: Buffer) => chunks.push(d));
  t.teardown(() => proc.kill());
  // Ready when it accepts TCP connections.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, "127.0.0.1");
      c.on("connect", () => (c.destroy(), r(true))).on("error", () => r(false));
    });
    if (ok) break;
    await sleep(100);
  }
  return { proc, port, received: () => Buffer.concat(chunks) };
}

/** The samples a tracer CLI's `--metrics` page serves, by series (`name{label="value",…}` as printed). */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/**
 * Scrapes until the series in `expected()` (computed again each time, from what the CLI printed so
 * far) have those values, 5 s at most; returns the last scrape's values of those series beside them.
 */
export async function metricsAsPrinted(port: number, expected: () => Record<string, number>): Promise<{ got: Record<string, number | undefined>; want: Record<string, number> }> {
  for (let i = 0; ; i++) {
    const want = expected();
    const samples = await scrapeMetrics(port);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, samples.get(k)]));
    if (Object.keys(want).every((k) => got[k] === want[k]) || i >= 20) return { got, want };
    await sleep(250);
  }
}
