// The generated-code contract, written by hand the way the emitter writes it: a module-level
// descriptor, an interface narrowing BpfObject, and a typed load function. It must type-check (tsc
// runs over this file) and load for real.

import test from "ava";
import { closeSync, openSync } from "node:fs";
import {
  type BpfObject, type HashMap, type LoadOptions, type ObjectDescriptor, type ObjectSpec, type Program, type Variable,
  codecs, loadObject, objectSpec,
} from "@bpf2ts/runtime";
import { symbols } from "@bpf2ts/runtime/symbols";
import * as runtime from "@bpf2ts/runtime";
import { compileBpf, requireFeature } from "./helpers/kernel.js";

interface BasicConstants {
  targetTgid?: number;
}
interface BasicObjects extends BpfObject {
  programs: { onOpenat: Program<"tracepoint"> };
  maps: { counts: HashMap<number, bigint> };
  variables: { openCount: Variable<bigint> };
}
const basicDescriptor = (): ObjectDescriptor => ({
  name: "basic",
  objects: { le: compileBpf("runtime-basic.bpf.c").toString("base64"), be: undefined },
  programs: { onOpenat: { name: "on_openat", section: "tracepoint/syscalls/sys_enter_openat", kind: "tracepoint" } },
  maps: { counts: { name: "counts", type: "hash", key: codecs.u32, value: codecs.u64 } },
  variables: { openCount: { name: "open_count", section: ".bss", offset: 0, codec: codecs.u64 } },
  constants: { targetTgid: { name: "target_tgid", section: ".rodata", offset: 0, codec: codecs.u32 } },
});
function loadBasic(opts?: LoadOptions<BasicConstants>): Promise<BasicObjects> {
  return loadObject(basicDescriptor(), opts) as Promise<BasicObjects>;
}
function basicSpec(): ObjectSpec {
  return objectSpec(basicDescriptor());
}

// Compile-time checks of per-kind attach options (never called).
export function typeChecks(p: { tp: Program<"tracepoint">; up: Program<"uprobe">; xdp: Program<"xdp"> }): void {
  p.tp.attach();
  p.up.attach({ path: "/bin/true", symbol: "main" });
  p.xdp.attach({ interface: "lo", mode: "skb" });
  // @ts-expect-error a uprobe needs a target
  p.up.attach();
  // @ts-expect-error options of another kind
  p.tp.attach({ interface: "lo" });
}

test("every symbol generated code may import is exported by the runtime", (t) => {
  const exported = new Set(Object.keys(runtime));
  for (const [name, s] of Object.entries(symbols)) {
    if (!s.typeOnly) t.true(exported.has(name), `${name} is exported as a value`);
  }
  t.true(Object.keys(symbols).length > 20);
});

test.serial("a generated-style module loads, attaches and reads typed values", async (t) => {
  if (!(await requireFeature(t, "root", "tracepoint", "clang"))) return;
  t.is(basicSpec().programs.onOpenat?.kind, "tracepoint");
  const obj = await loadBasic({ constants: { targetTgid: process.pid } });
  try {
    using links = await obj.attach();
    closeSync(openSync("/dev/null", "r"));
    const n: bigint = obj.variables.openCount.get();
    t.is(n, 1n);
    t.is(obj.maps.counts.get(process.pid), 1n);
    t.is(links.links[0]!.program, "on_openat");
  } finally {
    obj.close();
  }
});
