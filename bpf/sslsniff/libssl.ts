// Finding the OpenSSL library to probe, and attaching sslsniff's probes to the functions it exports.

import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { ElfImage, STT_FUNC } from "@bpf2ts/runtime";
import type { SslsniffObjects } from "./sslsniff.js";

/** The functions sslsniff probes: entry + return of each. */
export const SSL_FUNCTIONS = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"] as const;

/** Where Debian and other distributions put libssl.so.3 when `ldconfig -p` cannot tell. */
const fallbacks = ["/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3"];

/** The real path of libssl.so.3 from the dynamic linker's cache, or a usual place; throws naming the package when there is none. */
export function findLibssl(): string {
  let listed: string | undefined;
  try {
    const cache = execFileSync("ldconfig", ["-p"], { encoding: "utf8" });
    listed = /^\s*libssl\.so\.3 \([^)]*x86-64[^)]*\) => (\S+)$/m.exec(cache)?.[1];
  } catch {
    // no ldconfig: try the usual places
  }
  const path = [listed, ...fallbacks].find((p): p is string => p !== undefined && existsSync(p));
  if (!path) throw new Error("libssl.so.3 not found (Debian: apt-get install libssl3); give its path with --lib");
  return realpathSync(path);
}

/** Which of SSL_FUNCTIONS `path` defines as functions (dynamic symbols count: libssl is stripped). */
export function sslFunctions(path: string): Set<string> {
  const img = new ElfImage(path);
  const names = new Set(img.symbols.filter((s) => s.type === STT_FUNC && s.address !== 0n).map((s) => s.name));
  return new Set(SSL_FUNCTIONS.filter((f) => names.has(f)));
}

/** Attaches entry and return probes to each SSL function `lib` defines (optionally for one process); returns their names. */
export function attachProbes(objs: SslsniffObjects, lib: string, pid?: number): string[] {
  const present = sslFunctions(lib);
  if (present.size === 0) throw new Error(`${lib}: none of ${SSL_FUNCTIONS.join(", ")} defined: not an OpenSSL libssl?`);
  for (const fn of present) {
    const target = { path: lib, symbol: fn, ...(pid !== undefined && { pid }) };
    (fn.endsWith("_ex") ? objs.programs.handleEntryEx : objs.programs.handleEntry).attach(target);
    (fn.startsWith("SSL_write") ? objs.programs.handleWriteReturn : objs.programs.handleReadReturn).attach(target);
  }
  return [...present];
}
