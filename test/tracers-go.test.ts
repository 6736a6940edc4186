// gotrace and httptrace against unmodified Go 1.19 programs built here: the goroutine ids, allocation
// sizes and HTTP requests the programs report themselves must match what the uprobes saw. The struct
// offsets the tracers assume are checked against the binaries' DWARF first.

import test, { type ExecutionContext } from "ava";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { buildGo, cacheDir, requireFeature } from "./helpers/kernel.js";
import { assertReleased, kernelIds, linkCount, processKernelIds, repoRoot, run, sleep, waitFor } from "./tracers-support.js";
import { GotraceEventKind, loadGotrace, type GotraceEvent } from "../bpf/gotrace/gotrace.js";
import { loadHttptrace, type HttptraceEvent } from "../bpf/httptrace/httptrace.js";
import { GoBinary, go119Offsets, goroutineStatus } from "../bpf/lib/go-binary.js";
import { attachGotrace, type GoRecord, Recorder } from "../bpf/gotrace/probes.js";

const testdata = (p: string) => join(repoRoot, "bpf", p);
const goSource = (p: string) => readFileSync(testdata(p), "utf8");

function goVersion(): string {
  return execFileSync("go", ["version"], { encoding: "utf8" }).trim();
}

/** Struct offsets from the binary's DWARF, by the goffsets helper (bpf/gotrace/testdata/goffsets). */
function dwarfOffsets(binary: string, fields: string[]): Record<string, number> {
  const tool = buildGo("goffsets", goSource("gotrace/testdata/goffsets/main.go"));
  const out: Record<string, number> = {};
  for (const line of execFileSync(tool, [binary, ...fields], { encoding: "utf8" }).trim().split("\n")) {
    const [k, v] = line.split(" ");
    out[k!] = Number(v);
  }
  return out;
}

async function haveGo(t: ExecutionContext): Promise<boolean> {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "go", "btf"))) return false;
  t.log(goVersion());
  return true;
}

test.serial("the Go offsets the tracers assume match the DWARF of a Go 1.19 binary", async (t) => {
  if (!(await haveGo(t))) return;
  const server = buildGo("httpserver", goSource("httptrace/testdata/server/main.go"));
  const got = dwarfOffsets(server, ["runtime.g.goid", "net/http.Request.Method", "net/http.Request.URL", "net/url.URL.Path", "net/http.response.status"]);
  t.deepEqual(got, {
    "runtime.g.goid": go119Offsets.goid,
    "net/http.Request.Method": go119Offsets.requestMethod,
    "net/http.Request.URL": go119Offsets.requestUrl,
    "net/url.URL.Path": go119Offsets.urlPath,
    "net/http.response.status": go119Offsets.responseStatus,
  });
  const go = new GoBinary(server);
  t.regex(go.version ?? "", /^go1\./);
  t.false(go.pie, "go build makes position-dependent executables on linux/amd64");
  t.truthy(go.address("go.itab.*net/http.response,net/http.ResponseWriter"));
});

