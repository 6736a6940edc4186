// gotrace's live view in a real browser (Debian's chromium, headless, driven over the DevTools
// protocol): `--serve` with a running Go program, the page's numbers read from its DOM and checked
// against the program and the recorded stream, its screenshot checked for drawn timeline content;
// `--replay` of a recording into the same page; and the live model's caps, without a kernel.

import test, { type ExecutionContext } from "ava";
import { execFile } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { Browser, findChromium, type Page } from "./helpers/browser.js";
import { buildGo, cacheDir, requireFeature, requireKernel } from "./helpers/kernel.js";
import { linkCount, processKernelIds, repoRoot, run, sleep, waitFor } from "./tracers-support.js";
import { GoBinary } from "../bpf/lib/go-binary.js";
import { LiveModel } from "../bpf/gotrace/live.js";
import type { GoRecord } from "../bpf/gotrace/probes.js";

const execFileP = promisify(execFile);
const goSource = (p: string) => readFileSync(join(repoRoot, "bpf/gotrace/testdata", p), "utf8");
const cli = join(repoRoot, "dist/bpf/gotrace/cli.js");

async function chromium(t: ExecutionContext): Promise<string | undefined> {
  const c = findChromium();
  if ("path" in c) return c.path;
  t.log(`cannot run: ${c.missing}`);
  if (requireKernel) t.fail(c.missing);
  else t.pass(`skipped: ${c.missing}`);
  return undefined;
}

/** Starts the gotrace CLI with `args`; resolves once it prints the URL it serves. */
async function serve(t: ExecutionContext, args: string[]) {
  const proc = run(process.execPath, [cli, ...args, "--serve", "127.0.0.1:0"]);
  let stderr = "";
  proc.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  t.true(await waitFor(() => /serving http:\/\/\S+/.test(stderr), 30_000), `gotrace serves: ${stderr}`);
  return { ...proc, url: /serving (http:\/\/\S+)/.exec(stderr)![1]!, stderr: () => stderr };
}

/** The numbers the page shows (by element id), and a few facts from its script's state. */
interface Shown {
  status: string;
  source: string;
  frames: number;
  live: number;
  created: number;
  exited: number;
  gcCycles: number;
  events: number;
  allocRate: string;
  readRate: string;
  probeCost: string;
  gcRows: number;
  rows: { pid: number; goid: number; fn?: string }[];
}

function shown(page: Page): Promise<Shown> {
  return page.evaluate<Shown>(`(() => {
    const text = (id) => document.getElementById(id).textContent;
    const num = (id) => Number(text(id));
    return {
      status: text("status"), source: text("source"), frames: Number(document.body.dataset.frames || 0),
      live: num("live-goroutines"), created: num("created"), exited: num("exited"), gcCycles: num("gc-cycles"),
      events: num("events-total"), allocRate: text("alloc-rate"), readRate: text("read-rate"), probeCost: text("probe-cost"),
      gcRows: document.querySelectorAll("#gc-table tr").length,
      rows: [...state.rows.values()].map((r) => ({ pid: r.pid, goid: r.goid, fn: r.fn })),
    };
  })()`);
}

async function waitForPage(page: Page, pred: (s: Shown) => boolean, timeoutMs: number): Promise<Shown> {
  const end = Date.now() + timeoutMs;
  let s: Shown | undefined;
  for (;;) {
    try {
      s = await shown(page);
      if (pred(s)) return s;
    } catch {
      // not loaded yet
    }
    if (Date.now() > end) return s ?? (await shown(page));
    await sleep(250);
  }
}

/**
 * Pixels of the timeline's plot area (right of the labels) that are not background: the state bars,
 * GC bands and markers drawn there. Returns the count and the share of the area, and the pixels in
 * each state colour the page uses for running (#3ecf6e) and waiting (#3b82c4).
 */
async function timelineInk(page: Page, png: Buffer) {
  const rect = await page.evaluate<{ x: number; y: number; w: number; h: number }>(`(() => { const r = document.getElementById("timeline").getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; })()`);
  const img = PNG.sync.read(png);
  const near = (i: number, rgb: number[], tol: number) => Math.abs(img.data[i]! - rgb[0]!) + Math.abs(img.data[i + 1]! - rgb[1]!) + Math.abs(img.data[i + 2]! - rgb[2]!) <= tol;
  const background = [0x17, 0x1e, 0x26];
  let ink = 0, running = 0, waiting = 0, area = 0;
  const left = Math.ceil(rect.x + 150), right = Math.floor(rect.x + rect.w);
  let firstBar = right;
  for (let y = Math.ceil(rect.y); y < Math.floor(rect.y + rect.h) - 18; y++) {
    for (let x = left; x < right; x++) {
      const i = (y * img.width + x) * 4;
      area++;
      if (!near(i, background, 30)) ink++;
      const run = near(i, [0x3e, 0xcf, 0x6e], 20), wait = near(i, [0x3b, 0x82, 0xc4], 20);
      if (run) running++;
      if (wait) waiting++;
      if ((run || wait) && x < firstBar) firstBar = x;
    }
  }
  // Where the first state bar starts, as a share of the plot's width from its left edge.
  return { ink, share: ink / area, running, waiting, firstBar: (firstBar - left) / (right - left), size: `${img.width}x${img.height}` };
}

