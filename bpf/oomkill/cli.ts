#!/usr/bin/env node
// oomkill: prints every OOM kill with the victim's memory and the task that ran out of memory.

import { type CliSpec, drain, intOption, main, out, parseCli, toJson, untilStopped, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { loadOomkill, type OomkillEvent, oomkillMetrics } from "./oomkill.js";

const spec = {
  name: "oomkill",
  summary: "Trace OOM kills (oom:mark_victim): victim, its memory, and the task that triggered the kill.",
  options: {},
  examples: ["oomkill", "oomkill --json --duration 60"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const objs = await loadOomkill();
  const metrics = await startMetrics(v, spec.name, objs.maps, oomkillMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) process.stderr.write("Tracing OOM kills... Ctrl-C to stop.\n");
    const print = (e: OomkillEvent): void => {
      if (v.json) {
        out(toJson({ time: new Date().toISOString(), victimPid: e.victimPid, victimComm: e.victimComm, victimUid: e.victimUid, triggerPid: e.triggerPid, triggerComm: e.triggerComm, totalVmKb: e.totalVmKb, anonRssKb: e.anonRssKb, fileRssKb: e.fileRssKb, shmemRssKb: e.shmemRssKb, pgtablesKb: e.pgtablesKb, oomScoreAdj: e.oomScoreAdj }));
      } else {
        out(`${clock()} triggered by PID ${e.triggerPid} ("${e.triggerComm}"), OOM kill of PID ${e.victimPid} ("${e.victimComm}"), anon-rss ${e.anonRssKb} kB, file-rss ${e.fileRssKb} kB, total-vm ${e.totalVmKb} kB, oom_score_adj ${e.oomScoreAdj}`);
      }
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "OOM events");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