test.serial("gotrace sees goroutine creation, state changes and allocations with the ids the program prints", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("goapp", goSource("gotrace/testdata/goapp/main.go"));
  const app = run(bin, ["4"], { stdin: "pipe" });
  const objs = await loadGotrace({ constants: { targPid: app.child.pid! } });
  const ids = kernelIds(objs);
  const events: GotraceEvent[] = [];
  try {
    const at = (symbol: string) => ({ path: bin, symbol, pid: app.child.pid! });
    const go = new GoBinary(bin);
    const rets = go.returnOffsets("runtime.newproc1");
    objs.programs.handleNewproc1.attach(at("runtime.newproc1"));
    for (const offset of rets) objs.programs.handleNewproc1Return.attach({ ...at("runtime.newproc1"), offset });
    objs.programs.handleCasgstatus.attach(at("runtime.casgstatus"));
    objs.programs.handleMallocgc.attach(at("runtime.mallocgc"));
    t.is(linkCount(ids), 3 + rets.length);
    objs.maps.events.onEvent((e) => events.push(e));
    app.child.stdin!.end("go\n");
    t.is(await app.exited, 0);
    await sleep(100);
    const lines = app.stdout().trim().split("\n").map((l) => /^goroutine (\d+) parent (\d+) alloc (\d+)$/.exec(l)!);
    t.is(lines.length, 4, app.stdout());
    for (const [, goid, parent, size] of lines) {
      const alloc = events.find((e) => e.kind === GotraceEventKind.EVENT_MALLOCGC && e.arg === BigInt(size!));
      t.truthy(alloc, `mallocgc of ${size} bytes traced`);
      t.is(alloc!.goid, BigInt(goid!), `allocation of ${size} bytes made by goroutine ${goid}`);
      t.is(alloc!.funcIp, go.func("runtime.mallocgc").address, "the probed function's run-time address (no load base: not a PIE)");
      t.true(events.some((e) => e.kind === GotraceEventKind.EVENT_CASGSTATUS && e.goid === BigInt(goid!) && goroutineStatus(e.newStatus) === "running"), `goroutine ${goid} ran`);
      const created = events.filter((e) => e.kind === GotraceEventKind.EVENT_NEWPROC && e.newGoid === BigInt(goid!));
      t.is(created.length, 1, `the creation of goroutine ${goid} was traced once`);
      t.is(created[0]!.goid, BigInt(parent!), "by its parent");
      t.is(go.elf.functionAt(created[0]!.arg)?.name, "main.main.func1", "running the closure of the go statement");
      t.is(go.elf.functionAt(created[0]!.pc)?.name, "main.main", "from main.main");
    }
    t.true(events.every((e) => e.pid === app.child.pid), "targPid filters in the kernel");
    t.is(objs.variables.lostEvents.get(), 0n);
  } finally {
    objs.close();
    app.child.kill();
  }
  await assertReleased(t, ids);
});

test.serial("gotrace's sampling map, set from user space, thins out mallocgc events", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("goapp", goSource("gotrace/testdata/goapp/main.go"));
  const app = run(bin, ["2"], { stdin: "pipe" });
  const objs = await loadGotrace({ constants: { targPid: app.child.pid! } });
  const events: GotraceEvent[] = [];
  try {
    objs.maps.sampling.set(GotraceEventKind.EVENT_MALLOCGC, 0xffffffff); // one mallocgc in 2^32 - 1: none, in practice
    objs.programs.handleNewproc1.attach({ path: bin, symbol: "runtime.newproc1", pid: app.child.pid! });
    for (const offset of new GoBinary(bin).returnOffsets("runtime.newproc1")) objs.programs.handleNewproc1Return.attach({ path: bin, symbol: "runtime.newproc1", offset, pid: app.child.pid! });
    objs.programs.handleMallocgc.attach({ path: bin, symbol: "runtime.mallocgc", pid: app.child.pid! });
    objs.maps.events.onEvent((e) => events.push(e));
    app.child.stdin!.end("go\n");
    await app.exited;
    await sleep(100);
    t.true(events.some((e) => e.kind === GotraceEventKind.EVENT_NEWPROC), "newproc1 events still arrive");
    t.false(events.some((e) => e.kind === GotraceEventKind.EVENT_MALLOCGC), "mallocgc events are sampled away");
    t.is(objs.maps.sampling.get(GotraceEventKind.EVENT_MALLOCGC), 0xffffffff);
  } finally {
    objs.close();
    app.child.kill();
  }
});

/** What gochan prints: goroutine ids, channel addresses, per-worker counts, MemStats GC counters. */
function parseGochan(out: string) {
  const main = /^main (\d+) sender (\d+) sum (\d+)$/m.exec(out)!;
  const chans = /^chans jobs (0x[0-9a-f]+) results (0x[0-9a-f]+)$/m.exec(out)!;
  const gc = /^gc numgc (\d+) (\d+) forced (\d+) (\d+)$/m.exec(out)!;
  const workers = [...out.matchAll(/^worker (\d+) recv (\d+) send (\d+)$/gm)].map((m) => ({ goid: Number(m[1]), recv: Number(m[2]), send: Number(m[3]) }));
  return {
    main: Number(main[1]), sender: Number(main[2]), jobs: chans[1]!, results: chans[2]!, workers,
    numGc: Number(gc[2]) - Number(gc[1]), forcedGc: Number(gc[4]) - Number(gc[3]),
  };
}

