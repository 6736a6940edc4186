// Temporary projects for the workflow tests (config, check, watch, init): small eBPF programs that
// compile in a fraction of a second (no vmlinux.h), and the CLI run in-process with captured output.

import type { ExecutionContext } from "ava";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../generator/cli/cli.js";
import { tempDir } from "./temp-dir.js";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * A tracepoint program with a ring buffer and a hash map. `struct event` is a map value, so it is in
 * the object's BTF and the module can be regenerated from the object alone (`check --obj`) — unless
 * `eventOnlyInRingbuf` leaves the map out.
 */
export function helloSource(opts: { header?: string; value?: string; eventOnlyInRingbuf?: boolean } = {}): string {
  return `// SPDX-License-Identifier: GPL-2.0
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
${opts.header ? `#include "${opts.header}"\n` : ""}
/** One call. */
struct event {
	__u32 pid;
	__u32 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

${opts.eventOnlyInRingbuf ? "" : `struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} last SEC(".maps");`}

__u64 counter = 0;

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->value = ${opts.value ?? (opts.header ? "VALUE" : "1")};
	counter++;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;
}

/** A fresh directory under the OS temp dir holding `files` (path → contents), removed when `t` ends. */
export function makeProject(t: ExecutionContext<unknown>, files: Record<string, string | object>): string {
  const dir = tempDir(t, "bpf2ts-wf-");
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string | object>): void {
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), typeof contents === "string" ? contents : JSON.stringify(contents, null, 2) + "\n");
  }
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bpf2ts args…` in-process in `cwd`. */
export async function cli(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: { ...env, CI: "1" } });
  return { code, stdout, stderr };
}

/** sha256 of every file under `dir` (relative path → hash), skipping `skip` directories. */
export function treeHashes(dir: string, skip: readonly string[] = [".bpf2ts-cache", "node_modules"]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (!skip.includes(name)) walk(p);
      } else {
        out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
      }
    }
  };
  walk(dir);
  return out;
}
