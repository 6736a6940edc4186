#!/usr/bin/env node
// opensnoop: prints openat() calls with path, flags and result (bcc's opensnoop, on bpf2ts).

import { type CliSpec, drain, intOption, main, out, parseCli, stringOption, toJson, untilStopped, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { loadOpensnoop, type OpensnoopEvent, opensnoopMetrics } from "./opensnoop.js";

const spec = {
  name: "opensnoop",
  summary: "Trace openat() calls: process, file descriptor or errno, flags and path.",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    uid: { type: "string", short: "u", value: "UID", description: "only this user id" },
    comm: { type: "string", short: "c", value: "NAME", description: "only commands whose name starts with NAME" },
    failed: { type: "boolean", short: "x", description: "only failed opens" },
  },
  examples: ["opensnoop --pid 1234", "opensnoop --failed --json"],
} satisfies CliSpec;

/** open(2) flags in their usual spelling. */
function openFlags(flags: number): string {
  const acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][flags & 3]!;
  const bits: Array<[number, string]> = [
    [0o100, "O_CREAT"], [0o200, "O_EXCL"], [0o400, "O_NOCTTY"], [0o1000, "O_TRUNC"], [0o2000, "O_APPEND"],
    [0o4000, "O_NONBLOCK"], [0o10000, "O_DSYNC"], [0o200000, "O_DIRECTORY"], [0o400000, "O_NOFOLLOW"],
    [0o1000000, "O_NOATIME"], [0o2000000, "O_CLOEXEC"], [0o4010000, "O_SYNC"], [0o10000000, "O_PATH"], [0o20200000, "O_TMPFILE"],
  ];
  const names = [acc];
  for (const [bit, name] of bits) if ((flags & bit) === bit) names.push(name);
  return names.join("|");
}

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const uid = intOption(v, "uid", 0, 2 ** 32 - 1);
  const comm = stringOption(v, "comm", 15);
  const duration = intOption(v, "duration", 0, 86400 * 365);

  const objs = await loadOpensnoop({
    constants: {
      ...(pid !== undefined && { targPid: pid }),
      ...(uid !== undefined && { targUid: BigInt(uid) }),
      ...(comm !== undefined && { targComm: comm }),
      targFailed: v.failed === true,
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, opensnoopMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"FD".padStart(3)} ${"ERR".padStart(3)} PATH`);
    const print = (e: OpensnoopEvent): void => {
      if (v.json) out(toJson({ time: new Date().toISOString(), pid: e.pid, tid: e.tid, uid: e.uid, comm: e.comm, fd: e.fd, errno: e.err, flags: e.flags, flagNames: openFlags(e.flags), mode: e.mode, path: e.fname }));
      else out(`${clock()} ${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${String(e.fd).padStart(3)} ${String(e.err).padStart(3)} ${e.fname}`);
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "open events");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
