#!/usr/bin/env node
// sslsniff: the plaintext that programs send and receive through OpenSSL (libssl.so.3), with the
// process, direction and call latency (bcc's sslsniff, on bpf2ts); --http pairs HTTP/1.x requests
// with their responses instead.

import { type CliSpec, drain, intOption, main, out, parseCli, stringOption, toJson, untilStopped, UsageError, watchLost } from "../lib/cli.js";
import { observed, startMetrics } from "../lib/metrics.js";
import { clock } from "../lib/format.js";
import { HttpPairer } from "./http.js";
import { attachProbes, findLibssl } from "./libssl.js";
import { loadSslsniff, type SslsniffEvent, sslsniffMetrics } from "./sslsniff.js";

const MAX_DATA = 8192;

const spec = {
  name: "sslsniff",
  summary: "Print the plaintext of OpenSSL TLS reads and writes (SSL_read/SSL_write and their _ex forms), or pair HTTP/1.x exchanges.",
  options: {
    lib: { type: "string", short: "l", value: "PATH", description: "the libssl to probe (default: libssl.so.3 from ldconfig)" },
    pid: { type: "string", short: "p", value: "PID", description: "only this process" },
    uid: { type: "string", short: "u", value: "UID", description: "only this user" },
    "max-data": { type: "string", short: "b", value: "BYTES", description: `plaintext bytes kept per call (default and most: ${MAX_DATA})` },
    "no-data": { type: "boolean", short: "n", description: "do not print the plaintext, only the calls" },
    http: { type: "boolean", description: "print HTTP/1.x request/response pairs (method, target, status, latency) instead" },
  },
  examples: ["sslsniff --pid 1234", "sslsniff --http --json", "sslsniff --lib /opt/openssl/lib64/libssl.so.3 --max-data 256"],
} satisfies CliSpec;

const funcName = (e: SslsniffEvent): string => `SSL_${e.isWrite ? "write" : "read"}${e.isEx ? "_ex" : ""}`;

main(spec.name, async () => {
  const v = parseCli(spec);
  const pid = intOption(v, "pid", 1, 2 ** 31 - 1);
  const uid = intOption(v, "uid", 0, 2 ** 32 - 2);
  const maxData = intOption(v, "max-data", 0, MAX_DATA);
  const duration = intOption(v, "duration", 0, 86400 * 365);
  if (v.http && v["no-data"]) throw new UsageError("--http and --no-data exclude each other");
  const lib = stringOption(v, "lib") ?? findLibssl();
  const objs = await loadSslsniff({
    constants: { ...(pid !== undefined && { targTgid: pid }), ...(uid !== undefined && { targUid: BigInt(uid) }), ...(maxData !== undefined && { targMaxData: maxData }) },
  });
  const metrics = await startMetrics(v, spec.name, objs.maps, sslsniffMetrics).catch((e: unknown) => {
    objs.close();
    throw e;
  });
  try {
    const probed = attachProbes(objs, lib, pid);
    if (!v.json) process.stderr.write(`Probing ${probed.join(", ")} in ${lib}. Ctrl-C to stop.\n`);
    const pairer = new HttpPairer();
    let print: (e: SslsniffEvent) => void;
    if (v.http) {
      if (!v.json) out(`${"TIME".padEnd(8)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"ROLE".padEnd(6)} ${"METHOD".padEnd(7)} ${"STATUS".padEnd(6)} ${"MS".padEnd(9)} TARGET`);
      print = (e) => {
        const x = pairer.feed({ pid: e.pid, comm: e.comm, ssl: e.ssl, isWrite: e.isWrite === 1, tsNs: e.tsNs, data: e.data });
        if (!x) return;
        const ms = Number(x.latencyNs) / 1e6;
        if (v.json) out(toJson({ time: new Date().toISOString(), ...x, latencyNs: undefined, ms }));
        else out(`${clock()} ${String(x.pid).padEnd(7)} ${x.comm.padEnd(16)} ${x.role.padEnd(6)} ${x.method.padEnd(7)} ${String(x.status).padEnd(6)} ${ms.toFixed(3).padEnd(9)} ${x.target}`);
      };
    } else {
      print = (e) => {
        const text = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.length).toString("utf8");
        const ms = Number(e.deltaNs) / 1e6;
        if (v.json) {
          out(toJson({ time: new Date().toISOString(), func: funcName(e), pid: e.pid, tid: e.tid, uid: e.uid, comm: e.comm, ssl: `0x${e.ssl.toString(16)}`, len: e.len, captured: e.dataLen, ms, ...(!v["no-data"] && { data: text }) }));
          return;
        }
        out(`${clock()} ${funcName(e).padEnd(12)} ${e.comm} pid ${e.pid} tid ${e.tid} uid ${e.uid}: ${e.len} bytes in ${ms.toFixed(3)} ms${e.dataLen < e.len ? ` (${e.dataLen} shown)` : ""}`);
        if (!v["no-data"]) out(`----- DATA -----\n${text}\n----- END DATA -----`);
      };
    }
    const handle = observed(print, metrics.observer("events"));
    objs.maps.events.onEvent(handle);
    const stopLost = watchLost(() => objs.variables.lostEvents.get(), "records");
    await untilStopped(duration);
    drain(objs.maps.events, handle);
    stopLost();
  } finally {
    await metrics.close();
    objs.close();
  }
});
