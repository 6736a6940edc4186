// One walk of hungtask's task iterator: the hung_task records it wrote, decoded.

import type { IterLink } from "@bpf2ts/runtime";
import { HungtaskHungTask, type HungtaskHungTask as HungTask } from "./hungtask.js";

export type { HungTask };

/** Runs the iterator once and decodes its fixed-size records. */
export function walkTasks(link: IterLink): HungTask[] {
  const buf = link.read();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: HungTask[] = [];
  for (let o = 0; o + HungtaskHungTask.size <= buf.length; o += HungtaskHungTask.size) out.push(HungtaskHungTask.decode(view, o));
  return out;
}

/** The kernel stack's frames, innermost first. */
export function stackOf(t: HungTask): bigint[] {
  return t.stackBytes > 0 ? Array.from(t.stack.subarray(0, t.stackBytes / 8)) : [];
}
