// A golden module, exactly as generated, running on the live kernel: constants set through the typed
// loader, a ring-buffer event whose type came from the source scan decoded with its nested anonymous
// struct, a hash map with struct keys, and .bss/.data variables read through their codecs.
import test from "ava";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { loadMaps, mapsSpec, type MapsEvent } from "../fixtures/golden/maps/maps.js";
import { requireFeature } from "./helpers/kernel.js";

test("the maps golden loads, attaches and decodes real exec events", async (t) => {
  if (!(await requireFeature(t, "root", "bpf", "tracepoint", "ringbuf"))) return;
  const spec = mapsSpec();
  t.deepEqual(Object.values(spec.programs).map((p) => p.name).sort(), ["handle_exec", "sample"]);
  t.true(Object.keys(spec.maps).includes("events"));
  const obj = await loadMaps({ constants: { minArgs: 7, verbose: true, prefix: "Zq" }, programs: ["handle_exec"] });
  try {
    const links = await obj.attach();
    try {
      const before = process.hrtime.bigint();
      const child = execFile("/bin/true");
      const pid = child.pid!;
      await promisify((cb: (e: unknown) => void) => child.once("exit", () => cb(null)))();
      const after = process.hrtime.bigint();
      const signal = AbortSignal.timeout(5000);
      let event: MapsEvent | undefined;
      for await (const e of obj.maps.events.events({ signal })) {
        if (e.pid === pid) {
          event = e;
          break;
        }
      }
      t.truthy(event, `no exec event for pid ${pid} within 5 s`);
      if (!event) return;
      t.is(event.comm, readFileSync("/proc/self/comm", "utf8").trim(), "comm of the forked child (the parent's, before exec)");
      t.deepEqual(event.args, { argc: 7, first: "Z" }, "constants reached the program: min_args and prefix[0] with verbose");
      t.true(event.ts >= before && event.ts <= after, `ts ${event.ts} within [${before}, ${after}] (both CLOCK_MONOTONIC)`);
      const counted = [...obj.maps.counts.entries()].filter(([k]) => k.pid === pid);
      t.is(counted.length, 1, "one (pid, cpu) key for the child");
      t.true(counted[0]![1] >= 1n);
      t.true(obj.variables.total.get() >= 1n);
      const ring = obj.variables.pidRing.get();
      t.true(ring instanceof Uint32Array && ring.length === 4);
    } finally {
      links.close();
    }
  } finally {
    obj.close();
  }
});
