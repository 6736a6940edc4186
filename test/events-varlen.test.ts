// Records of any length on the live kernel: test/bpf/varlen.bpf.c submits the first `len` bytes of
// one known `struct vl_event` (96 bytes) to a ring buffer and to a perf event array — a string cut to
// its length, a numeric array cut, records that end before or inside a later scalar, an empty record
// and one longer than the struct. The module is generated from that source by bpf2ts, type-checked
// with tsc --strict and imported; every way of reading must deliver every record with the exact
// values it holds and its length.
import test from "ava";
import { join } from "node:path";
import { type BpfObject, LE, PerfEventArray, recordsOf, RingBuf, type Struct } from "@bpf2ts/runtime";
import { generatedModule } from "./helpers/generated-module.js";
import { repoRoot, requireFeature, vmlinuxDir } from "./helpers/kernel.js";

interface VlEvent {
  seq: bigint;
  len: number;
  pid: number;
  comm: string;
  ts: bigint;
  ports: Uint16Array;
  where: { x: number; y: number };
  args: string;
}
interface VarlenModule {
  VarlenVlEvent: Struct<VlEvent>;
  loadVarlen(opts?: { programs?: string[] }): Promise<BpfObject & { maps: { rb: RingBuf<VlEvent>; pb: PerfEventArray<VlEvent> } }>;
}

const SIZE = 96;
const COMM = "varlen-comm-0123";
const TS = 0x1122334455667788n;
const ARGS = "hello world, how are you today? fine!!!";
const EXTRA = Array.from({ length: 32 }, (_, i) => i * 3 + 1);

/** What each submitted length must decode to (besides seq, len and pid, checked by `expect`). */
const cases: { len: number; want: Partial<Omit<VlEvent, "ports">> & { ports: number[] } }[] = [
  { len: 96, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 9 }, args: ARGS } },
  { len: 128, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 9 }, args: ARGS } }, // longer: tail = EXTRA
  { len: 62, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 9 }, args: "hello " } }, // string cut
  { len: 59, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 9 }, args: "hel" } }, // cut, no NUL
  { len: 56, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 9 }, args: "" } },
  { len: 52, want: { comm: COMM, ts: TS, ports: [80, 443, 8080, 65535], where: { x: -7, y: 0 }, args: "" } }, // inside the nested struct
  { len: 44, want: { comm: COMM, ts: TS, ports: [80, 443], where: { x: 0, y: 0 }, args: "" } }, // array cut
  { len: 43, want: { comm: COMM, ts: TS, ports: [80], where: { x: 0, y: 0 }, args: "" } }, // half an element: dropped
  { len: 36, want: { comm: COMM, ts: 0n, ports: [], where: { x: 0, y: 0 }, args: "" } }, // ends inside ts
  { len: 20, want: { comm: "varl", ts: 0n, ports: [], where: { x: 0, y: 0 }, args: "" } }, // before ts
  { len: 4, want: { comm: "", ts: 0n, ports: [], where: { x: 0, y: 0 }, args: "" } }, // inside seq
  { len: 0, want: { comm: "", ts: 0n, ports: [], where: { x: 0, y: 0 }, args: "" } },
];

/**
 * Perf samples come padded with zero bytes so that, with their 4-byte size header, they end 8-aligned
 * (kernel perf_prepare_sample): the reader sees that length, and the padding reads as zeros.
 */
const perfLength = (len: number): number => ((len + 4 + 7) & ~7) - 4;

/** The whole expected event for a record of `len` bytes whose decoder saw `n` bytes (`seq` from the run). */
function expect(len: number, n: number, seq: bigint, want: (typeof cases)[number]["want"]): unknown {
  return { seq: n >= 8 ? seq : 0n, len: n >= 12 ? len : 0, pid: n >= 16 ? process.pid : 0, ...want };
}

/** A decoded event (or view) as plain data, typed arrays as arrays. */
function plain(e: VlEvent): unknown {
  return { seq: e.seq, len: e.len, pid: e.pid, comm: e.comm, ts: e.ts, ports: Array.from(e.ports), where: { x: e.where.x, y: e.where.y }, args: e.args };
}

