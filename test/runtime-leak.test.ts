// Lifetime safety: thousands of load/attach/read/close cycles keep the process's fds and RSS flat;
// objects never closed are released by the FinalizationRegistry, and exiting with live objects and
// links does not crash.

import test from "ava";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import { codecs, loadObjectSync, socketFd, type HashMap, type RingBuf, type Variable } from "@bpf2ts/runtime";
import { compileBpf, descriptor, openFdCount, repoRoot, requireFeature } from "./helpers/kernel.js";

const leakObject = () =>
  descriptor("leak", compileBpf("runtime-leak.bpf.c", ["-I/usr/include/x86_64-linux-gnu"]), {
    variables: { packets: { name: "packets", section: ".bss", offset: 0, codec: codecs.u64 } },
    maps: {
      lens: { name: "lens", type: "hash", key: codecs.u32, value: codecs.u64 },
      events: { name: "events", type: "ringbuf", value: codecs.u32 },
    },
  });

test.serial("2000 load/attach/read/close cycles: open fds and RSS stay flat", async (t) => {
  if (!(await requireFeature(t, "root", "socket", "ringbuf", "clang"))) return;
  const d = leakObject();
  const server = dgram.createSocket("udp4");
  const client = dgram.createSocket("udp4");
  server.bind(0, "127.0.0.1");
  await once(server, "listening");
  client.connect(server.address().port, "127.0.0.1");
  await once(client, "connect");
  const fd = socketFd(server);

  const cycle = async (i: number) => {
    const obj = loadObjectSync(d);
    obj.programs.count_packets!.attach({ fd });
    const payload = Buffer.alloc(1 + (i % 7), "x");
    const got = once(server, "message");
    client.send(payload);
    await got;
    const packets = (obj.variables.packets as Variable<bigint>).get();
    const lens = (obj.maps.lens as HashMap<number, bigint>).get(8 + payload.length);
    const rb = obj.maps.events as RingBuf<number>;
    const events = rb.consume();
    // Closing a reader and asking again gives a fresh one (one open reader per map at a time).
    rb.close();
    const again = obj.maps.events as RingBuf<number>;
    const fresh = again !== rb && !again.closed && again.consume().length === 0;
    obj.close();
    return fresh && packets === 1n && lens === 1n && events.length === 1 && events[0] === 8 + payload.length;
  };

  try {
    // Warm up the JIT and the allocators: each load runs on its own thread, and glibc gives threads
    // their own malloc arenas, which grow to a plateau (~30 MB here, reached within 1000 cycles and
    // flat through 8000). Growth is measured from there.
    for (let i = 0; i < 1000; i++) await cycle(i);
    globalThis.gc?.();
    const fds = openFdCount();
    const rss = process.memoryUsage().rss;
    const start = performance.now();
    let ok = 0;
    for (let i = 0; i < 2000; i++) if (await cycle(i)) ok++;
    const ms = performance.now() - start;
    const fdsAfter = openFdCount();
    globalThis.gc?.(); // what is retained, not garbage not yet collected (ava runs with --expose-gc)
    const rssAfter = process.memoryUsage().rss;
    t.log(`2000 cycles in ${ms.toFixed(0)} ms (${(ms / 2000).toFixed(2)} ms each); fds ${fds} → ${fdsAfter}; RSS ${(rss / 1e6).toFixed(1)} → ${(rssAfter / 1e6).toFixed(1)} MB`);
    t.is(ok, 2000, "every cycle read the real packet count, length and event");
    t.is(fdsAfter, fds, "no fd leaked");
    t.true(rssAfter - rss < 40e6, `RSS grew by ${((rssAfter - rss) / 1e6).toFixed(1)} MB`);
  } finally {
    server.close();
    client.close();
  }
});

// Runs in a child: objects dropped without close() are collected; then exit with live objects.
const childScript = `
import { codecs, loadObjectSync, socketFd } from "@bpf2ts/runtime";
import { readdirSync } from "node:fs";
import dgram from "node:dgram";
const d = JSON.parse(process.env.DESC);
d.objects.le = Buffer.from(d.objects.le, "base64");
d.variables.packets.codec = codecs.u64;
const fds = () => readdirSync("/proc/self/fd").length;
const base = fds();
(() => { for (let i = 0; i < 50; i++) loadObjectSync(d).maps.lens.get(new Uint8Array(4)); })(); // raw key: the descriptor has no map codecs
const held = fds();
for (let i = 0; i < 10 && fds() > base + 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
const after = fds();
// Exit with open objects, attached socket filters and a mapped .bss: must not crash.
const s = dgram.createSocket("udp4"); s.bind(0, "127.0.0.1"); await new Promise((r) => s.on("listening", r));
const keep = [];
for (let i = 0; i < 5; i++) { const o = loadObjectSync(d); o.programs.count_packets.attach({ fd: socketFd(s) }); o.variables.packets.get(); keep.push(o); }
console.log(JSON.stringify({ base, held, after }));
process.exit(0);
`;

test.serial("unclosed objects are released by the FinalizationRegistry; exit with live objects is clean", async (t) => {
  if (!(await requireFeature(t, "root", "socket", "clang"))) return;
  const d = leakObject();
  const desc = { ...d, objects: { le: Buffer.from(d.objects.le as Uint8Array).toString("base64") } };
  // Codecs do not survive JSON; the child only needs the object and names.
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", childScript], {
    cwd: repoRoot,
    env: { ...process.env, DESC: JSON.stringify({ name: desc.name, objects: desc.objects, variables: { packets: { name: "packets", section: ".bss", offset: 0, codec: undefined } } }) },
    encoding: "utf8",
  });
  t.is(r.status, 0, `child exited with ${r.status} / ${r.signal}: ${r.stderr}`);
  t.is(r.signal, null);
  const { base, held, after } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { base: number; held: number; after: number };
  t.log(`fds: ${base} at start, ${held} with 50 unclosed objects, ${after} after GC`);
  t.true(held >= base + 50, "the objects really held fds");
  t.true(after <= base + 5, `finalizers released them (${after} vs ${base})`);
});
