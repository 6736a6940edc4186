#!/usr/bin/env node
// tcpstates: prints TCP state changes with endpoints and time spent in the previous state (bcc's
// tcpstates, on bpf2ts).

import { type CliSpec, drain, intOption, main, out, parseCli, toJson, untilStopped, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { AF_INET, AF_INET6, formatAddress, tcpState } from "../lib/net.js";
import { loadTcpstates, type TcpstatesEvent, tcpstatesMetrics } from "./tcpstates.js";

const spec = {
  name: "tcpstates",
  summary: "Trace TCP state changes: addresses, ports, old and new state, and milliseconds in the old state.",
  options: {
    ipv4: { type: "boolean", short: "4", description: "only IPv4" },
    ipv6: { type: "boolean", short: "6", description: "only IPv6" },
    sport: { type: "string", short: "L", value: "PORT", description: "only this local port" },
    dport: { type: "string", short: "D", value: "PORT", description: "only this remote port" },
  },
  examples: ["tcpstates --dport 443", "tcpstates -4 --json"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const sport = intOption(v, "sport", 1, 65535);
  const dport = intOption(v, "dport", 1, 65535);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const family = v.ipv4 && !v.ipv6 ? AF_INET : v.ipv6 && !v.ipv4 ? AF_INET6 : 0;
  const objs = await loadTcpstates({
    constants: { targFamily: family, ...(sport !== undefined && { targSport: sport }), ...(dport !== undefined && { targDport: dport }) },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, tcpstatesMetrics, { relabel: { oldstate: (s) => tcpState(Number(s)), newstate: (s) => tcpState(Number(s)), state: (s) => tcpState(Number(s)) } }).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"LADDR".padEnd(26)} ${"RADDR".padEnd(26)} ${"OLDSTATE".padEnd(12)} -> ${"NEWSTATE".padEnd(12)} MS`);
    const print = (e: TcpstatesEvent): void => {
      const laddr = formatAddress(e.family, e.saddr);
      const raddr = formatAddress(e.family, e.daddr);
      const ms = Number(e.deltaNs) / 1e6;
      if (v.json) {
        out(toJson({ time: new Date().toISOString(), skaddr: `0x${e.skaddr.toString(16)}`, pid: e.pid, comm: e.comm, family: e.family === AF_INET ? "ipv4" : "ipv6", laddr, lport: e.sport, raddr, rport: e.dport, oldstate: tcpState(e.oldstate), newstate: tcpState(e.newstate), ms }));
      } else {
        out(`${clock()} ${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${`${laddr}:${e.sport}`.padEnd(26)} ${`${raddr}:${e.dport}`.padEnd(26)} ${tcpState(e.oldstate).padEnd(12)} -> ${tcpState(e.newstate).padEnd(12)} ${ms.toFixed(3)}`);
      }
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "state changes");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
