#!/usr/bin/env node
// execsnoop: prints every exec on the system as it happens (bcc's execsnoop, on bpf2ts).

import { clock } from "../lib/format.js";
import { type CliSpec, drain, intOption, main, out, parseCli, stringOption, toJson, untilStopped, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { loadExecsnoop, type ExecsnoopEvent, execsnoopMetrics } from "./execsnoop.js";

const spec = {
  name: "execsnoop",
  summary: "Trace exec() syscalls: command, pid, parent pid, return code and arguments.",
  options: {
    ppid: { type: "string", short: "P", value: "PID", description: "only children of this parent process" },
    uid: { type: "string", short: "u", value: "UID", description: "only this user id" },
    comm: { type: "string", short: "c", value: "NAME", description: "only commands whose name starts with NAME" },
    "ignore-failed": { type: "boolean", short: "x", description: "skip failed execs" },
  },
  examples: ["execsnoop --duration 5", "execsnoop --comm sh --json"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const ppid = intOption(v, "ppid", 1, 2 ** 32 - 1);
  const uid = intOption(v, "uid", 0, 2 ** 32 - 1);
  const comm = stringOption(v, "comm", 15);
  const duration = intOption(v, "duration", 0, 86400 * 365);

  const objs = await loadExecsnoop({
    constants: {
      ...(ppid !== undefined && { targPpid: ppid }),
      ...(uid !== undefined && { targUid: BigInt(uid) }),
      ...(comm !== undefined && { targComm: comm }),
      ignoreFailed: v["ignore-failed"] === true,
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, execsnoopMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PCOMM".padEnd(16)} ${"PID".padEnd(7)} ${"PPID".padEnd(7)} ${"RET".padStart(3)} ARGS`);
    const print = (e: ExecsnoopEvent): void => {
      const args = e.args.slice(0, e.argsCount);
      if (v.json) {
        out(toJson({ time: new Date().toISOString(), pid: e.pid, ppid: e.ppid, uid: e.uid, comm: e.comm, retval: e.retval, args, argsTruncated: e.argsTruncated !== 0 }));
      } else {
        const argv = args.join(" ") + (e.argsTruncated ? " ..." : "");
        out(`${clock()} ${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${String(e.retval).padStart(3)} ${argv}`);
      }
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "exec events");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close(); // detaches the links and frees the maps
  }
});
