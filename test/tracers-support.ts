// Shared by the tracer tests: kernel object ids behind an object's fds, and the check that closing an
// object leaves no program, map or link behind in the kernel.

import type { ExecutionContext } from "ava";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

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
