// Event readers on the live kernel: ring buffers (read from their mmapped pages) and perf buffers.
// Producers: SEC("syscall") and raw_tp programs run with BPF_PROG_TEST_RUN (from this thread, or from
// a child process for a producer running concurrently with the reader) and exec tracepoints fired by
// real child processes. Every test checks payloads, order (sequence numbers) and counts.

import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type BpfObject, codecs, EventReaderError, LE, loadObject, PerfEventArray, RingBuf, type Struct,
} from "@bpf2ts/runtime";
import { buildC, compileBpf, descriptor, openFdCount, repoRoot, requireFeature, waitedForCpuMs } from "./helpers/kernel.js";

const CHECK_MUL = 0x9e3779b97f4a7c15n;
const check = (seq: bigint) => BigInt.asUintN(64, seq * CHECK_MUL);
const KIND_PRODUCED = 1;
const KIND_EXEC = 2;
const F_DISCARD_ODD = 1;
const F_VARLEN = 2;
const BPF_F_TEST_RUN_ON_CPU = 1;

/** `struct ev_event` of events-ringbuf.bpf.c, written as generated code would be. */
interface Event {
  seq: bigint;
  pid: number;
  kind: number;
  comm: string;
  check: bigint;
}
const Event: Struct<Event> = {
  name: "ev_event",
  size: 40,
  align: 8,
  fields: { seq: { offset: 0, size: 8 }, pid: { offset: 8, size: 4 }, kind: { offset: 12, size: 4 }, comm: { offset: 16, size: 16 }, check: { offset: 32, size: 8 } },
  decode: (v, o = 0) => ({
    seq: v.getBigUint64(o, LE),
    pid: v.getUint32(o + 8, LE),
    kind: v.getUint32(o + 12, LE),
    comm: codecs.cstring(v, o + 16, 16),
    check: v.getBigUint64(o + 32, LE),
  }),
  encode: (x, v, o = 0) => {
    v.setBigUint64(o, x.seq, LE);
    v.setUint32(o + 8, x.pid, LE);
    v.setUint32(o + 12, x.kind, LE);
    codecs.setCstring(v, o + 16, 16, x.comm);
    v.setBigUint64(o + 32, x.check, LE);
  },
  view: (v, o = 0) => ({
    get seq() { return v.getBigUint64(o, LE); },
    get pid() { return v.getUint32(o + 8, LE); },
    get kind() { return v.getUint32(o + 12, LE); },
    get comm() { return codecs.cstring(v, o + 16, 16); },
    get check() { return v.getBigUint64(o + 32, LE); },
  }),
};

/** `struct ev_sample` of events-perf.bpf.c. */
interface Sample extends Event {
  cpu: number;
}
const Sample: Struct<Sample> = {
  name: "ev_sample",
  size: 48,
  align: 8,
  fields: { ...Event.fields, cpu: { offset: 40, size: 4 } },
  decode: (v, o = 0) => ({ ...Event.decode(v, o), cpu: v.getUint32(o + 40, LE) }),
  encode: (x, v, o = 0) => {
    Event.encode(x, v, o);
    v.setUint32(o + 40, x.cpu, LE);
  },
  view: (v, o = 0) => Sample.decode(v, o),
};

const ringObject = (programs: string[]) =>
  loadObject(
    descriptor("evring", compileBpf("events-ringbuf.bpf.c"), {
      programs: {
        produce: { name: "produce", section: "syscall", kind: "syscall" },
        onExec: { name: "on_exec", section: "tracepoint/sched/sched_process_exec", kind: "tracepoint" },
      },
      maps: { events: { name: "events", type: "ringbuf", value: Event } },
    }),
    { programs },
  );

const perfObject = (programs: string[]) =>
  loadObject(
    descriptor("evperf", compileBpf("events-perf.bpf.c"), {
      programs: {
        flood: { name: "flood", section: "raw_tp/sys_enter", kind: "raw_tp" },
        onExec: { name: "on_exec", section: "tracepoint/sched/sched_process_exec", kind: "tracepoint" },
      },
      maps: { samples: { name: "samples", type: "perf_event_array", value: Sample } },
    }),
    { programs },
  );