let generated: Promise<VarlenModule> | undefined;

/** Generates varlen.ts from the C source, type-checks it strictly, compiles and imports it (once per process). */
function varlenModule(): Promise<VarlenModule> {
  generated ??= generatedModule<VarlenModule>({
    stem: "varlen",
    source: "test/bpf/varlen.bpf.c",
    cflags: ["-I", vmlinuxDir(), "-I", join(repoRoot, "test/bpf")],
    events: { rb: "vl_event", pb: "vl_event" },
  });
  return generated;
}

/** Runs `emit` once: one record of `len` bytes into the ring buffer, or (perf) the perf event array. */
function emit(obj: BpfObject, len: number, perf: boolean): void {
  const ctx = new Uint8Array(16);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, BigInt(len), LE);
  v.setBigUint64(8, perf ? 1n : 0n, LE);
  const { retval } = obj.programs.emit!.testRun({ ctx });
  if (retval !== 0) throw new Error(`emit(${len}, ${perf ? "perf" : "ring"}) returned ${retval}`);
}

/** Emits every case once, in order; seqs are `first + i`. */
function emitAll(obj: BpfObject, perf: boolean): void {
  for (const c of cases) emit(obj, c.len, perf);
}

test("the generated module compiles under tsc --strict, and its decoder reads a short record", async (t) => {
  if (!(await requireFeature(t, "clang"))) return;
  const { VarlenVlEvent: Event } = await varlenModule();
  t.is(Event.size, SIZE);
  const bytes = new Uint8Array(SIZE);
  new TextEncoder().encodeInto(COMM, bytes.subarray(16));
  // Exactly 20 bytes in the view: the decoder must not read past the record, or the DataView throws.
  t.deepEqual(plain(Event.decode(new DataView(bytes.buffer, 0, 20), 0, 20)), { seq: 0n, len: 0, pid: 0, comm: "varl", ts: 0n, ports: [], where: { x: 0, y: 0 }, args: "" });
});

test("ring buffer: records of every length decode to what they hold, with their length, in every way of reading", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "raw_tp", "test_run", "clang"))) return;
  const { VarlenVlEvent: Event, loadVarlen } = await varlenModule();
  const obj = await loadVarlen({ programs: ["emit"] });
  try {
    let seq = 0n;
    const check = (got: { event: VlEvent; length: number }[], how: string): void => {
      t.deepEqual(got.map((g) => g.length), cases.map((c) => c.len), `${how}: lengths`);
      got.forEach((g, i) => t.deepEqual(plain(g.event), expect(cases[i]!.len, cases[i]!.len, seq + BigInt(i), cases[i]!.want), `${how}: record of ${cases[i]!.len} bytes`));
      seq += BigInt(cases.length);
    };

    // Callbacks: (event, length).
    const rb = obj.maps.rb;
    emitAll(obj, false);
    const called: { event: VlEvent; length: number }[] = [];
    t.is(rb.consume((event, length) => called.push({ event, length })), cases.length);
    check(called, "onEvent-style callback");

    // recordsOf: the length and the tail of a longer record beside each event, for pulling readers.
    rb.close();
    const records = new RingBuf(rb.map, recordsOf(Event));
    emitAll(obj, false);
    const pulled: { event: VlEvent; length: number; tail: Uint8Array }[] = [];
    for await (const r of records.events({ signal: AbortSignal.timeout(5000) })) {
      pulled.push(r);
      if (pulled.length === cases.length) break;
    }
    check(pulled, "recordsOf + events()");
    t.deepEqual(Array.from(pulled[1]!.tail), EXTRA, "the 32 bytes past the struct of the 128-byte record");
    t.true(pulled.every((r, i) => i === 1 || r.tail.length === 0), "no tail on records up to the struct's size");
    emitAll(obj, false);
    const batches: { event: VlEvent; length: number }[] = [];
    records.onBatch((b) => batches.push(...b));
    await waitFor(() => batches.length === cases.length);
    records.close();
    check(batches, "recordsOf + onBatch");

    // Lazy views over the ring: getters read what the record holds, during the callback.
    const lazy = new RingBuf(rb.map, Event, { lazy: true });
    emitAll(obj, false);
    const viewed: { event: VlEvent; length: number }[] = [];
    lazy.consume((view, length) => viewed.push({ event: plain(view) as VlEvent, length }));
    lazy.close();
    t.deepEqual(
      viewed.map((g) => g.event),
      cases.map((c, i) => expect(c.len, c.len, seq + BigInt(i), c.want)),
      "lazy views",
    );
    seq += BigInt(cases.length);

    // onRecord: in place, with the length; the longer record's tail is there to read.
    const inPlace = new RingBuf(rb.map, Event);
    emitAll(obj, false);
    const seen: { length: number; tail: number[] }[] = [];
    inPlace.onRecord((data, offset, length) => seen.push({ length, tail: Array.from({ length: Math.max(0, length - SIZE) }, (_, k) => data.getUint8(offset + SIZE + k)) }));
    await waitFor(() => seen.length === cases.length);
    inPlace.close();
    t.deepEqual(seen.map((s) => s.length), cases.map((c) => c.len), "onRecord lengths");
    t.deepEqual(seen[1]!.tail, EXTRA, "onRecord reaches the tail");
  } finally {
    obj.close();
  }
});

