// A child process of the fuzz harness (helpers/fuzz.ts): runs the runtime on each object of a list
// — objectSpec, then loadObject and close — and reports one JSON line before and after each, written
// synchronously so that the parent knows which object a crash happened on.

import { readFileSync, writeSync } from "node:fs";
import { BpfError, loadObject, objectSpec } from "@bpf2ts/runtime";

const files = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as string[];
const say = (x: object) => writeSync(1, JSON.stringify(x) + "\n");

for (const [i, file] of files.entries()) {
  say({ begin: i });
  const start = performance.now();
  const descriptor = { name: "fuzz", objects: { le: new Uint8Array(readFileSync(file)) } };
  let verdict = "ok";
  let detail = "";
  try {
    // FUZZ_CHECK=0 skips the runtime's own check, to see what libbpf alone would do with the mutants.
    const check = process.env.FUZZ_CHECK !== "0";
    objectSpec(descriptor, { check });
    const obj = await loadObject(descriptor, { timeout: 20_000, check });
    obj.close();
  } catch (e) {
    // A BpfError is the runtime's clean refusal (the check's, libbpf's or the kernel's); anything else is a bug.
    verdict = e instanceof BpfError && (e as BpfError).code !== "ETIMEDOUT" ? "clean" : e instanceof BpfError ? "hang" : "crash";
    detail = `${(e as Error).name}: ${(e as Error).message.split("\n")[0]}`;
  }
  say({ end: i, verdict, detail, ms: performance.now() - start });
}
