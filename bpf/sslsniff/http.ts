// HTTP/1.x request/response pairing over captured TLS plaintext: per connection (process + SSL *),
// a message whose first line is a request line opens an exchange, and the next message in the other
// direction whose first line is a status line closes it (1xx interim responses are skipped). Requests
// may be pipelined: they wait in order. Only the start of each message is needed.

export interface TlsMessage {
  pid: number;
  comm: string;
  /** The SSL * of the connection. */
  ssl: bigint;
  /** True for plaintext written (sent), false for plaintext read (received). */
  isWrite: boolean;
  /** Kernel monotonic time of the call's return, in nanoseconds. */
  tsNs: bigint;
  /** The start of the plaintext. */
  data: Uint8Array;
}

export interface HttpExchange {
  pid: number;
  comm: string;
  /** "client" when this process sent the request, "server" when it received it. */
  role: "client" | "server";
  method: string;
  target: string;
  /** Of the response, e.g. "HTTP/1.1". */
  version: string;
  status: number;
  reason: string;
  /** From the request's call to the response's call, in nanoseconds. */
  latencyNs: bigint;
}

interface Pending {
  method: string;
  target: string;
  isWrite: boolean;
  tsNs: bigint;
}

const REQUEST_LINE = /^([A-Z][A-Z-]*) (\S+) HTTP\/1\.[01]\r?$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r]*))?\r?$/;
/** Requests kept waiting per connection before the oldest are dropped (a peer that never answers). */
const MAX_PENDING = 64;

function firstLine(data: Uint8Array): string {
  const end = data.indexOf(0x0a);
  return Buffer.from(data.buffer, data.byteOffset, end < 0 ? Math.min(data.length, 256) : end).toString("latin1");
}

export class HttpPairer {
  readonly #pending = new Map<string, Pending[]>();

  /** Feeds one captured message; returns the exchange it completes, if any. */
  feed(m: TlsMessage): HttpExchange | undefined {
    const key = `${m.pid}:${m.ssl}`;
    const line = firstLine(m.data);
    const req = REQUEST_LINE.exec(line);
    if (req) {
      const q = this.#pending.get(key) ?? [];
      q.push({ method: req[1]!, target: req[2]!, isWrite: m.isWrite, tsNs: m.tsNs });
      if (q.length > MAX_PENDING) q.shift();
      this.#pending.set(key, q);
      return undefined;
    }
    const status = STATUS_LINE.exec(line);
    if (!status) return undefined;
    const code = Number(status[1]);
    const q = this.#pending.get(key);
    // A response travels the other way from its request; 1xx responses precede the final one.
    if (!q?.length || q[0]!.isWrite === m.isWrite || code < 200) return undefined;
    const r = q.shift()!;
    if (q.length === 0) this.#pending.delete(key);
    return {
      pid: m.pid,
      comm: m.comm,
      role: r.isWrite ? "client" : "server",
      method: r.method,
      target: r.target,
      version: line.slice(0, 8),
      status: code,
      reason: status[2] ?? "",
      latencyNs: m.tsNs - r.tsNs,
    };
  }
}
