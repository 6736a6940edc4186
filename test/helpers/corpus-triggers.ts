// What the corpus test does to make a tool report something: run a command, open or stat a file,
// bind or connect on loopback, send a signal, mount a tmpfs. Each trigger names the values the
// manifest's expectations may use ($path, $port, $child, ...).

import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trigger } from "./corpus.js";
import { buildC, repoRoot } from "./kernel.js";

let nextPort = 20000 + (process.pid % 20000);

/** The values every manifest may use, before anything runs. */
export function baseVars(): Record<string, unknown> {
  return {
    self: process.pid,
    comm: readFileSync("/proc/self/comm", "utf8").trim(),
    libc: libcPath(),
    fakegc: fakegcPath(),
  };
}

/** The C library this process runs with, from its mappings. */
function libcPath(): string {
  const maps = readFileSync("/proc/self/maps", "utf8");
  const m = /\s(\/\S*\/libc\.so\.6)$/m.exec(maps) ?? /\s(\/\S*\/libc[-.][^/\s]*\.so[.\d]*)$/m.exec(maps);
  return m ? m[1]! : "/lib/x86_64-linux-gnu/libc.so.6";
}

let fakegc: string | undefined;
/** fixtures/corpus/javagc/fakegc.c built with gcc (cached): two GC functions around 2 ms pauses. */
function fakegcPath(): string {
  return (fakegc ??= buildC("corpus-fakegc", readFileSync(join(repoRoot, "fixtures/corpus/javagc/fakegc.c"), "utf8")));
}

/** Values a trigger chooses before it runs (so constants and attach options can use them). */
export interface Prepared {
  vars: Record<string, unknown>;
  /** Runs the trigger; resolves with the values it learnt (such as $child). */
  run(): Promise<Record<string, unknown>>;
  cleanup(): void;
}

function exited(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ pid: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ pid: child.pid!, code, stderr }));
  });
}

async function must(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<number> {
  const r = await exited(cmd, args, opts);
  if (r.code !== 0) throw new Error(`trigger: ${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.pid;
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.on("error", () => undefined));
    server.on("error", () => resolve(server)); // a port in use still made the bind()/capability check
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

/** `p`, or a rejection naming the trigger when it takes longer than `ms`. */
function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`trigger ${what} did not finish in ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function prepare(trigger: Trigger): Prepared {
  const p = prepareUnbounded(trigger);
  return { ...p, run: () => within(trigger.kind, 10_000, p.run()) };
}

function prepareUnbounded(trigger: Trigger): Prepared {
  const dir = mkdtempSync(join(tmpdir(), "bpf2ts-corpus-trigger-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const path = join(realpathSync(dir), "corpus-file");
  switch (trigger.kind) {
    case "exec":
    case "fakegc": {
      const argv = trigger.kind === "fakegc" ? [fakegcPath()] : trigger.argv!;
      // The exit code is the program's business (`sh -c "exit 3"`); only a failed spawn is an error.
      return { vars: {}, cleanup, run: async () => ({ child: (await exited(argv[0]!, argv.slice(1))).pid }) };
    }
    case "open":
      return { vars: { path }, cleanup, run: async () => (closeSync(openSync(path, "w")), {}) };
    case "read":
      return { vars: { path }, cleanup, run: async () => (writeFileSync(path, "corpus\n".repeat(1000)), readFileSync(path), {}) };
    case "stat":
      return { vars: { path }, cleanup, run: async () => (writeFileSync(path, ""), statSync(path), {}) };
    case "write":
      return {
        vars: {},
        cleanup,
        run: async () => {
          const fd = openSync("/dev/null", "w");
          for (let i = 0; i < 5; i++) writeSync(fd, "corpus\n");
          closeSync(fd);
          return {};
        },
      };
    case "sleep":
      return { vars: {}, cleanup, run: () => new Promise((r) => setTimeout(() => r({}), trigger.ms ?? 200)) };
    case "kill":
      return {
        vars: {},
        cleanup,
        run: async () => {
          const child = spawn("sleep", ["10"], { stdio: "ignore" });
          const done = new Promise((r) => child.on("exit", r));
          await new Promise((r) => child.on("spawn", r));
          process.kill(child.pid!, trigger.signal ?? "SIGTERM"); // sleep dies of SIGTERM and SIGUSR1 alike
          await done;
          return { child: child.pid };
        },
      };
    case "bind": {
      const port = trigger.privileged ? 600 + (process.pid % 300) : nextPort++;
      return {
        vars: { port },
        cleanup,
        run: async () => {
          await closeServer(await listen(port));
          return {};
        },
      };
    }
    case "connect": {
      const port = nextPort++;
      return {
        vars: { port },
        cleanup,
        run: async () => {
          const server = await listen(port);
          const accepted = new Promise<Socket>((r) => server.once("connection", r));
          const client = connect(port, "127.0.0.1");
          client.on("error", () => undefined);
          const clientClosed = new Promise((r) => client.once("close", r));
          await new Promise((r) => client.once("connect", r));
          const peer = await accepted;
          const peerClosed = new Promise((r) => peer.once("close", r));
          // The server side closes first; the client (not half-open) then ends too:
          // CLOSE_WAIT -> LAST_ACK -> CLOSE on the client socket.
          peer.end();
          await Promise.all([peerClosed, clientClosed]);
          await closeServer(server);
          return {};
        },
      };
    }
    case "mount": {
      const target = realpathSync(dir);
      return {
        vars: { dir: target },
        cleanup: () => {
          spawnSync("umount", ["-l", target], { stdio: "ignore" }); // only does something if the trigger failed halfway
          cleanup();
        },
        run: async () => {
          await must("mount", ["-t", "tmpfs", "corpus-tmpfs", target]);
          await must("umount", [target]);
          return {};
        },
      };
    }
    case "touch-rm": {
      const name = `corpus-fl-${process.pid}-${Date.now() % 100000}`;
      return { vars: { name }, cleanup, run: async () => (await must("sh", ["-c", `touch ${name} && rm ${name}`], { cwd: dir }), {}) };
    }
  }
}