/** Runs `produce` once: up to `n` events; returns how many were submitted and whether the ring filled. */
function produce(obj: BpfObject, n: number, flags = 0): { done: number; stalled: boolean } {
  const ctx = new Uint8Array(24);
  const v = new DataView(ctx.buffer);
  v.setUint32(0, n, LE);
  v.setUint32(4, flags, LE);
  obj.programs.produce!.testRun({ ctx }); // a syscall program's context is copied back in place
  return { done: Number(v.getBigUint64(8, LE)), stalled: v.getUint32(16, LE) !== 0 };
}

/** Runs `flood` on `cpu`: `n` perf samples; returns how many outputs the kernel refused. */
function flood(obj: BpfObject, n: number, cpu: number): number {
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setBigUint64(0, BigInt(n), LE);
  return obj.programs.flood!.testRun({ ctx, flags: BPF_F_TEST_RUN_ON_CPU, cpu }).retval;
}

/** A producer process: runs the inherited `produce` program (fd 3) until `total` events are in the ring. */
const producerSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/prctl.h>
#include <signal.h>
#include <bpf/bpf.h>
struct produce_args { __u32 n, flags; __u64 done; __u32 stalled, pad; };
int main(int argc, char **argv) {
  unsigned long long left = strtoull(argv[1], NULL, 0), stalls = 0;
  unsigned batch = atoi(argv[2]), flags = atoi(argv[3]);
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test process */
  while (left > 0) {
    struct produce_args a;
    memset(&a, 0, sizeof(a));
    a.n = left < batch ? left : batch;
    a.flags = flags;
    LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));
    if (bpf_prog_test_run_opts(3, &o)) { perror("bpf_prog_test_run_opts"); return 1; }
    left -= a.done;
    if (a.stalled) { stalls++; usleep(100); } /* ring full: let the reader catch up */
  }
  printf("%llu\\n", stalls);
  return 0;
}
`;

/**
 * Runs `produce` from another process (another CPU, truly concurrent with this thread's reader)
 * until `total` events were submitted, retrying while the ring is full.
 */
function producerProcess(progFd: number, total: number, opts: { batch?: number; flags?: number } = {}) {
  const bin = buildC("events-producer", producerSource, ["-lbpf"]);
  const child = spawn(bin, [String(total), String(opts.batch ?? 4096), String(opts.flags ?? 0)], {
    stdio: ["ignore", "pipe", "inherit", progFd],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ stalls: number; code: number | null }>((resolve) => {
    child.once("exit", (code) => resolve({ stalls: Number(out.trim()), code }));
  });
  return {
    done,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await done;
    },
  };
}

/** Spawns `/bin/true` `n` times, one after the other; returns the children's pids. */
async function spawnTrue(n: number): Promise<number[]> {
  const pids: number[] = [];
  for (let i = 0; i < n; i++) {
    const child = spawn("/bin/true", { stdio: "ignore" });
    pids.push(child.pid!);
    await new Promise((resolve) => child.once("exit", resolve));
  }
  return pids;
}

const ownComm = () => readFileSync("/proc/self/comm", "utf8").trim();
const ringMappings = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("bpf-map")).length;

// ---- ring buffer ---------------------------------------------------------------------------------

test("ringbuf: every event arrives once, in order, with its payload", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    t.is(rb.size, 256 * 1024);
    t.is(rb.consume().length, 0, "nothing before the first run");
    t.deepEqual(produce(obj, 1000), { done: 1000, stalled: false });
    t.is(rb.pending, 1000 * 48, "40-byte events take 48 bytes with their header");
    const events = rb.consume();
    t.is(events.length, 1000);
    const comm = ownComm();
    const bad = events.filter((e, i) => e.seq !== BigInt(i) || e.check !== check(e.seq) || e.pid !== process.pid || e.kind !== KIND_PRODUCED || e.comm !== comm);
    t.deepEqual(bad, []);
    t.is(rb.pending, 0);
    t.is(rb.eventsRead, 1000);

    // A full ring: the program sees the failed reservation (bpf_ringbuf_reserve returns NULL); the
    // reader gets exactly the events that fit, and the next run continues the numbering.
    const full = produce(obj, 10000);
    t.true(full.stalled);
    t.is(full.done, Math.floor((256 * 1024) / 48));
    const more = rb.consume();
    t.is(more.length, full.done);
    t.is(more[0]!.seq, 1000n);
    t.is(more.at(-1)!.seq, BigInt(1000 + full.done - 1));
  } finally {
    obj.close();
  }
});

test("ringbuf: a concurrent producer's 300k events arrive in order, many per wakeup", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  const total = 300_000;
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    let next = 0n;
    let wrong = 0;
    const all = new Promise<void>((resolve) => {
      rb.onEvent((e) => {
        if (e.seq !== next || e.check !== check(e.seq)) wrong++;
        next = e.seq + 1n;
        if (rb.eventsRead === total) resolve(); // eventsRead includes the current event
      });
    });
    const producer = producerProcess(obj.programs.produce!.fd, total);
    t.teardown(() => producer.stop());
    await all;
    const { stalls, code } = await producer.done;
    t.is(code, 0);
    t.is(wrong, 0, "no gap, duplicate or corrupted payload");
    t.is(rb.eventsRead, total);
    const perWakeup = rb.eventsRead / rb.wakeups;
    t.log(`${total} events in ${rb.wakeups} wakeups (${perWakeup.toFixed(1)} per wakeup), producer hit a full ring ${stalls} times`);
    t.true(perWakeup > 4, "events are delivered in batches, not one wakeup each");
    rb.stop();
    t.is(rb.consume().length, 0, "nothing left behind");
  } finally {
    obj.close();
  }
});

test("ringbuf: onRecord hands records over in place, without decoding", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    const seqs: number[] = [];
    let wrong = 0;
    const done = new Promise<void>((resolve) => {
      rb.onRecord((data, offset, length) => {
        const seq = Number(data.getBigUint64(offset + Event.fields.seq!.offset, LE));
        if (length !== Event.size || data.getUint32(offset + Event.fields.pid!.offset, LE) !== process.pid) wrong++;
        seqs.push(seq);
        if (seqs.length === 3000) resolve();
      });
    });
    for (let i = 0; i < 3; i++) produce(obj, 1000);
    await done;
    t.is(wrong, 0);
    t.deepEqual(seqs, Array.from({ length: 3000 }, (_, i) => i));
    // Switching back to decoded events.
    const next = new Promise<Event>((resolve) => rb.onEvent(resolve));
    produce(obj, 1);
    t.is((await next).seq, 3000n);
    t.is(seqs.length, 3000, "the record callback was replaced");
  } finally {
    obj.close();
  }
});

test("ringbuf: batches: onBatch, read({ batch: true }) and batches() hand over every event once", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    const batches: bigint[][] = [];
    const waited0 = waitedForCpuMs();
    const got = new Promise<void>((resolve) => {
      rb.onBatch((events) => {
        batches.push(events.map((e) => e.seq));
        if (batches.flat().length === 500) resolve();
      });
    });
    produce(obj, 200);
    produce(obj, 300);
    await got;
    rb.stop();
    t.deepEqual(batches.flat(), Array.from({ length: 500 }, (_, i) => BigInt(i)));
    // Batches start at 16 events and double while the callback keeps within its turn budget (a slow
    // consumer's shrink instead: events-pacing.test.ts): 16 + 32 + 64 + 128 + 256 ≥ 496. The budget
    // is wall time: a process that waited for a CPU meanwhile (a loaded machine) may see batches
    // shrink, so there only "fewer batches than 16-event ones" is asserted.
    const sizes = batches.map((b) => b.length).join(",");
    const waited = waitedForCpuMs() - waited0;
    if (waited < 1) t.true(batches.length <= 7, `batches grow (${sizes})`);
    else t.true(batches.length < 500 / 16, `batches (${sizes}); this process waited ${waited.toFixed(1)} ms for a CPU meanwhile`);
    t.true(batches.every((b) => b.length <= 512));

    // read({ batch: true }) hands over a batch of the reader's current size, which the turns above
    // may have shrunk on a loaded machine: read batches until the 100 events are in.
    produce(obj, 100);
    const all: bigint[] = [];
    for (let reads = 0; reads < 100 && all.length < 100; reads++) all.push(...(await rb.read({ batch: true })).map((e) => e.seq));
    t.deepEqual(all, Array.from({ length: 100 }, (_, i) => BigInt(500 + i)));

    const ac = new AbortController();
    const seen: bigint[] = [];
    const loop = (async () => {
      for await (const batch of rb.batches({ signal: ac.signal })) {
        seen.push(...batch.map((e) => e.seq));
        if (seen.length === 50) ac.abort();
      }
    })();
    produce(obj, 50);
    await loop;
    t.deepEqual(seen, Array.from({ length: 50 }, (_, i) => BigInt(600 + i)));
  } finally {
    obj.close();
  }
});

test("ringbuf: raw records of every length across the wrap, discarded records skipped", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const typed = obj.maps.events as RingBuf<Event>;
    typed.close();
    const raw = new RingBuf(typed.map);
    // 8..64-byte records; 20000 of them (~0.8 MB) wrap the 256 KiB ring several times.
    let seq = 0;
    let bad = 0;
    for (let round = 0; round < 10; round++) {
      t.false(produce(obj, 2000, F_VARLEN).stalled);
      for (const rec of raw.consume()) {
        const words = new BigUint64Array(rec.buffer, rec.byteOffset, rec.length / 8);
        const ok = rec.length === 8 + (seq % 8) * 8 && words.every((w, k) => w === BigInt(seq + k));
        if (!ok) bad++;
        seq++;
      }
    }
    t.is(seq, 20000);
    t.is(bad, 0);

    // One reader per map at a time.
    t.throws(() => new RingBuf(typed.map), { instanceOf: EventReaderError, message: /another reader of this map is open/ });
    raw.close();

    // Zero-copy views: valid inside the callback.
    t.false(produce(obj, 16, F_VARLEN).stalled);
    const view = new RingBuf(typed.map, undefined, { raw: "view" });
    const lens: number[] = [];
    view.consume((rec) => lens.push(rec.length));
    t.deepEqual(lens, Array.from({ length: 16 }, (_, i) => 8 + ((20000 + i) % 8) * 8));
    view.close();

    // Discarded records are skipped and counted.
    const rb = new RingBuf(typed.map, Event);
    t.false(produce(obj, 100, F_DISCARD_ODD).stalled);
    const events = rb.consume();
    t.deepEqual(events.map((e) => Number(e.seq)), Array.from({ length: 50 }, (_, i) => 20016 + 2 * i));
    t.is(rb.discarded, 50);
    rb.close();
  } finally {
    obj.close();
  }
});

test("ringbuf: exec tracepoint events carry the real pids of spawned children", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "tracepoint", "clang"))) return;
  const obj = await ringObject(["on_exec"]);
  try {
    const links = await obj.attach();
    const rb = obj.maps.events as RingBuf<Event>;
    const spawned = spawnTrue(3);
    const seen = new Map<number, Event>();
    let pids: number[] | undefined;
    spawned.then((p) => (pids = p));
    for await (const e of rb.events({ signal: AbortSignal.timeout(10_000) })) {
      t.is(e.kind, KIND_EXEC);
      t.is(e.check, check(e.seq));
      seen.set(e.pid, e);
      if (pids && pids.every((p) => seen.has(p))) break;
    }
    links.close();
    t.truthy(pids, "children ran");
    for (const pid of pids!) t.is(seen.get(pid)?.comm, "true", `exec of child ${pid} seen with its comm`);
  } finally {
    obj.close();
  }
});

test("ringbuf: close ends iterators and rejects reads; closing the object closes its readers", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  const rb = obj.maps.events as RingBuf<Event>;
  produce(obj, 3);
  const got: bigint[] = [];
  const loop = (async () => {
    for await (const e of rb.events()) got.push(e.seq);
    return "ended";
  })();
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(got, [0n, 1n, 2n], "the iterator got the events already in the ring");
  const read = rb.read();
  rb.close();
  t.is(await loop, "ended");
  await t.throwsAsync(read, { instanceOf: EventReaderError, message: /closed/ });
  t.is(((await read.catch((e: unknown) => e)) as EventReaderError).code, "EBADF");
  t.throws(() => rb.consume(), { name: "EventReaderError" });
  rb.close(); // idempotent
  t.is(rb.pending, 0);

  // The object owns its readers.
  const rb2 = new RingBuf(rb.map, Event);
  const loop2 = (async () => {
    let n = 0;
    for await (const _ of rb2.events()) n++;
    return n;
  })();
  produce(obj, 2);
  await new Promise((r) => setTimeout(r, 50));
  obj.close();
  t.is(await loop2, 2);
  t.true(rb2.closed);
  t.throws(() => new RingBuf(rb.map), { name: "EventReaderError", message: /closed/ });
});

test("ringbuf: AbortSignal rejects read(), ends events() and stops callbacks", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    const timedOut = await rb.read({ signal: AbortSignal.timeout(30) }).then(
      () => "resolved",
      (e: unknown) => (e as DOMException).name,
    );
    t.is(timedOut, "TimeoutError", "read() rejects with the signal's reason");

    const ac = new AbortController();
    const loop = (async () => {
      let n = 0;
      for await (const _ of rb.events({ signal: ac.signal })) n++;
      return n;
    })();
    produce(obj, 5);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    t.is(await loop, 5, "the loop saw the 5 events and ended cleanly on abort");

    const stopper = new AbortController();
    let calls = 0;
    rb.onEvent(() => calls++, { signal: stopper.signal });
    produce(obj, 4);
    await new Promise((r) => setTimeout(r, 50));
    t.is(calls, 4);
    stopper.abort();
    produce(obj, 6);
    await new Promise((r) => setTimeout(r, 50));
    t.is(calls, 4, "no callbacks after abort");
    t.deepEqual(rb.consume().map((e) => e.seq), [9n, 10n, 11n, 12n, 13n, 14n], "the events wait in the ring");
  } finally {
    obj.close();
  }
});

test("ringbuf: closing from a callback while a producer floods the ring does not crash", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "clang"))) return;
  const obj = await ringObject(["produce"]);
  try {
    const typed = obj.maps.events as RingBuf<Event>;
    typed.close();
    const rb = new RingBuf(typed.map, undefined, { raw: "view" });
    const producer = producerProcess(obj.programs.produce!.fd, 1e12);
    t.teardown(() => producer.stop());
    let kept: Uint8Array | undefined;
    let lastSeq = -1n;
    const closedAt = 20_000;
    await new Promise<void>((resolve) => {
      rb.onEvent((rec) => {
        if (rb.eventsRead === closedAt) {
          kept = rec;
          t.is(rec.length, 40);
          lastSeq = new DataView(rec.buffer, rec.byteOffset, rec.byteLength).getBigUint64(0, LE);
          rb.close();
          resolve();
        }
      });
    });
    t.is(rb.eventsRead, closedAt, "nothing delivered after close");
    t.is(kept!.length, 0, "a view kept past close reads as empty (its memory is detached), never unmapped memory");
    t.is((kept as Uint8Array)[0] as number | undefined, undefined);
    t.throws(() => rb.consume(), { name: "EventReaderError" });
    // A second reader opened while the producer keeps writing, closed from outside a callback. It
    // starts right after the record the first one was closed in: nothing handed over comes again.
    const again = new RingBuf(typed.map, Event);
    let n = 0;
    let firstSeq: bigint | undefined;
    again.onEvent((e) => {
      firstSeq ??= e.seq;
      n++;
    });
    // Until it has read for 100 ms, or (on a loaded machine) read anything at all.
    const start = Date.now();
    while ((n === 0 || Date.now() - start < 100) && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 20));
    again.close();
    const after = n;
    await new Promise((r) => setTimeout(r, 50));
    t.is(n, after);
    t.true(n > 0, "the second reader read events");
    t.is(firstSeq, lastSeq + 1n, "the second reader starts after the last record handed over");
    await producer.stop();
  } finally {
    obj.close();
  }
});

test.serial("ringbuf and perf readers: 1000 open/close cycles leak no fds or mappings", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "raw_tp", "clang"))) return;
  const ring = await ringObject(["produce"]);
  const perf = await perfObject(["flood"]);
  try {
    const ringMap = (ring.maps.events as RingBuf<Event>).map;
    const perfMap = (perf.maps.samples as PerfEventArray<Sample>).map;
    (ring.maps.events as RingBuf<Event>).close();
    (perf.maps.samples as PerfEventArray<Sample>).close();
    const cycle = async (i: number) => {
      const rb = new RingBuf(ringMap, Event);
      rb.onEvent(() => undefined);
      if (i % 100 === 0) {
        produce(ring, 10);
        await new Promise((r) => setImmediate(r));
      }
      rb.close();
      const pb = new PerfEventArray(perfMap, Sample, { pagesPerCpu: 1 });
      if (i % 10 === 0) {
        flood(perf, 1, 0);
        t.is(pb.consume().length, 1);
      }
      pb.close();
    };
    for (let i = 0; i < 20; i++) await cycle(i);
    const fds = openFdCount();
    const maps = ringMappings();
    for (let i = 0; i < 1000; i++) await cycle(i);
    await new Promise((r) => setImmediate(r));
    t.is(openFdCount(), fds, "open fds unchanged");
    t.is(ringMappings(), maps, "no ring mappings left behind");
  } finally {
    ring.close();
    perf.close();
  }
});

test("ringbuf: misuse is reported, not crashed on", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "raw_tp", "clang"))) return;
  const obj = await ringObject(["produce"]);
  const perf = await perfObject(["flood"]);
  try {
    const rb = obj.maps.events as RingBuf<Event>;
    const pb = perf.maps.samples as PerfEventArray<Sample>;
    const wrongType = t.throws(() => new RingBuf(pb.map), { instanceOf: EventReaderError });
    t.is(wrongType.code, "EINVAL");
    t.regex(wrongType.message, /samples: map type is perf_event_array, not ringbuf/);
    t.throws(() => new PerfEventArray(rb.map), { instanceOf: EventReaderError, message: /not perf_event_array/ });
    t.throws(() => new PerfEventArray(pb.map, Sample, { pagesPerCpu: 3 }), { instanceOf: RangeError });
    t.throws(() => new RingBuf(rb.map, Event, { maxBatch: 0 }), { instanceOf: RangeError });

    // One way of reading at a time.
    rb.onEvent(() => undefined);
    await t.throwsAsync(rb.read(), { instanceOf: EventReaderError, message: /callbacks are running/ });
    t.throws(() => rb.consume(), { instanceOf: EventReaderError, message: /callbacks are running/ });
    rb.stop();

    // A codec larger than the records: records are never rejected for their length; each comes with it.
    rb.close();
    const tooBig = new RingBuf(rb.map, { ...Event, size: 64 });
    produce(obj, 2);
    const got: [bigint, number][] = [];
    t.is(tooBig.consume((e, length) => got.push([e.seq, length])), 2);
    t.deepEqual(got, [[0n, 40], [1n, 40]], "both records delivered, with their 40 bytes");
    tooBig.close();
  } finally {
    obj.close();
    perf.close();
  }
});

test("readers left open at exit, or stopped and dropped, let the process end cleanly", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "raw_tp", "clang"))) return;
  const dir = mkdtempSync(join(tmpdir(), "bpf2ts-events-"));
  try {
    writeFileSync(join(dir, "ring.o"), compileBpf("events-ringbuf.bpf.c"));
    writeFileSync(join(dir, "perf.o"), compileBpf("events-perf.bpf.c"));
    const script = `
      import { readFileSync } from "node:fs";
      const rt = await import(${JSON.stringify(pathToFileURL(join(repoRoot, "runtime/dist/index.js")).href)});
      const load = (f, p) => rt.loadObject({ name: "x", objects: { le: readFileSync(${JSON.stringify(dir)} + "/" + f) } }, { programs: [p] });
      const ring = await load("ring.o", "produce"), perf = await load("perf.o", "flood");
      const rb = ring.maps.events, pb = perf.maps.samples;
      const ctx = new Uint8Array(24);
      new DataView(ctx.buffer).setUint32(0, 100, true);
      ring.programs.produce.testRun({ ctx });
      let n = 0;
      rb.onEvent(() => n++);
      pb.onEvent(() => n++);
      setTimeout(() => {
        console.log("events " + n);
        if (process.argv[2] === "exit") process.exit(0);
        rb.stop(); // stopped readers must not keep the loop alive; the addon releases them at exit
        pb.stop();
      }, 200);
    `;
    writeFileSync(join(dir, "child.mjs"), script);
    for (const mode of ["exit", "stop"]) {
      const r = spawnSync(process.execPath, [join(dir, "child.mjs"), mode], { encoding: "utf8", timeout: 20_000 });
      t.is(r.status, 0, `${mode}: exit status (stderr: ${r.stderr})`);
      t.is(r.stdout.trim(), "events 100", mode);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- perf buffer ---------------------------------------------------------------------------------

test("perf: samples arrive in order with their payload and CPU", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "test_run", "clang"))) return;
  const obj = await perfObject(["flood"]);
  try {
    const pb = obj.maps.samples as PerfEventArray<Sample>;
    const cpus = Math.min(pb.bufferCount, 2);
    const got: Array<[Sample, number]> = [];
    const done = new Promise<void>((resolve) => {
      pb.onEvent((s, cpu) => {
        got.push([s, cpu]);
        if (got.length === 300 * cpus) resolve();
      });
    });
    for (let cpu = 0; cpu < cpus; cpu++) t.is(flood(obj, 300, cpu), 0, "no output refused");
    await done;
    let bad = 0;
    got.forEach(([s, cpu], i) => {
      const expectCpu = Math.floor(i / 300);
      // (on another CPU the program runs in an IPI, so pid and comm are whatever ran there)
      if (s.seq !== BigInt(i) || s.check !== check(s.seq) || s.cpu !== expectCpu || cpu !== expectCpu || s.kind !== KIND_EXEC - 1) bad++;
    });
    t.is(bad, 0);
    t.is(pb.lost, 0);
    t.true(pb.wakeups <= got.length / 10, `batched: ${got.length} samples in ${pb.wakeups} wakeups`);
  } finally {
    obj.close();
  }
});

test("perf: a flood into tiny buffers reports every lost sample", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "test_run", "clang"))) return;
  const obj = await perfObject(["flood"]);
  try {
    const dflt = obj.maps.samples as PerfEventArray<Sample>;
    dflt.close();
    const pb = new PerfEventArray(dflt.map, Sample, { pagesPerCpu: 1 });
    const reported: Array<[number, number]> = [];
    pb.onLost((cpu, n) => reported.push([cpu, n]));
    const refused = flood(obj, 4000, 0);
    t.true(refused > 0, "one page per CPU cannot hold 4000 samples");
    const received = pb.consume();
    // The kernel writes the LOST record once there is room again: at the next sample.
    t.is(flood(obj, 1, 0), 0);
    received.push(...pb.consume());
    t.log(`4001 samples: ${received.length} received, ${pb.lost} lost`);
    t.is(pb.lost, refused, "lost == outputs the kernel refused");
    t.is(received.length + pb.lost, 4001);
    t.deepEqual(reported, [[0, refused]]);
    t.is(pb.lostByCpu.get(0), refused);
    // Those that arrived are the first ones, then the one after the flood.
    const seqs = received.map((s) => Number(s.seq));
    t.deepEqual(seqs, [...Array.from({ length: received.length - 1 }, (_, i) => i), 4000]);
    pb.close();
  } finally {
    obj.close();
  }
});

test("perf: exec tracepoint samples carry the real pids; close ends the iterator", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "clang"))) return;
  const obj = await perfObject(["on_exec"]);
  try {
    const links = await obj.attach();
    const pb = obj.maps.samples as PerfEventArray<Sample>;
    const seen = new Map<number, Sample>();
    let pids: number[] | undefined;
    spawnTrue(3).then((p) => (pids = p));
    const deadline = setTimeout(() => pb.close(), 10_000);
    for await (const s of pb.events()) {
      t.is(s.kind, KIND_EXEC);
      seen.set(s.pid, s);
      if (pids && pids.every((p) => seen.has(p))) break;
    }
    clearTimeout(deadline);
    links.close();
    t.truthy(pids);
    for (const pid of pids!) t.is(seen.get(pid)?.comm, "true", `exec of child ${pid} seen`);

    const loop = (async () => {
      for await (const _ of pb.events());
      return "ended";
    })();
    setTimeout(() => pb.close(), 20);
    t.is(await loop, "ended");
    t.true(pb.closed);
  } finally {
    obj.close();
  }
});