test.serial("gotrace follows GC cycles phase by phase and channel operations with the goroutines the program names", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("gochan", goSource("gotrace/testdata/gochan/main.go"));
  const jobs = 30, gcs = 3;
  const app = run(bin, ["3", String(jobs), String(gcs)], { stdin: "pipe" });
  const objs = await loadGotrace({ constants: { targPid: app.child.pid! } });
  const ids = kernelIds(objs);
  const go = new GoBinary(bin);
  const recorder = new Recorder(go);
  const records: GoRecord[] = [];
  try {
    const probes = attachGotrace(objs, go, new Set(["gc", "chan"]), app.child.pid!);
    t.is(linkCount(ids), probes, "5 GC phase functions, 3 channel functions at entry and each RET");
    objs.maps.events.onEvent((e) => records.push(recorder.record(e)));
    app.child.stdin!.end("go\n");
    t.is(await app.exited, 0);
    t.true(await waitFor(() => objs.maps.events.pending === 0, 10_000), "the ring read up (the program has exited: nothing more comes)");
    const p = parseGochan(app.stdout());
    t.is(p.workers.length, 3, app.stdout());
    const ops = (event: string, chan: string, goid: number) => records.filter((r) => r.event === event && r.chan === chan && r.goid === goid);

    // Channels: every operation, by the goroutine the program says did it, on the channel it printed.
    const sends = ops("chansend", p.jobs, p.sender);
    t.is(sends.length, jobs, "the sender's sends on the unbuffered jobs channel");
    t.true(sends.every((r) => r.caller === "main.main.func2"), "from the sender's closure");
    t.is(ops("chanrecv", p.results, p.main).length, jobs, "main's receives on the results channel");
    t.true(ops("chanrecv", p.results, p.main).every((r) => r.caller === "main.main"));
    for (const w of p.workers) {
      t.is(ops("chanrecv", p.jobs, w.goid).length, w.recv + 1, `worker ${w.goid}: ${w.recv} jobs and the receive that sees the close (range: chanrecv2)`);
      t.is(ops("chansend", p.results, w.goid).length, w.send, `worker ${w.goid}'s sends on results`);
    }
    const mine = records.filter((r) => (r.event === "chansend" || r.event === "chanrecv") && (r.chan === p.jobs || r.chan === p.results));
    t.is(mine.length, 4 * jobs + 3, "nothing else on the program's channels: 30 sends + 30 receives per channel, 3 closing receives");
    t.true(mine.every((r) => r.durationNs! > 0 && r.pid === app.child.pid && r.tid > 0), "each operation timed");
    const blocked = ops("chansend", p.jobs, p.sender).filter((r) => r.durationNs! > 1_000_000);
    t.log(`${blocked.length} of ${jobs} sends on the unbuffered channel blocked over 1 ms; max ${Math.max(...sends.map((r) => r.durationNs!)) / 1e6} ms`);

    // GC: the forced cycles, started by main, each through its phases in order, with durations.
    const starts = records.filter((r) => r.event === "gc-start");
    const forced = starts.filter((r) => r.trigger === "forced");
    t.is(forced.length, p.forcedGc, `runtime.GC() ran ${p.forcedGc} cycles (MemStats.NumForcedGC)`);
    t.is(p.forcedGc, gcs);
    t.true(starts.length >= p.numGc, `every cycle of the window seen (MemStats.NumGC grew by ${p.numGc})`);
    t.true(forced.every((r) => r.goid === p.main), "started by main's goroutine");
    t.deepEqual(starts.map((r) => r.cycle), starts.map((_, i) => i + 1), "cycles counted from 1 in the kernel");
    const phasesSeen = forced.every((s) => ["gc-mark-done", "gc-sweep-start"].every((e) => records.some((r) => r.event === e && r.cycle === s.cycle)));
    if (!phasesSeen) t.log(records.filter((r) => r.event.startsWith("gc-")).map((r) => `${r.event} cycle ${r.cycle} goroutine ${r.goid} at ${r.tsNs}`).join("\n"));
    for (const s of forced) {
      const phase = (event: string) => records.find((r) => r.event === event && r.cycle === s.cycle);
      const mark = phase("gc-mark-done");
      const sweep = phase("gc-sweep-start");
      t.truthy(mark && sweep, `cycle ${s.cycle}: mark termination and sweep start seen`);
      t.true(mark!.durationNs! > 0 && mark!.tsNs > s.tsNs && mark!.durationNs === mark!.tsNs - s.tsNs, `cycle ${s.cycle}: mark duration = its time since the start`);
      t.true(sweep!.durationNs! >= mark!.durationNs! && sweep!.tsNs >= mark!.tsNs, `cycle ${s.cycle}: the cycle ends after marking`);
      const swept = phase("gc-sweep-done");
      if (swept) t.true(swept.durationNs! > 0 && swept.durationNs === swept.tsNs - sweep!.tsNs, `cycle ${s.cycle}: sweep duration`);
      t.log(`cycle ${s.cycle}: mark ${mark!.durationNs! / 1e6} ms, cycle ${sweep!.durationNs! / 1e6} ms, sweep ${swept ? `${swept.durationNs! / 1e6} ms` : "not finished before exit"}`);
    }
    // gochan sleeps after each runtime.GC(), so the background sweeper reports each cycle's end of
    // sweeping before the next cycle starts (the last one's may come after the program's exit).
    t.true(forced.slice(0, -1).every((s) => records.some((r) => r.event === "gc-sweep-done" && r.cycle === s.cycle)), "sweeping of every cycle but the last seen to finish");

    // The programs' own cost, per event kind, from the per-CPU probe_stats map.
    for (const kind of [GotraceEventKind.EVENT_GC_START, GotraceEventKind.EVENT_CHAN_SEND, GotraceEventKind.EVENT_CHAN_RECV]) {
      const per = objs.maps.probeStats.get(kind)!;
      const runs = per.reduce((a, s) => a + s.runs, 0n);
      const ns = per.reduce((a, s) => a + s.ns, 0n);
      t.true(runs > 0n && ns > 0n, `probe_stats[${kind}]: ${runs} runs, ${ns} ns`);
    }
    t.is(objs.variables.lostEvents.get(), 0n);
  } finally {
    objs.close();
    app.child.kill();
  }
  await assertReleased(t, ids);
});

