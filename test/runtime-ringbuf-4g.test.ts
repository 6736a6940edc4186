// RingBuf across the 4 GiB mark: consumer_pos is a u64 the reader publishes as two u32 halves (the
// high half only when it changes), so the position crossing 2^32 is a path of its own. A 1 MiB ring
// is filled with 200 KB records, drained, and filled again until more than 4 GiB went through; the
// kernel's own consumer_pos (bpf_ringbuf_query in the producer) is compared with the reader's
// position before every fill, and every record is checked by sequence number at both ends.

import test from "ava";
import { type BpfObject, LE, loadObject, RingBuf } from "@bpf2ts/runtime";
import { compileBpf, descriptor, requireFeature } from "./helpers/kernel.js";

const RECORD_SIZE = 200000; // as in runtime-ringbuf-4g.bpf.c
const STEP = RECORD_SIZE + 8; // with its header, 8-aligned
const RING = 1 << 20;
const PER_FILL = Math.floor(RING / STEP); // records that fit in an empty ring: 5
const TAIL_MUL = 0x9e3779b97f4a7c15n;
const tail = (seq: number) => BigInt.asUintN(64, BigInt(seq) * TAIL_MUL);
const FOUR_GIB = 2 ** 32;

const ringObject = () =>
  loadObject(
    descriptor("rb4g", compileBpf("runtime-ringbuf-4g.bpf.c"), {
      programs: { fill: { name: "fill", section: "syscall", kind: "syscall" } },
      maps: { big: { name: "big", type: "ringbuf" } },
    }),
  );

interface Fill {
  done: number;
  failed: number;
  /** The kernel's consumer_pos before the run and producer_pos after it. */
  consPos: number;
  prodPos: number;
}

/** Runs `fill` once: up to `n` records numbered from `seq`, stopping at the first refused reservation. */
function fill(obj: BpfObject, seq: number, n: number): Fill {
  const ctx = new Uint8Array(40);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, BigInt(seq), LE);
  v.setUint32(8, n, LE);
  obj.programs.fill!.testRun({ ctx }); // a syscall program's context is copied back in place
  const u64 = (o: number) => Number(v.getBigUint64(o, LE));
  return { done: v.getUint32(12, LE), failed: v.getUint32(16, LE), consPos: u64(24), prodPos: u64(32) };
}

test("ringbuf: consumer_pos stays right when the position crosses 4 GiB", async (t) => {
  if (!(await requireFeature(t, "root", "ringbuf", "test_run", "clang"))) return;
  const obj = await ringObject();
  try {
    const copying = obj.maps.big as RingBuf;
    copying.close(); // one reader per map: replaced by a zero-copy one
    const rb = new RingBuf(copying.map, undefined, { raw: "view" });
    t.is(rb.size, RING);

    const target = FOUR_GIB + 2 ** 29; // 4.5 GiB: thousands of records on each side of the crossing
    let pos = 0; // bytes consumed, by our count
    let seq = 0; // next expected record
    let fills = 0;
    let fillsAbove = 0; // fills that started with the kernel's consumer_pos above 2^32
    let badBlock: string | undefined;
    let badRecords = 0;
    let firstBad: string | undefined;
    const check = (rec: Uint8Array) => {
      const v = new DataView(rec.buffer, rec.byteOffset, rec.length);
      const s = Number(v.getBigUint64(0, LE));
      if (rec.length !== RECORD_SIZE || s !== seq || v.getBigUint64(RECORD_SIZE - 8, LE) !== tail(seq)) {
        badRecords++;
        firstBad ??= `record ${seq} at position ${pos}: length ${rec.length}, seq ${s}`;
      }
      seq++;
      pos += STEP;
    };

    const started = performance.now();
    while (pos < target) {
      // The ring is empty: exactly PER_FILL records fit and the next is refused. A consumer_pos
      // behind ours (a lost high half) would refuse them all; one ahead would let more in and
      // overwrite unread records.
      const f = fill(obj, seq, PER_FILL + 3);
      fills++;
      const want = { done: PER_FILL, failed: 1, consPos: pos, prodPos: pos + PER_FILL * STEP };
      if (f.done !== want.done || f.failed !== want.failed || f.consPos !== want.consPos || f.prodPos !== want.prodPos) {
        badBlock = `fill ${fills}: got ${JSON.stringify(f)}, want ${JSON.stringify(want)}`;
        break;
      }
      if (f.consPos > FOUR_GIB) fillsAbove++;
      if (rb.pending !== PER_FILL * STEP) {
        badBlock = `fill ${fills}: pending ${rb.pending}, want ${PER_FILL * STEP}`;
        break;
      }
      const n = rb.consume(check);
      if (n !== PER_FILL || rb.pending !== 0) {
        badBlock = `fill ${fills}: consumed ${n} records, ${rb.pending} bytes left`;
        break;
      }
    }
    const ms = performance.now() - started;

    t.is(badBlock, undefined);
    t.is(badRecords, 0, firstBad);
    t.true(pos > target, "went past 4 GiB");
    t.true(fillsAbove > 500, `${fillsAbove} fills with consumer_pos above 2^32`);
    t.is(seq, pos / STEP, "every record arrived once, in order");

    // The kernel sees the last drain's position too, above 2^32, and the ring keeps working.
    const last = fill(obj, seq, 1);
    t.deepEqual(last, { done: 1, failed: 0, consPos: pos, prodPos: pos + STEP });
    t.true(last.consPos > FOUR_GIB);
    t.is(rb.consume(check), 1);
    t.is(badRecords, 0, firstBad);
    t.is(rb.eventsRead, seq);
    t.log(`${seq} records, ${(pos / 2 ** 30).toFixed(2)} GiB in ${fills} fills, ${(ms / 1000).toFixed(2)} s ` +
      `(${((pos / 2 ** 20) / (ms / 1000)).toFixed(0)} MiB/s of ring positions: only 16 bytes of each record are touched); final consumer_pos 0x${last.consPos.toString(16)}`);
    rb.close();
  } finally {
    obj.close();
  }
});
