#!/usr/bin/env node
// gotrace: the Go runtime of an unmodified Go program seen from outside — goroutine creation, state
// changes and heap allocations, with goroutine ids — through uprobes on runtime.newproc1,
// runtime.casgstatus and runtime.mallocgc (amd64, Go ≥ 1.17 register ABI).

import { type CliSpec, drain, intOption, main, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { clock } from "../lib/format.js";
import { GoBinary, go119Offsets, goroutineStatus } from "../lib/go-binary.js";
import { GotraceEventKind, loadGotrace, type GotraceEvent } from "./gotrace.js";

/** --events names → event kinds (the C enum event_kind, generated as GotraceEventKind). */
const EventKind = { newproc: GotraceEventKind.EVENT_NEWPROC, casgstatus: GotraceEventKind.EVENT_CASGSTATUS, mallocgc: GotraceEventKind.EVENT_MALLOCGC } as const;

const spec = {
  name: "gotrace",
  summary: "Trace a Go program's goroutines and allocations: goroutine creation, state changes, mallocgc.",
  options: {
    binary: { type: "string", short: "b", value: "PATH", description: "the Go executable to probe (required)" },
    pid: { type: "string", short: "p", value: "PID", description: "only this process of that executable" },
    events: { type: "string", short: "e", value: "LIST", description: "comma-separated: newproc,casgstatus,mallocgc (default: all)" },
    "sample-malloc": { type: "string", value: "N", description: "report one mallocgc in N (default 1: all)" },
    "sample-casgstatus": { type: "string", value: "N", description: "report one casgstatus in N (default 1: all)" },
    "min-alloc": { type: "string", value: "BYTES", description: "only allocations of at least BYTES" },
    "goid-offset": { type: "string", value: "BYTES", description: `offset of goid in runtime.g (default ${go119Offsets.goid}, Go 1.17–1.20)` },
  },
  examples: ["gotrace --binary ./server --events newproc", "gotrace -b ./app --min-alloc 65536 --json"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const path = stringOption(v, "binary");
  if (!path) throw new UsageError("--binary is required: the Go executable to probe");
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const minAlloc = intOption(v, "min-alloc", 0);
  const goidOffset = intOption(v, "goid-offset", 0, 4096);
  const wanted = new Set((stringOption(v, "events") ?? "newproc,casgstatus,mallocgc").split(",").map((s) => s.trim()));
  for (const w of wanted) if (!(w in EventKind)) throw new UsageError(`--events: unknown event ${JSON.stringify(w)} (newproc, casgstatus, mallocgc)`);

  const go = new GoBinary(path);
  if (goidOffset === undefined && go.version && !/^go1\.(1[7-9]|20)(\.|$)/.test(go.version)) {
    process.stderr.write(`gotrace: ${path} is ${go.version}; goroutine ids assume Go 1.17–1.20 layouts (pass --goid-offset)\n`);
  }
  const objs = await loadGotrace({
    constants: { goidOffset: goidOffset ?? go119Offsets.goid, ...(pid !== undefined && { targPid: pid }), ...(minAlloc !== undefined && { minAllocSize: BigInt(minAlloc) }) },
  });
  try {
    objs.maps.sampling.set(EventKind.mallocgc, intOption(v, "sample-malloc", 1, 2 ** 32 - 1) ?? 1);
    objs.maps.sampling.set(EventKind.casgstatus, intOption(v, "sample-casgstatus", 1, 2 ** 32 - 1) ?? 1);
    // Every process running the binary; targPid filters in the kernel (a pid-bound uprobe would need
    // ptrace access to the process: CAP_SYS_PTRACE against a root target).
    const attachTo = (symbol: string) => ({ path, symbol });
    if (wanted.has("newproc")) {
      // Entry notes the creator; each RET reports the new goroutine with its id (uretprobes break Go).
      objs.programs.handleNewproc1.attach(attachTo("runtime.newproc1"));
      for (const offset of go.returnOffsets("runtime.newproc1")) objs.programs.handleNewproc1Return.attach({ ...attachTo("runtime.newproc1"), offset });
    }
    if (wanted.has("casgstatus")) objs.programs.handleCasgstatus.attach(attachTo("runtime.casgstatus"));
    if (wanted.has("mallocgc")) objs.programs.handleMallocgc.attach(attachTo("runtime.mallocgc"));

    // PCs are run-time addresses. Each event carries the run-time address of the probed function, so
    // the load base of a position-independent binary is known even after the process has exited.
    const probed = { [EventKind.newproc]: go.func("runtime.newproc1").address, [EventKind.casgstatus]: go.func("runtime.casgstatus").address, [EventKind.mallocgc]: go.func("runtime.mallocgc").address };
    const fn = (e: GotraceEvent, pc: bigint) => go.elf.functionAt(pc - (e.funcIp - probed[e.kind]))?.name ?? `0x${pc.toString(16)}`;
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"GOID".padStart(6)} ${"EVENT".padEnd(10)} DETAIL`);
    const print = (e: GotraceEvent): void => {
      let detail: Record<string, unknown>;
      let text: string;
      let kind: string;
      if (e.kind === EventKind.newproc) {
        kind = "newproc";
        detail = { newGoid: e.newGoid, fn: fn(e, e.arg), caller: fn(e, e.pc) };
        text = `go ${detail.fn} -> goroutine ${e.newGoid} (from ${detail.caller})`;
      } else if (e.kind === EventKind.casgstatus) {
        kind = "casgstatus";
        detail = { from: goroutineStatus(e.oldStatus), to: goroutineStatus(e.newStatus) };
        text = `${detail.from} -> ${detail.to}`;
      } else {
        kind = "mallocgc";
        detail = { size: e.arg, type: `0x${e.pc.toString(16)}` };
        text = `${e.arg} bytes`;
      }
      if (v.json) out(toJson({ time: new Date().toISOString(), pid: e.pid, tid: e.tid, goid: e.goid, event: kind, ...detail }));
      else out(`${clock()} ${String(e.pid).padEnd(7)} ${String(e.goid).padStart(6)} ${kind.padEnd(10)} ${text}`);
    };
    objs.maps.events.onEvent(print);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "Go runtime events");
    await untilStopped(duration);
    drain(objs.maps.events, print);
    stopLost();
  } finally {
    objs.close();
  }
});