test.serial("gotrace's sampling map thins channel events at their entry", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("gochan", goSource("gotrace/testdata/gochan/main.go"));
  const app = run(bin, ["2", "20", "1"], { stdin: "pipe" });
  const objs = await loadGotrace({ constants: { targPid: app.child.pid! } });
  const events: GotraceEvent[] = [];
  try {
    objs.maps.sampling.set(GotraceEventKind.EVENT_CHAN_SEND, 0xffffffff); // none, in practice
    attachGotrace(objs, new GoBinary(bin), new Set(["chan"]), app.child.pid!);
    objs.maps.events.onEvent((e) => events.push(e));
    app.child.stdin!.end("go\n");
    t.is(await app.exited, 0);
    t.true(await waitFor(() => objs.maps.events.pending === 0, 10_000));
    t.false(events.some((e) => e.kind === GotraceEventKind.EVENT_CHAN_SEND), "sends sampled away");
    t.true(events.filter((e) => e.kind === GotraceEventKind.EVENT_CHAN_RECV).length >= 40, "receives all reported");
    t.is(objs.maps.chanCalls.keys().next().done, true, "no operation left in flight");
  } finally {
    objs.close();
    app.child.kill();
  }
});

function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    }).on("error", reject);
  });
}

test.serial("httptrace times each request of an unmodified Go net/http server: method, path, status, latency", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("httpserver", goSource("httptrace/testdata/server/main.go"));
  const server = spawn(bin, [], { stdio: ["ignore", "pipe", "ignore"] });
  let banner = "";
  server.stdout!.on("data", (d: Buffer) => (banner += d.toString()));
  try {
    t.true(await waitFor(() => /listening \d+/.test(banner)), "server started");
    const port = Number(/listening (\d+)/.exec(banner)![1]);
    const go = new GoBinary(bin);
    const rets = go.returnOffsets("net/http.serverHandler.ServeHTTP");
    const objs = await loadHttptrace({ constants: { targPid: server.pid!, responseItab: go.address("go.itab.*net/http.response,net/http.ResponseWriter")! } });
    const ids = kernelIds(objs);
    const events: HttptraceEvent[] = [];
    try {
      const target = { path: bin, symbol: "net/http.serverHandler.ServeHTTP", pid: server.pid! };
      objs.programs.handleServeHttp.attach({ ...target, offset: go.entryOffset("net/http.serverHandler.ServeHTTP") });
      for (const offset of rets) objs.programs.handleServeHttpReturn.attach({ ...target, offset });
      t.is(linkCount(ids), 1 + rets.length);
      objs.maps.events.onEvent((e) => events.push(e));
      t.is(await httpGet(port, "/hello"), 200);
      t.is(await httpGet(port, "/sleep/60"), 200);
      t.is(await httpGet(port, "/missing"), 404);
      t.true(await waitFor(() => events.length >= 3), `three requests traced (${events.length})`);
      const byPath = new Map(events.map((e) => [e.path, e]));
      t.deepEqual([...byPath.keys()].sort(), ["/hello", "/missing", "/sleep/60"]);
      t.true(events.every((e) => e.method === "GET" && e.pid === server.pid && e.goid > 0n));
      t.is(byPath.get("/hello")!.status, 200);
      t.is(byPath.get("/missing")!.status, 404);
      t.true(byPath.get("/sleep/60")!.durationNs >= 60_000_000n, "the handler slept 60 ms");
      t.true(byPath.get("/hello")!.durationNs < 60_000_000n);
      t.is(objs.maps.inflight.get({ pid: server.pid!, __pad: 0, goid: byPath.get("/hello")!.goid }), undefined, "finished requests leave the in-flight map");
    } finally {
      objs.close();
    }
    await assertReleased(t, ids);
    t.is(await httpGet(port, "/hello"), 200, "the server keeps working after the probes are gone");
  } finally {
    server.kill();
  }
});

