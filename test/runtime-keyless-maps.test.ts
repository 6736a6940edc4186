// Queues, stacks and bloom filters from a generated module: test/bpf/runtime-keyless.bpf.c is
// generated, type-checked under tsc --strict with code that uses its maps, and run through
// BPF_PROG_TEST_RUN. What the kernel pushes, user space pops in the map's order, and the other way
// round; the bloom filter answers user space and the program alike.
import test from "ava";
import type { BloomFilterMap, BpfError, BpfObject, QueueMap, StackMap, Variable } from "@bpf2ts/runtime";
import { generatedModule } from "./helpers/generated-module.js";
import { requireFeature, vmlinuxDir } from "./helpers/kernel.js";

interface Sample {
  seq: number;
  port: number;
  flags: number;
}
interface KeylessObjects extends BpfObject {
  maps: BpfObject["maps"] & { fifo: QueueMap<Sample>; lifo: StackMap<Sample>; blocked: BloomFilterMap<number> };
  variables: BpfObject["variables"] & { probePort: Variable<number>; maybeBlocked: Variable<number>; taken: Variable<Sample> };
}

const usage = `
import type { BloomFilterMap, QueueMap, StackMap } from "@bpf2ts/runtime";
import type { KeylessObjects, KeylessPktSample } from "./keyless.js";

export function use(o: KeylessObjects): KeylessPktSample | undefined {
  const fifo: QueueMap<KeylessPktSample> = o.maps.fifo;
  const lifo: StackMap<KeylessPktSample> = o.maps.lifo;
  const blocked: BloomFilterMap<number> = o.maps.blocked;
  fifo.push({ seq: 1, port: 2, flags: 3 }, "exist");
  blocked.add(443);
  const maybe: boolean = blocked.mayContain(443);
  // @ts-expect-error a queue holds samples
  fifo.push(5);
  void maybe;
  return lifo.pop() ?? fifo.peek();
}
`;

let mod: Promise<{ loadKeyless(): Promise<KeylessObjects> }> | undefined;
const keyless = () => (mod ??= generatedModule({ stem: "keyless", source: "test/bpf/runtime-keyless.bpf.c", cflags: ["-I", vmlinuxDir()], usage }));

const run = (o: KeylessObjects, program: "produce" | "consume", repeat = 1) => o.programs[program]!.testRun({ data: new Uint8Array(64), repeat });

test("keyless maps: the generated module types queues, stacks and bloom filters (tsc --strict)", async (t) => {
  if (!(await requireFeature(t, "clang"))) return;
  await t.notThrowsAsync(keyless());
});

test.serial("queue and stack: the kernel's pushes pop in FIFO and LIFO order; peek leaves, drain empties, a full map refuses or makes room", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const o = await (await keyless()).loadKeyless();
  try {
    const { fifo, lifo } = o.maps;
    t.is(fifo.pop(), undefined, "empty");
    t.is(lifo.peek(), undefined);
    run(o, "produce", 3);
    const sample = (seq: number) => ({ seq, port: 1000 + seq, flags: 7 });
    t.deepEqual(fifo.peek(), sample(1), "peek: the oldest");
    t.deepEqual(fifo.pop(), sample(1));
    t.deepEqual(fifo.drain(), [sample(2), sample(3)]);
    t.deepEqual(lifo.pop(), sample(3), "the newest first");
    t.deepEqual(lifo.drain(), [sample(2), sample(1)]);
    t.is(fifo.pop(), undefined);

    for (let i = 10; i < 14; i++) fifo.push(sample(i));
    const full = t.throws<BpfError>(() => fifo.push(sample(14)));
    t.is(full?.code, "E2BIG", "a full queue refuses a plain push");
    fifo.push(sample(14), "exist");
    t.deepEqual(fifo.peek(), sample(11), "\"exist\" dropped the oldest to make room");
    run(o, "consume");
    t.deepEqual(o.variables.taken.get(), sample(11), "the program pops what user space pushed");
    t.throws(() => fifo.push(sample(1), "noexist" as "any"), { name: "TypeError", message: /flag must be "any" or "exist"/ });
  } finally {
    o.close();
  }
});

test.serial("bloom filter: values user space adds are maybe-present to it and to the program; others are certainly absent", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "test_run", "clang"))) return;
  const o = await (await keyless()).loadKeyless();
  try {
    const { blocked } = o.maps;
    const ports = [22, 443, 8080, 65535];
    for (const p of ports) blocked.add(p);
    for (const p of ports) t.true(blocked.mayContain(p), `${p} was added`);
    // 64 entries, 3 hashes, 4 values: false positives among these are rare but possible; count them.
    const others = Array.from({ length: 200 }, (_, i) => 1000 + i);
    const falsePositives = others.filter((p) => blocked.mayContain(p)).length;
    t.true(falsePositives < 20, `${falsePositives} false positives in 200`);
    o.variables.probePort.set(443);
    run(o, "produce");
    t.is(o.variables.maybeBlocked.get(), 1, "the program's peek sees 443");
    const absent = others.find((p) => !blocked.mayContain(p))!;
    o.variables.probePort.set(absent);
    run(o, "produce");
    t.is(o.variables.maybeBlocked.get(), 0, `the program's peek says ${absent} is absent, as user space's does`);
  } finally {
    o.close();
  }
});
