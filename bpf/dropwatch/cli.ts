#!/usr/bin/env node
// dropwatch: prints packets the kernel drops, with the drop reason, the dropping function and
// (with --stack) the kernel stack, and a per-reason summary when it stops.

import { type CliSpec, drain, intOption, main, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock, sumCpus } from "../lib/format.js";
import { KernelSymbols } from "../lib/symbolize.js";
import { symbolicValues } from "../lib/tracefs.js";
import { loadDropwatch, type DropwatchEvent, dropwatchMetrics } from "./dropwatch.js";

const spec = {
  name: "dropwatch",
  summary: "Trace packet drops (skb:kfree_skb) with the kernel's drop reason and location.",
  options: {
    reason: { type: "string", short: "r", value: "NAME|NR", description: "only this drop reason (e.g. NO_SOCKET)" },
    protocol: { type: "string", value: "ETHERTYPE", description: "only this ethertype (e.g. 0x0800 for IPv4)" },
    stack: { type: "boolean", short: "s", description: "print the kernel stack of each drop" },
  },
  examples: ["dropwatch --duration 10", "dropwatch --reason NO_SOCKET --stack"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const reasons = symbolicValues("skb", "kfree_skb", "reason");
  const reasonName = (r: number) => reasons.get(r) ?? `REASON_${r}`;
  let reason: number | undefined;
  const r = stringOption(v, "reason");
  if (r !== undefined) {
    reason = /^\d+$/.test(r) ? Number(r) : [...reasons].find(([, n]) => n === r.toUpperCase().replace(/^SKB_DROP_REASON_/, ""))?.[0];
    if (reason === undefined) throw new UsageError(`--reason: unknown drop reason ${JSON.stringify(r)}${reasons.size ? "" : " (tracefs not mounted: use the number)"}`);
  }
  const p = stringOption(v, "protocol");
  const protocol = p === undefined ? undefined : Number(p);
  if (protocol !== undefined && !(Number.isInteger(protocol) && protocol > 0 && protocol < 0x10000)) throw new UsageError(`--protocol: expected an ethertype such as 0x0800, got ${JSON.stringify(p)}`);

  const objs = await loadDropwatch({ constants: { ...(reason !== undefined && { targReason: reason }), ...(protocol !== undefined && { targProtocol: protocol }) } });
  const ksyms = new KernelSymbols();
  const metrics = await startMetrics(v, spec.name, objs.maps, dropwatchMetrics, { relabel: { reason: (r) => reasonName(Number(r)) } }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"PROTO".padEnd(6)} ${"REASON".padEnd(24)} LOCATION`);
    const print = (e: DropwatchEvent): void => {
      const location = ksyms.lookup(e.location) ?? `0x${e.location.toString(16)}`;
      const stack = v.stack && e.stackId >= 0 ? (objs.maps.stacks.get(e.stackId) ?? []).map((ip) => ksyms.lookup(ip) ?? `0x${ip.toString(16)}`) : undefined;
      if (v.json) {
        out(toJson({ time: new Date().toISOString(), pid: e.pid, comm: e.comm, protocol: e.protocol, reason: reasonName(e.reason), reasonCode: e.reason, location, ...(stack && { stack }) }));
      } else {
        out(`${clock()} ${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${`0x${e.protocol.toString(16).padStart(4, "0")}`.padEnd(6)} ${reasonName(e.reason).padEnd(24)} ${location}`);
        for (const f of stack ?? []) out(`        ${f}`);
      }
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "drop events");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    if (!v.json) {
      const summary = [...objs.maps.reasonCounts.entries()].map(([r, perCpu]) => [r, sumCpus(perCpu)] as const).filter(([, n]) => n > 0n);
      if (summary.length) process.stderr.write(`drops by reason: ${summary.map(([r, n]) => `${reasonName(r)} ${n}`).join(", ")}\n`);
    }
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