const cli = (name: string) => join(repoRoot, "dist/bpf", name, "cli.js");

test.serial("the httptrace and gotrace CLIs attach by binary path and print JSON lines", async (t) => {
  if (!(await haveGo(t))) return;
  const bin = buildGo("httpserver", goSource("httptrace/testdata/server/main.go"));
  const server = spawn(bin, [], { stdio: ["ignore", "pipe", "ignore"] });
  let banner = "";
  server.stdout!.on("data", (d: Buffer) => (banner += d.toString()));
  const tracer = run(process.execPath, [cli("httptrace"), "--binary", bin, "--json", "--duration", "30"]);
  try {
    t.true(await waitFor(() => /listening \d+/.test(banner)));
    const port = Number(/listening (\d+)/.exec(banner)![1]);
    const ids = () => processKernelIds(tracer.child.pid!);
    t.true(await waitFor(() => linkCount(ids()) >= 2, 30_000), "entry and return uprobes attached");
    t.is(await httpGet(port, "/cli-check"), 200);
    t.true(await waitFor(() => tracer.stdout().includes("/cli-check")), tracer.stdout());
    const held = ids();
    tracer.child.kill("SIGINT");
    t.is(await tracer.exited, 0);
    const e = JSON.parse(tracer.stdout().trim().split("\n").find((l) => l.includes("/cli-check"))!) as { method: string; path: string; status: number; durationNs: number; pid: number };
    t.like(e, { method: "GET", path: "/cli-check", status: 200, pid: server.pid });
    t.true(e.durationNs > 0);
    await assertReleased(t, held);
  } finally {
    tracer.child.kill();
    server.kill();
  }

  const app = buildGo("goapp", goSource("gotrace/testdata/goapp/main.go"));
  const gt = run(process.execPath, [cli("gotrace"), "--binary", app, "--events", "newproc", "--json", "--duration", "30"]);
  try {
    const newprocProbes = 1 + new GoBinary(app).returnOffsets("runtime.newproc1").length;
    t.true(await waitFor(() => linkCount(processKernelIds(gt.child.pid!)) === newprocProbes, 30_000), "entry and return uprobes for --events newproc");
    const target = run(app, ["3"], { stdin: "pipe" });
    target.child.stdin!.end("go\n");
    await target.exited;
    t.true(await waitFor(() => (gt.stdout().match(/main\.main\.func1/g)?.length) === 3), gt.stdout());
    gt.child.kill("SIGINT");
    t.is(await gt.exited, 0);
    const lines = gt.stdout().trim().split("\n").map((l) => JSON.parse(l) as { event: string; goid: number; newGoid: number; fn: string; caller: string; pid: number });
    const workers = lines.filter((l) => l.fn === "main.main.func1");
    t.is(workers.length, 3);
    t.true(workers.every((w) => w.event === "newproc" && w.goid === 1 && w.caller === "main.main" && w.pid === target.child.pid));
    const printed = target.stdout().trim().split("\n").map((l) => Number(/^goroutine (\d+)/.exec(l)![1])).sort();
    t.deepEqual(workers.map((w) => w.newGoid).sort(), printed, "the ids of the new goroutines are the ones they print");
  } finally {
    gt.child.kill();
  }
});

