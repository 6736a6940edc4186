#!/usr/bin/env node
// netrecvlat: packets delivered to their socket late — from entering the network stack
// (net/netif_receive_skb) to being queued on the socket (sock/sk_data_ready) — with protocol,
// addresses and ports, above a threshold.

import { type CliSpec, drain, intOption, main, numberOption, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { AF_INET, formatAddress } from "../lib/net.js";
import { loadNetrecvlat, type NetrecvlatEvent, netrecvlatMetrics } from "./netrecvlat.js";

const protocols: Readonly<Record<string, number>> = { tcp: 6, udp: 17 };

const spec = {
  name: "netrecvlat",
  summary: "Trace network receive latency: time from a packet entering the stack to its delivery to the socket, above a threshold.",
  options: {
    "min-us": { type: "string", short: "m", value: "US", description: "only packets that waited at least US microseconds (default 0: all)" },
    protocol: { type: "string", short: "P", value: "tcp|udp", description: "only this transport protocol" },
    port: { type: "string", value: "PORT", description: "only packets to this local port" },
  },
  examples: ["netrecvlat --min-us 1000", "netrecvlat --protocol udp --port 53 --json"],
} satisfies CliSpec;

main(spec.name, async () => {
  const v = parseCli(spec);
  const minUs = numberOption(v, "min-us");
  const port = intOption(v, "port", 1, 65535);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  const proto = stringOption(v, "protocol");
  if (proto !== undefined && !(proto in protocols)) throw new UsageError(`--protocol: expected tcp or udp, got ${JSON.stringify(proto)}`);
  const objs = await loadNetrecvlat({
    constants: {
      ...(minUs !== undefined && { minLatUs: BigInt(Math.round(minUs)) }),
      ...(proto !== undefined && { targProtocol: protocols[proto]! }),
      ...(port !== undefined && { targPort: port }),
    },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, netrecvlatMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    await objs.attach();
    if (!v.json) out(`${"TIME".padEnd(8)} PROTO ${"SADDR:SPORT".padEnd(32)} ${"DADDR:DPORT".padEnd(32)} ${"LEN".padEnd(6)} LAT(us)`);
    const print = (e: NetrecvlatEvent): void => {
      const protocol = e.protocol === 6 ? "tcp" : "udp";
      const saddr = formatAddress(e.family, e.saddr);
      const daddr = formatAddress(e.family, e.daddr);
      const us = Number(e.deltaNs) / 1e3;
      if (v.json) out(toJson({ time: new Date().toISOString(), protocol, family: e.family === AF_INET ? "ipv4" : "ipv6", saddr, sport: e.sport, daddr, dport: e.dport, len: e.len, us }));
      else out(`${clock()} ${protocol.padEnd(5)} ${`${saddr}:${e.sport}`.padEnd(32)} ${`${daddr}:${e.dport}`.padEnd(32)} ${String(e.len).padEnd(6)} ${us.toFixed(1)}`);
    };
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "packets");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
