// `gotrace --serve ADDR:PORT`: an HTTP server with one page (page.ts) and a WebSocket at /ws that
// streams the live model's messages. A page that falls behind (its socket's send buffer fills up)
// skips frames and gets a fresh snapshot once it has caught up, so a slow browser never holds
// unbounded memory here and never shows a timeline with holes.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { livePage } from "./page.js";

/** Bytes queued on a socket beyond which frames are skipped for it. */
const MAX_BUFFERED = 4 << 20;

/** "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT" (both: 127.0.0.1) → host and port; throws on junk. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`expected ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080), got ${JSON.stringify(spec)}`);
  const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
  return { host: host || "127.0.0.1", port };
}

interface Client {
  ws: WebSocket;
  /** A frame was skipped: the next message must be a snapshot. */
  stale: boolean;
}

export class LiveServer {
  readonly url: string;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  readonly #greet: () => object[];

  private constructor(http: Server, wss: WebSocketServer, url: string, greet: () => object[]) {
    this.#http = http;
    this.#wss = wss;
    this.url = url;
    this.#greet = greet;
    wss.on("connection", (ws) => {
      const client: Client = { ws, stale: false };
      this.#clients.add(client);
      ws.on("close", () => this.#clients.delete(client));
      ws.on("error", () => this.#clients.delete(client));
      for (const m of greet()) ws.send(JSON.stringify(m));
    });
  }

  /**
   * Listens on `host:port`. `greet` gives the messages a page gets on connecting (hello, snapshot);
   * the last of them is also what a page that fell behind gets again.
   */
  static listen(host: string, port: number, greet: () => object[]): Promise<LiveServer> {
    const http = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
      } else if (path === "/" || path === "/index.html") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : livePage);
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    return new Promise((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException) => reject(new Error(`--serve ${host}:${port}: ${e.code === "EADDRINUSE" ? "address already in use" : e.message}`));
      http.once("error", failed);
      http.listen(port, host, () => {
        http.off("error", failed);
        // Attached once listening: the WebSocket server re-emits its HTTP server's errors.
        const wss = new WebSocketServer({ server: http, path: "/ws", perMessageDeflate: true });
        wss.on("error", (e) => process.stderr.write(`gotrace: --serve: ${e.message}\n`));
        const a = http.address() as AddressInfo;
        const h = a.family === "IPv6" ? `[${a.address}]` : a.address;
        resolve(new LiveServer(http, wss, `http://${h}:${a.port}/`, greet));
      });
    });
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Sends `message` to every page; one that fell behind skips it and is resynchronised later. */
  broadcast(message: object): void {
    if (this.#clients.size === 0) return;
    const text = JSON.stringify(message);
    for (const c of this.#clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      if (c.ws.bufferedAmount > MAX_BUFFERED) {
        c.stale = true;
        continue;
      }
      if (c.stale) {
        const greeting = this.#greet();
        c.ws.send(JSON.stringify(greeting[greeting.length - 1]));
        c.stale = false;
      } else c.ws.send(text);
    }
  }

  /** Closes the pages' sockets and stops listening. */
  close(): Promise<void> {
    for (const c of this.#clients) c.ws.close(1001, "gotrace stopped");
    return new Promise((resolve) => {
      this.#wss.close(() => this.#http.close(() => resolve()));
      this.#http.closeAllConnections();
    });
  }
}