/** Like buildGo, but a position-independent executable (go build -buildmode=pie), cached by source hash. */
function buildGoPie(name: string, source: string): string {
  const dir = join(cacheDir, "pie", `${name}-${createHash("sha256").update(source).digest("hex").slice(0, 16)}`);
  const out = join(dir, name);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "main.go"), source);
    execFileSync("go", ["build", "-buildmode=pie", "-o", `${out}.${process.pid}.tmp`, "main.go"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, GOPATH: "/usr/share/gocode", GO111MODULE: "off", GOFLAGS: "", GOCACHE: join(cacheDir, "gocache") },
    });
    renameSync(`${out}.${process.pid}.tmp`, out);
  }
  return out;
}

test.serial("gotrace handles position-independent Go binaries: uprobes by symbol, PCs through the load base", async (t) => {
  if (!(await haveGo(t))) return;
  // goapp rather than the HTTP server: a PIE build recompiles the standard library it uses.
  const bin = buildGoPie("goapp", goSource("gotrace/testdata/goapp/main.go"));
  const go = new GoBinary(bin);
  t.true(go.pie);
  const tracer = run(process.execPath, [cli("gotrace"), "--binary", bin, "--events", "newproc", "--json", "--duration", "30"]);
  const app = run(bin, ["2"], { stdin: "pipe" });
  try {
    t.true(await waitFor(() => linkCount(processKernelIds(tracer.child.pid!)) >= 2, 30_000), "uprobes attached");
    const bias = go.loadBias(app.child.pid!);
    t.truthy(bias, "a PIE is loaded at a non-zero base");
    t.is(bias! % 4096n, 0n, "page aligned");
    t.is(go.loadBias(process.pid), undefined, "a process that does not map the binary has no bias");
    app.child.stdin!.end("go\n");
    await app.exited;
    t.true(await waitFor(() => (tracer.stdout().match(/main\.main\.func1/g) ?? []).length === 2), tracer.stdout());
    const workers = tracer.stdout().trim().split("\n").map((l) => JSON.parse(l) as { fn: string; caller: string; goid: number }).filter((e) => e.fn === "main.main.func1");
    t.true(workers.every((w) => w.caller === "main.main" && w.goid === 1), "run-time PCs resolved to symbols through the process's mappings");
  } finally {
    tracer.child.kill("SIGINT");
    await tracer.exited;
    app.child.kill();
  }
});
