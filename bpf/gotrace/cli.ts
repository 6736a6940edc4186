#!/usr/bin/env node
// gotrace: the Go runtime of an unmodified Go program seen from outside — goroutine creation, state
// changes, heap allocations, GC cycles and channel operations, with goroutine ids — through uprobes
// on runtime functions (amd64, Go ≥ 1.17 register ABI). `--serve` shows it live on a web page,
// `--record` keeps the event stream as JSON lines and `--replay` plays such a file back.

import { existsSync } from "node:fs";
import type { WriteStream } from "node:fs";
import { type CliSpec, drain, intOption, main, numberOption, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { GoBinary, go119Offsets } from "../lib/go-binary.js";
import { GotraceEventKind, gotraceMetrics, loadGotrace, type GotraceEvent, type GotraceObjects } from "./gotrace.js";
import { LiveModel, type ReaderStats } from "./live.js";
import { attachGotrace, describe, type EventGroup, eventGroups, type GoRecord, Recorder } from "./probes.js";
import { createRecording, openRecording, type RecordedLine, type RecordingHeader, Replayer } from "./recording.js";
import { LiveServer, parseListen } from "./serve.js";

const spec = {
  name: "gotrace",
  summary: "Trace a Go program's runtime: goroutine creation and state changes, allocations, GC cycles, channel operations.",
  options: {
    binary: { type: "string", short: "b", value: "PATH", description: "the Go executable to probe (required, except with --replay)" },
    pid: { type: "string", short: "p", value: "PID", description: "only this process of that executable" },
    events: { type: "string", short: "e", value: "LIST", description: `comma-separated: ${eventGroups.join(",")} (default: all)` },
    "sample-malloc": { type: "string", value: "N", description: "report one mallocgc in N (default 1: all)" },
    "sample-casgstatus": { type: "string", value: "N", description: "report one casgstatus in N (default 1: all)" },
    "sample-chan": { type: "string", value: "N", description: "report one channel operation in N (default 1: all)" },
    "min-alloc": { type: "string", value: "BYTES", description: "only allocations of at least BYTES" },
    "goid-offset": { type: "string", value: "BYTES", description: `offset of goid in runtime.g (default ${go119Offsets.goid}, Go 1.17–1.20)` },
    serve: { type: "string", value: "ADDR:PORT", description: "serve a live page of the program at http://ADDR:PORT/ (port 0: any free port)" },
    record: { type: "string", value: "FILE", description: "also write the event stream to FILE as JSON lines (a new file)" },
    replay: { type: "string", value: "FILE", description: "play back a --record file instead of tracing (into the page with --serve)" },
    speed: { type: "string", value: "X", description: "replay speed factor (default 1: as recorded)" },
  },
  examples: [
    "gotrace --binary ./server --events newproc,gc",
    "gotrace -b ./app --min-alloc 65536 --json",
    "gotrace -b ./app --serve 127.0.0.1:8080 --record app.jsonl",
    "gotrace --replay app.jsonl --serve 127.0.0.1:8080",
  ],
} satisfies CliSpec;

/** Live-view frames per second: a page redraws at this pace whatever the event rate. */
const TICK_MS = 250;

/** Where records go: stdout (text or JSON), a recording, the live model. */
type Sink = (r: RecordedLine) => void;

function printer(json: boolean): Sink {
  if (!json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"GOID".padStart(6)} ${"EVENT".padEnd(14)} DETAIL`);
  return (r) => {
    if (r.event === "reader") return;
    const g = r as GoRecord;
    if (json) out(toJson({ time: new Date().toISOString(), ...g }));
    else out(`${clock()} ${String(g.pid).padEnd(7)} ${String(g.goid).padStart(6)} ${g.event.padEnd(14)} ${describe(g)}`);
  };
}

/** Serves the page for `model`, ticking frames out; returns a stop function. */
async function serveModel(where: Listen, model: LiveModel, hello: object, nowNs: () => number, beforeTick?: () => void): Promise<{ server: LiveServer; stop: () => Promise<void> }> {
  const server = await LiveServer.listen(where.host, where.port, () => [hello, model.snapshot(model.ms(nowNs()))]);
  process.stderr.write(`gotrace: serving ${server.url} (Ctrl-C to stop)\n`);
  const timer = setInterval(() => {
    beforeTick?.();
    server.broadcast(model.frame(model.ms(nowNs())));
  }, TICK_MS);
  return {
    server,
    stop: async () => {
      clearInterval(timer);
      await server.close();
    },
  };
}

type Listen = ReturnType<typeof parseListen>;

function listenOption(v: ReturnType<typeof parseCli>): Listen | undefined {
  const spec = stringOption(v, "serve");
  try {
    return spec === undefined ? undefined : parseListen(spec);
  } catch (e) {
    throw new UsageError(`--serve: ${(e as Error).message}`);
  }
}

const closeStream = (s: WriteStream | undefined) => (s ? new Promise<void>((resolve, reject) => s.end((e?: Error | null) => (e ? reject(e) : resolve()))) : Promise.resolve());

async function replayMain(file: string, v: ReturnType<typeof parseCli>, duration: number | undefined): Promise<void> {
  const speed = numberOption(v, "speed") ?? 1;
  if (!(speed > 0)) throw new UsageError("--speed: must be more than 0");
  const listen = listenOption(v);
  const { header, lines } = await openRecording(file);
  const model = new LiveModel({ mallocSampling: header.mallocSampling });
  model.start(header.startNs);
  const sinks: Sink[] = [];
  if (v.json || !listen) sinks.push(printer(v.json === true));
  if (!listen) {
    // Without a page there is nothing to pace for: print the recording as fast as it reads.
    for await (const line of lines) for (const s of sinks) s(line);
    return;
  }
  const replayer = new Replayer(header.startNs, speed);
  sinks.push((r) => model.add(r));
  const hello = { type: "hello", mode: "replay", file, binary: header.binary, goVersion: header.goVersion, pid: header.pid, groups: header.groups, mallocSampling: header.mallocSampling };
  const { server, stop } = await serveModel(listen, model, hello, () => replayer.nowNs);
  const stopping = new AbortController();
  const played = replayer.play(lines, (l) => sinks.forEach((s) => s(l)), stopping.signal).then((n) => {
    setTimeout(() => server.broadcast({ type: "end", records: n }), TICK_MS + 50); // after the last frame
    process.stderr.write(`gotrace: replayed ${n} records from ${file}\n`);
  });
  await untilStopped(duration);
  stopping.abort();
  await played;
  await stop();
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const replay = stringOption(v, "replay");
  if (replay) {
    for (const o of ["binary", "pid", "record", "events"]) if (v[o] !== undefined) throw new UsageError(`--${o} cannot be used with --replay`);
    return replayMain(replay, v, duration);
  }
  if (v.speed !== undefined) throw new UsageError("--speed is for --replay");
  const path = stringOption(v, "binary");
  if (!path) throw new UsageError("--binary is required: the Go executable to probe");
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const minAlloc = intOption(v, "min-alloc", 0);
  const goidOffset = intOption(v, "goid-offset", 0, 4096);
  const sampling = (name: string) => intOption(v, name, 1, 2 ** 32 - 1) ?? 1;
  const mallocSampling = sampling("sample-malloc");
  const groups = new Set((stringOption(v, "events") ?? eventGroups.join(",")).split(",").map((s) => s.trim())) as Set<EventGroup>;
  for (const g of groups) if (!eventGroups.includes(g)) throw new UsageError(`--events: unknown event ${JSON.stringify(g)} (${eventGroups.join(", ")})`);
  const listen = listenOption(v);
  const recordFile = stringOption(v, "record");
  if (recordFile && existsSync(recordFile)) throw new UsageError(`--record ${recordFile}: the file exists; refusing to overwrite it (remove it or pick another name)`);

  const go = new GoBinary(path);
  if (goidOffset === undefined && go.version && !/^go1\.(1[7-9]|20)(\.|$)/.test(go.version)) {
    process.stderr.write(`gotrace: ${path} is ${go.version}; goroutine ids assume Go 1.17–1.20 layouts (pass --goid-offset)\n`);
  }
  const objs: GotraceObjects = await loadGotrace({
    constants: { goidOffset: goidOffset ?? go119Offsets.goid, ...(pid !== undefined && { targPid: pid }), ...(minAlloc !== undefined && { minAllocSize: BigInt(minAlloc) }) },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, gotraceMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  let recording: WriteStream | undefined;
  let live: Awaited<ReturnType<typeof serveModel>> | undefined;
  let ticks: NodeJS.Timeout | undefined;
  let finalTick: (() => void) | undefined;
  try {
    objs.maps.sampling.set(GotraceEventKind.EVENT_MALLOCGC, mallocSampling);
    objs.maps.sampling.set(GotraceEventKind.EVENT_CASGSTATUS, sampling("sample-casgstatus"));
    objs.maps.sampling.set(GotraceEventKind.EVENT_CHAN_SEND, sampling("sample-chan"));
    objs.maps.sampling.set(GotraceEventKind.EVENT_CHAN_RECV, sampling("sample-chan"));
    attachGotrace(objs, go, groups); // every process of the binary: targPid filters in the kernel

    const startNs = Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns
    const header: RecordingHeader = { gotrace: 1, binary: path, ...(go.version && { goVersion: go.version }), ...(pid !== undefined && { pid }), groups: [...groups], mallocSampling, startNs, time: new Date().toISOString() };
    const sinks: Sink[] = [];
    if (v.json || !listen) sinks.push(printer(v.json === true));
    if (recordFile) {
      recording = await createRecording(recordFile, header);
      const file = recording;
      sinks.push((r) => file.write(JSON.stringify(r) + "\n"));
    }
    const model = new LiveModel({ mallocSampling });
    model.start(startNs);
    const recorder = new Recorder(go);
    let processed = 0;
    const pids = new Set<number>();
    /** Processes found gone, and when: their exit records wait until the ring is read up. */
    const gone = new Map<number, number>();
    const handle = observed((e: GotraceEvent): void => {
      const r = recorder.record(e);
      pids.add(r.pid);
      for (const s of sinks) s(r);
      processed++;
    }, metrics.observer("events"));
    if (listen || recordFile) {
      // Every tick: the reader's own counters, and the exits of traced processes, into the stream.
      const probeTotals = () => {
        let runs = 0n;
        let ns = 0n;
        for (let k = 0; k < objs.maps.probeStats.length; k++) for (const s of objs.maps.probeStats.get(k) ?? []) (runs += s.runs, (ns += s.ns));
        return { probeRuns: Number(runs), probeNs: Number(ns) };
      };
      const tick = () => {
        const tsNs = Number(process.hrtime.bigint());
        const events = objs.maps.events;
        const stats: ReaderStats = { event: "reader", tsNs, read: events.eventsRead, processed, queuedBytes: events.pending, lost: Number(objs.variables.lostEvents.get()), ...probeTotals() };
        for (const s of sinks) s(stats);
        for (const p of pids) if (!existsSync(`/proc/${p}`)) (pids.delete(p), gone.set(p, tsNs));
        // A process's exit goes into the stream after its last events: once the ring holds no more.
        if (gone.size > 0 && events.pending === 0) {
          for (const [p, at] of gone) {
            const exit: GoRecord = { event: "exit", tsNs: at, pid: p, tid: 0, goid: 0 };
            for (const s of sinks) s(exit);
          }
          gone.clear();
        }
      };
      finalTick = tick;
      if (listen) {
        sinks.push((r) => model.add(r));
        const hello = { type: "hello", mode: "live", binary: path, goVersion: go.version, pid, groups: [...groups], mallocSampling };
        live = await serveModel(listen, model, hello, () => Number(process.hrtime.bigint()), tick);
      } else ticks = setInterval(tick, TICK_MS);
    }
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "Go runtime events");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    finalTick?.(); // the last counters, and the exits seen now that the ring is read up
    stopLost();
  } finally {
    clearInterval(ticks);
    await live?.stop();
    await closeStream(recording);
    await metrics.close();
    objs.close();
  }
});
