// A real headless browser for tests: Debian's chromium, driven over the DevTools protocol (CDP) with
// a WebSocket client of a few lines — evaluate script in a page, capture a screenshot as PNG.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";

/** The chromium binary, or why there is none (the Debian package to install). */
export function findChromium(): { path: string } | { missing: string } {
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      execFileSync(path, ["--version"], { stdio: "ignore", timeout: 20_000 });
      return { path };
    } catch {
      // next
    }
  }
  return { missing: "chromium not found: apt-get install chromium (scripts/setup.sh installs it)" };
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class Browser {
  readonly #proc: ChildProcess;
  readonly #ws: WebSocket;
  readonly #profile: string;
  #next = 1;
  readonly #pending = new Map<number, Pending>();

  private constructor(proc: ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      const p = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id!);
      if (m.error) p.reject(new Error(`CDP: ${m.error.message}`));
      else p.resolve(m.result ?? {});
    });
    ws.on("close", () => {
      for (const p of this.#pending.values()) p.reject(new Error("CDP: browser connection closed"));
      this.#pending.clear();
    });
  }

  /** Starts chromium headless with a throw-away profile and connects to its DevTools endpoint. */
  static async launch(path: string, timeoutMs = 30_000): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), "bpf2ts-chromium-"));
    const proc = spawn(path, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--mute-audio", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium did not print its DevTools endpoint in ${timeoutMs} ms:\n${log.slice(-2000)}`)), timeoutMs);
      proc.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(log);
        if (m) (clearTimeout(timer), resolve(m[1]!));
      });
      proc.once("exit", (code) => (clearTimeout(timer), reject(new Error(`chromium exited (${code}):\n${log.slice(-2000)}`))));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false, maxPayload: 256 << 20 });
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    return new Browser(proc, ws, profile);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }));
    });
  }

  /** Opens `url` in a new tab of `width`×`height` CSS pixels. */
  async open(url: string, width = 1400, height = 1000): Promise<Page> {
    const { targetId } = (await this.send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
    const { sessionId } = (await this.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
    const page = new Page(this, sessionId);
    await page.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    await page.send("Page.enable");
    await page.send("Page.navigate", { url });
    return page;
  }

  async close(): Promise<void> {
    await this.send("Browser.close").catch(() => undefined);
    this.#ws.close();
    if (this.#proc.exitCode === null) {
      const exited = new Promise((r) => this.#proc.once("exit", r));
      const timer = setTimeout(() => this.#proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(
    readonly browser: Browser,
    readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** The value of a JavaScript expression in the page (JSON-serialisable); throws on a page exception. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    const { data } = (await this.send("Page.captureScreenshot", { format: "png" })) as { data: string };
    return Buffer.from(data, "base64");
  }
}