test("perf event array: samples of every length decode to what they hold, with their (padded) length", async (t) => {
  if (!(await requireFeature(t, "root", "raw_tp", "test_run", "clang"))) return;
  const { VarlenVlEvent: Event, loadVarlen } = await varlenModule();
  const obj = await loadVarlen({ programs: ["emit"] });
  try {
    // Padding counts as bytes of the sample: half of ports[1] (443 = 0x01bb) and a zero byte make 0xbb.
    const perfWant = (c: (typeof cases)[number]) => (c.len === 43 ? { ...c.want, ports: [80, 0xbb] } : c.want);
    const pb = obj.maps.pb;
    emitAll(obj, true);
    const got: { event: VlEvent; cpu: number; length: number }[] = [];
    pb.onEvent((event, cpu, length) => got.push({ event, cpu, length }));
    await waitFor(() => got.length === cases.length);
    pb.stop();
    t.deepEqual(got.map((g) => g.length), cases.map((c) => perfLength(c.len)), "lengths, padded: [100, 132, 68, 60, 60, 52, 44, 44, 36, 20, 4, 4]");
    got.forEach((g, i) => {
      const c = cases[i]!;
      t.deepEqual(plain(g.event), expect(c.len, perfLength(c.len), BigInt(i), perfWant(c)), `record of ${c.len} bytes (${perfLength(c.len)} with padding)`);
    });
    t.true(got.every((g) => Number.isInteger(g.cpu) && g.cpu >= 0));

    pb.close();
    const records = new PerfEventArray(pb.map, recordsOf(Event));
    emitAll(obj, true);
    const batches: { event: VlEvent; length: number; tail: Uint8Array }[] = [];
    for await (const b of records.batches({ signal: AbortSignal.timeout(5000) })) {
      batches.push(...b);
      if (batches.length >= cases.length) break;
    }
    records.close();
    t.deepEqual(batches.map((r) => r.length), cases.map((c) => perfLength(c.len)), "recordsOf + batches(): lengths");
    batches.forEach((r, i) => {
      const c = cases[i]!;
      t.deepEqual(plain(r.event), expect(c.len, perfLength(c.len), BigInt(cases.length + i), perfWant(c)), `recordsOf: record of ${c.len} bytes`);
    });
    t.deepEqual(Array.from(batches[1]!.tail), [...EXTRA, 0, 0, 0, 0], "the longer record's tail, then its padding");
    t.deepEqual(Array.from(batches[0]!.tail), [0, 0, 0, 0], "a whole struct's sample has 4 bytes of padding past it");
  } finally {
    obj.close();
  }
});

async function waitFor(done: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error("timed out waiting for events");
    await new Promise((r) => setTimeout(r, 5));
  }
}