/** Columns of the allocation chart with a GC cycle's marker (drawn above the rate's curve). */
async function allocGcMarkers(page: Page, png: Buffer): Promise<number> {
  const rect = await page.evaluate<{ x: number; y: number; w: number }>(`(() => { const r = document.getElementById("alloc").getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width }; })()`);
  const img = PNG.sync.read(png);
  const y = Math.ceil(rect.y) + 6; // above the highest point of the curve (12 px from the top)
  let markers = 0, inMarker = false;
  for (let x = Math.ceil(rect.x); x < Math.floor(rect.x + rect.w); x++) {
    const i = (y * img.width + x) * 4;
    // The marker's purple, blended (antialiased across two columns); the chart's text is grey.
    const purple = img.data[i + 2]! - img.data[i + 1]! >= 30 && img.data[i]! > img.data[i + 1]!;
    if (purple && !inMarker) markers++;
    inMarker = purple;
  }
  return markers;
}

test("the live model sends only what changed, caps each frame and counts what it leaves out", (t) => {
  const model = new LiveModel({ maxSegmentsPerFrame: 10, maxChanPerFrame: 5, mallocSampling: 4 });
  model.start(0);
  const rec = (event: string, ms: number, extra: Partial<GoRecord>): GoRecord => ({ event, tsNs: ms * 1e6, pid: 7, tid: 7, goid: 1, ...extra });
  model.add(rec("newproc", 1, { goid: 1, newGoid: 20, fn: "main.worker", caller: "main.main" }));
  // newproc1 makes the recycled g runnable before giving it its id: the stale id must not count.
  model.add(rec("casgstatus", 1, { goid: 15, from: "dead", to: "runnable" }));
  for (let i = 0; i < 30; i++) model.add(rec("casgstatus", 2 + i, { goid: 20, from: i % 2 ? "waiting" : "running", to: i % 2 ? "running" : "waiting" }));
  for (let i = 0; i < 8; i++) model.add(rec("chansend", 40 + i, { goid: 20, chan: "0xc000010000", durationNs: 1000 }));
  model.add(rec("mallocgc", 50, { size: 1000 }));
  model.add(rec("gc-start", 60, { cycle: 1, trigger: "forced" }));
  model.add(rec("gc-mark-done", 62, { cycle: 1, durationNs: 2e6 }));
  const f = model.frame(100);
  t.is(f.segments.length, 10, "segments capped");
  t.is(f.dropped.segments, 30 - 10 + 0, "the rest counted");
  t.is(f.chan.length, 5);
  t.is(f.dropped.chan, 3);
  t.deepEqual(f.rows.map((r) => r.goid), [20], "only the goroutine seen alive has a row; the stale id does not");
  t.like(f.rows[0], { fn: "main.worker", parent: 1, created: 1 });
  t.like(f.totals, { created: 1, live: 1, exited: 0, gcCycles: 1, allocs: 4, allocBytes: 4000, chanOps: 8 });
  t.like(f.gc[0], { pid: 7, cycle: 1, trigger: "forced", start: 60, markDone: 62, markMs: 2 });
  const g = model.frame(350);
  t.deepEqual([g.rows.length, g.segments.length, g.chan.length, g.gc.length], [0, 0, 0, 0], "a quiet tick sends nothing but rates and totals");
  t.is(g.rates.events, 0);
  model.add(rec("casgstatus", 400, { goid: 20, from: "running", to: "dead" }));
  model.add(rec("casgstatus", 401, { goid: 3, from: "waiting", to: "runnable" }));
  model.add(rec("exit", 500, { goid: 0, tid: 0 }));
  const h = model.frame(600);
  t.like(h.totals, { live: 0, exited: 2, created: 1 }, "an exit, then the process's end takes its last goroutine");
  t.is(model.snapshot(600).rows.length, 2, "a new page gets the rows of the window");
});

