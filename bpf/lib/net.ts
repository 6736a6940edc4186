// Network formatting for tracer output: addresses as the kernel stores them, TCP state names.

import { isIPv4 } from "node:net";

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Formats a 4- or 16-byte network-order address (the first 4 bytes for AF_INET). */
export function formatAddress(family: number, bytes: ArrayLike<number>): string {
  if (family === AF_INET) return Array.from({ length: 4 }, (_, i) => bytes[i]).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // IPv4-mapped (::ffff:a.b.c.d)
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") {
    const v4 = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    if (isIPv4(v4)) return `::ffff:${v4}`;
  }
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export const tcpStateNames: Readonly<Record<number, string>> = {
  1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
  8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
};

export function tcpState(s: number): string {
  return tcpStateNames[s] ?? `STATE_${s}`;
}
