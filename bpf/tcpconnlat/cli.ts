#!/usr/bin/env node
// tcpconnlat: TCP connect latency, SYN sent to handshake complete, with the process that connected
// (bcc's tcpconnlat, on bpf2ts, from the sock/inet_sock_set_state tracepoint alone).

import { type CliSpec, drain, intOption, main, numberOption, out, parseCli, toJson, untilStopped, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { AF_INET, AF_INET6, formatAddress } from "../lib/net.js";
import { loadTcpconnlat, type TcpconnlatEvent, tcpconnlatMetrics } from "./tcpconnlat.js";

const spec = {
  name: "tcpconnlat",
  summary: "Trace TCP active connects: process, addresses, ports and the time from SYN to ESTABLISHED.",
  options: {
    pid: { type: "string", short: "p", value: "PID", description: "only connects made by this process" },
    "min-ms": { type: "string", short: "m", value: "MS", description: "only connects slower than MS milliseconds (fractions allowed)" },
    ipv4: { type: "boolean", short: "4", description: "only IPv4" },
    ipv6: { type: "boolean", short: "6", description: "only IPv6" },
  },
  examples: ["tcpconnlat --min-ms 1", "tcpconnlat -6 --json"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 32 - 1);
  const minMs = numberOption(v, "min-ms");
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const family = v.ipv4 && !v.ipv6 ? AF_INET : v.ipv6 && !v.ipv4 ? AF_INET6 : 0;
  const objs = await loadTcpconnlat({
    constants: {
      targFamily: family,
      ...(pid !== undefined && { targTgid: pid }),
      ...(minMs !== undefined && { targMinUs: BigInt(Math.round(minMs * 1000)) }),
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, tcpconnlatMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} IP ${"SADDR".padEnd(26)} ${"LPORT".padEnd(5)} ${"DADDR".padEnd(26)} ${"DPORT".padEnd(5)} LAT(ms)`);
    const print = (e: TcpconnlatEvent): void => {
      const saddr = formatAddress(e.family, e.saddr);
      const daddr = formatAddress(e.family, e.daddr);
      const ms = Number(e.deltaNs) / 1e6;
      if (v.json) out(toJson({ time: new Date().toISOString(), pid: e.tgid, comm: e.comm, family: e.family === AF_INET ? "ipv4" : "ipv6", saddr, lport: e.lport, daddr, dport: e.dport, ms }));
      else out(`${clock()} ${String(e.tgid).padEnd(7)} ${e.comm.padEnd(16)} ${e.family === AF_INET ? "4 " : "6 "} ${saddr.padEnd(26)} ${String(e.lport).padEnd(5)} ${daddr.padEnd(26)} ${String(e.dport).padEnd(5)} ${ms.toFixed(3)}`);
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "connects");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