test.serial("gotrace --serve shows a running Go program live in a real browser; --record writes the stream", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "go", "btf"))) return;
  const browserPath = await chromium(t);
  if (!browserPath) return;
  const bin = buildGo("golive", goSource("golive/main.go"));
  const dir = mkdtempSync(join(tmpdir(), "gotrace-live-"));
  const recording = join(dir, "golive.jsonl");
  const launching = Browser.launch(browserPath);
  const tracer = await serve(t, ["--binary", bin, "--record", recording, "--duration", "80"]);
  let browser: Browser | undefined;
  let app: ReturnType<typeof run> | undefined;
  try {
    const go = new GoBinary(bin);
    const probes = 5 + 1 + 1 + (1 + go.returnOffsets("runtime.newproc1").length) + ["runtime.chansend1", "runtime.chanrecv1", "runtime.chanrecv2"].reduce((n, f) => n + 1 + go.returnOffsets(f).length, 0);
    t.true(await waitFor(() => linkCount(processKernelIds(tracer.child.pid!)) === probes, 30_000), `all ${probes} uprobes attached`);
    app = run(bin, ["12"]);
    browser = await launching;
    const page = await browser.open(tracer.url);
    const s = await waitForPage(page, (x) => x.gcCycles >= 3 && x.created >= 20 && x.frames >= 8, 25_000);
    t.is(s.status, "live");
    t.true(s.source.includes(bin), `the page names the binary: ${s.source}`);
    t.true(s.gcCycles >= 3 && s.gcRows >= 3, `GC cycles shown: ${s.gcCycles}, table rows ${s.gcRows}`);
    t.true(s.created >= 20 && s.live > 0 && s.events > 100, `goroutines: ${s.live} live, ${s.created} created; ${s.events} events`);
    t.regex(s.allocRate, /^[1-9][\d.]* (B|KiB|MiB|GiB)\/s$/, "an allocation rate");
    t.regex(s.readRate, /\/s$/, "the reader's rate");
    t.regex(s.probeCost, /^\d+ ns\/run$/, "the probes' cost");
    t.true(s.rows.length > 0 && s.rows.every((r) => r.pid === app!.child.pid), "every row is a goroutine of the program");
    t.true(s.rows.some((r) => r.fn === "main.main.func3"), "the batch goroutines, named by the function they run");

    const png = await page.screenshot();
    const shot = join(cacheDir, "gotrace-live.png");
    writeFileSync(shot, png);
    const ink = await timelineInk(page, png);
    t.log(`screenshot ${shot} (${ink.size}): ${(100 * ink.share).toFixed(1)}% of the timeline drawn, ${ink.running} running px, ${ink.waiting} waiting px`);
    t.true(ink.share > 0.02, "the timeline is drawn, not only the page around it");
    t.true(ink.running > 50 && ink.waiting > 50, "running and waiting bars in their colours");
    t.true(ink.firstBar < 0.5, `the timeline spans the trace, younger than the 10 s window: the first bar starts at ${(100 * ink.firstBar).toFixed(0)}% of its width`);

    t.is(await app.exited, 0);
    const after = await waitForPage(page, (x) => x.live === 0, 5000);
    t.is(after.live, 0, "the program's exit ends its goroutines on the page");
    t.true(after.exited >= after.created, `exited ${after.exited} ≥ created ${after.created}`);

    tracer.child.kill("SIGINT");
    t.is(await tracer.exited, 0, tracer.stderr());
    const lines = readFileSync(recording, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    t.like(lines[0], { gotrace: 1, binary: bin, goVersion: go.version });
    const of = (event: string) => lines.filter((l) => l.event === event);
    t.true(of("gc-start").length >= after.gcCycles, "every GC cycle the page counted is in the recording");
    t.is(of("newproc").filter((l) => l.pid === app!.child.pid).length, after.created, "so is every goroutine creation");
    t.true(of("chansend").length > 0 && of("mallocgc").length > 0 && of("reader").length > 5);
    t.deepEqual(of("exit").map((l) => l.pid), [app.child.pid], "the program's exit");
    writeFileSync(join(cacheDir, "golive.jsonl"), readFileSync(recording));
  } finally {
    tracer.child.kill("SIGINT");
    app?.child.kill();
    await browser?.close();
    if (!browser) await launching.then((b) => b.close(), () => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("gotrace --replay plays a recording into the same page, which ends with the recording's totals", async (t) => {
  if (!(await requireFeature(t, "root", "uprobe", "ringbuf", "go", "btf"))) return;
  const browserPath = await chromium(t);
  if (!browserPath) return;
  const bin = buildGo("gochan", goSource("gochan/main.go"));
  const dir = mkdtempSync(join(tmpdir(), "gotrace-replay-"));
  const recording = join(dir, "gochan.jsonl");
  const launching = Browser.launch(browserPath);
  let browser: Browser | undefined;
  try {
    // Record a short program: 3 workers, 40 jobs, 4 forced GC cycles.
    const tracer = run(process.execPath, [cli, "--binary", bin, "--record", recording, "--duration", "60"]);
    t.true(await waitFor(() => linkCount(processKernelIds(tracer.child.pid!)) > 10, 30_000), "uprobes attached");
    const app = run(bin, ["3", "40", "4"], { stdin: "pipe" });
    app.child.stdin!.end("go\n");
    t.is(await app.exited, 0);
    await sleep(600); // a tick notices the exit
    tracer.child.kill("SIGINT");
    t.is(await tracer.exited, 0);
    const lines = readFileSync(recording, "utf8").trim().split("\n").map((l) => JSON.parse(l) as GoRecord);
    const mine = lines.slice(1).filter((l) => l.pid === app.child.pid);
    t.is(mine.filter((l) => l.event === "gc-start" && l.trigger === "forced").length, 4);

    const replay = await serve(t, ["--replay", recording, "--duration", "60"]);
    try {
      browser = await launching;
      const page = await browser.open(replay.url);
      const s = await waitForPage(page, (x) => x.status === "replay finished", 30_000);
      t.is(s.status, "replay finished");
      t.true(s.source.startsWith(`replay of ${recording}`), s.source);
      // The page replays the whole recording: other processes of the same binary (another test's)
      // may be in it beside this one.
      const all = (event: string) => lines.slice(1).filter((l) => l.event === event).length;
      t.is(s.gcCycles, all("gc-start"), "the page's GC cycles are the recording's");
      t.is(s.created, all("newproc"), "and its goroutine creations");
      t.is(s.events, lines.slice(1).filter((l) => l.event !== "reader" && l.event !== "exit").length, "every event replayed");
      t.is(s.live, 0, "the program exited in the recording");
      t.true(s.gcRows >= 4);
      const png = await page.screenshot();
      writeFileSync(join(cacheDir, "gotrace-replay.png"), png);
      const ink = await timelineInk(page, png);
      const markers = await allocGcMarkers(page, png);
      t.log(`replay screenshot: ${(100 * ink.share).toFixed(1)}% of the timeline drawn, first bar at ${(100 * ink.firstBar).toFixed(0)}% of its width; ${markers} GC markers on the allocation chart`);
      t.true(ink.ink > 500, "the replayed goroutines are drawn");
      t.true(ink.firstBar < 0.5, "over the recording's time, not squeezed into the right of a 10 s window");
      t.true(markers >= 4, `the allocation chart marks the forced GC cycles (${markers} markers)`);
    } finally {
      replay.child.kill("SIGINT");
      t.is(await replay.exited, 0);
    }
  } finally {
    await (browser ?? (await launching.catch(() => undefined)))?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("gotrace --serve, --record and --replay refuse bad usage before tracing anything", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gotrace-usage-"));
  try {
    const fail = (args: string[]) => execFileP(process.execPath, [cli, ...args]).then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => e);
    const existing = join(dir, "kept.jsonl");
    writeFileSync(existing, "mine\n");
    const r1 = await fail(["--binary", "/bin/true", "--record", existing]);
    t.is(r1.code, 2);
    t.regex(r1.stderr, /--record .*kept\.jsonl: the file exists; refusing to overwrite it/);
    t.is(readFileSync(existing, "utf8"), "mine\n", "the file is untouched");
    const r2 = await fail(["--binary", "/bin/true", "--serve", "localhost:http"]);
    t.is(r2.code, 2);
    t.regex(r2.stderr, /--serve: expected ADDR:PORT/);
    const r3 = await fail(["--replay", existing, "--binary", "/bin/true"]);
    t.is(r3.code, 2);
    t.regex(r3.stderr, /--binary cannot be used with --replay/);
    const r4 = await fail(["--replay", existing]);
    t.is(r4.code, 1);
    t.regex(r4.stderr, /kept\.jsonl:1: not a JSON object/);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    writeFileSync(join(dir, "empty.jsonl"), JSON.stringify({ gotrace: 1, binary: "/x", groups: [], mallocSampling: 1, startNs: 0, time: "" }) + "\n");
    const r6 = await fail(["--replay", join(dir, "empty.jsonl"), "--serve", `127.0.0.1:${(busy.address() as AddressInfo).port}`]);
    busy.close();
    t.is(r6.code, 1);
    t.regex(r6.stderr, /^gotrace: --serve 127\.0\.0\.1:\d+: address already in use\n$/);
    const r5 = await fail(["--replay", join(dir, "missing.jsonl")]);
    t.is(r5.code, 1);
    t.regex(r5.stderr, /--replay .*missing\.jsonl: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
