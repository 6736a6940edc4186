// biolatency against the live kernel: a loop device over a file (losetup, Debian package `mount`)
// gets a known number of O_DIRECT reads and writes (dd); the per-disk, per-operation histograms must
// count exactly those, in buckets no slower than the whole dd run.

import test from "ava";
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { requireFeature } from "./helpers/kernel.js";
import { assertReleased, kernelIds, linkCount, loopDevice, metricsAsPrinted, processKernelIds, repoRoot, servedMetricsPort } from "./tracers-support.js";
import { loadBiolatency, type BiolatencyObjects } from "../bpf/biolatency/biolatency.js";

const cli = (name: string) => join(repoRoot, "dist/bpf", name, "cli.js");
const REQUESTS = 16;

/** REQUESTS O_DIRECT 4 KiB writes, then as many reads; returns the wall time of the whole run in µs. */
function directIo(dev: string): number {
  const start = process.hrtime.bigint();
  execFileSync("dd", ["if=/dev/zero", `of=${dev}`, "bs=4096", `count=${REQUESTS}`, "oflag=direct"], { stdio: "ignore" });
  execFileSync("dd", [`if=${dev}`, "of=/dev/null", "bs=4096", `count=${REQUESTS}`, "iflag=direct"], { stdio: "ignore" });
  return Number((process.hrtime.bigint() - start) / 1000n);
}

/** Histograms by "major:minor op" with their totals and highest non-empty bucket. */
function histograms(objs: BiolatencyObjects): Map<string, { total: number; top: number; disk: string }> {
  const out = new Map<string, { total: number; top: number; disk: string }>();
  for (const [k, h] of objs.maps.hists.entries()) {
    const slots = Array.from(h.slots);
    out.set(`${k.major}:${k.minor} ${k.op}`, { total: slots.reduce((a, b) => a + b, 0), top: slots.findLastIndex((x) => x > 0), disk: h.disk });
  }
  return out;
}

test.serial("biolatency counts a loop device's O_DIRECT reads and writes per disk and per operation", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "btf"))) return;
  const loop = loopDevice(t);
  if (!loop) return t.pass();
  const objs = await loadBiolatency({ constants: { targPerDisk: true, targPerOp: true, targDev: loop.dev } });
  const ids = kernelIds(objs);
  try {
    objs.programs.handleRqIssue.attach();
    objs.programs.handleRqComplete.attach();
    t.is(linkCount(ids), 2, "issue-to-completion: insert not attached");
    const wallUs = directIo(loop.path);
    const h = histograms(objs);
    t.deepEqual([...h.keys()].sort(), [`${loop.major}:${loop.minor} 0`, `${loop.major}:${loop.minor} 1`], "one histogram for reads (REQ_OP_READ 0) and one for writes (1), on the loop device only");
    for (const op of [0, 1]) {
      const x = h.get(`${loop.major}:${loop.minor} ${op}`)!;
      t.is(x.total, REQUESTS, `op ${op}: one count per request`);
      t.is(x.disk, basename(loop.path));
      t.true(2 ** x.top <= wallUs, `op ${op}: slowest bucket 2^${x.top} µs within the dd run's ${wallUs} µs`);
    }
  } finally {
    objs.close();
    loop.detach();
  }
  await assertReleased(t, ids);
});

test.serial("biolatency in queued mode times requests from their insertion into the I/O scheduler", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "btf"))) return;
  const loop = loopDevice(t);
  if (!loop) return t.pass();
  const objs = await loadBiolatency({ constants: { targQueued: true, targPerOp: true, targDev: loop.dev } });
  try {
    // Through mq-deadline every request is inserted before it is issued.
    writeFileSync(`/sys/block/${basename(loop.path)}/queue/scheduler`, "mq-deadline");
    // Insert and complete only: every count proves a request was timed from block_rq_insert.
    objs.programs.handleRqInsert.attach();
    objs.programs.handleRqComplete.attach();
    const wallUs = directIo(loop.path);
    const h = histograms(objs);
    t.deepEqual([...h.keys()].sort(), ["0:0 0", "0:0 1"], "not split by disk: major and minor 0");
    for (const op of [0, 1]) {
      t.is(h.get(`0:0 ${op}`)!.total, REQUESTS, `op ${op}: every request timed from its insert`);
      t.true(2 ** h.get(`0:0 ${op}`)!.top <= wallUs);
    }
  } finally {
    objs.close();
    loop.detach();
  }
});

test.serial("biolatency's CLI prints per-disk, per-operation histograms as JSON and Prometheus metrics, and stops on SIGINT", async (t) => {
  if (!(await requireFeature(t, "root", "tp_btf", "btf"))) return;
  const loop = loopDevice(t);
  if (!loop) return t.pass();
  const proc = spawn(process.execPath, [cli("biolatency"), "--json", "--disks", "--ops", "--queued", "--disk", loop.path, "--metrics", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    // --json prints nothing until the end: wait until its three programs are attached.
    let ids = processKernelIds(proc.pid!);
    for (let i = 0; i < 200 && linkCount(ids) < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      ids = processKernelIds(proc.pid!);
    }
    t.is(linkCount(ids), 3, "--queued attaches insert, issue and complete");
    directIo(loop.path);
    // The same requests in the histogram metric, by disk and operation (REQ_OP_READ 0, REQ_OP_WRITE 1).
    const series = (op: number) => `biolatency_latency_seconds_count{major="${loop.major}",minor="${loop.minor}",op="${op}"}`;
    for (let i = 0; i < 200 && servedMetricsPort(stderr) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    const metricsPort = servedMetricsPort(stderr);
    if (metricsPort === undefined) return t.fail(`biolatency serves no metrics: ${stderr}`);
    const m = await metricsAsPrinted(metricsPort, () => ({ [series(0)]: REQUESTS, [series(1)]: REQUESTS }));
    t.deepEqual(m.got, m.want, "the histogram metric counts each request");
    proc.kill("SIGINT");
    t.is(await new Promise((r) => proc.on("exit", r)), 0);
    await assertReleased(t, ids);
    const rows = stdout.trim().split("\n").map((l) => JSON.parse(l) as { disk: string; dev: string; op: string; unit: string; slots: number[] });
    t.deepEqual(rows.map((r) => `${r.disk} ${r.dev} ${r.op} ${r.unit} ${r.slots.reduce((a, b) => a + b, 0)}`), [
      `${basename(loop.path)} ${loop.major}:${loop.minor} read usecs ${REQUESTS}`,
      `${basename(loop.path)} ${loop.major}:${loop.minor} write usecs ${REQUESTS}`,
    ]);
  } finally {
    proc.kill();
    loop.detach();
  }
});
