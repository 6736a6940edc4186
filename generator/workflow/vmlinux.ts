// `bpf2ts vmlinux`: `vmlinux.h` from kernel BTF — the running kernel's /sys/kernel/btf/vmlinux, a raw
// BTF file, or an ELF (a vmlinux image, an object) with a .BTF section. The C printing is
// `formatCHeader` in vmlinux-h.ts; this module finds the BTF, calls it and writes the file atomically.
// When that printer is not available (an older build), bpftool is used instead, and said so.

import { execFile } from "node:child_process";
import { dirname, basename } from "node:path";
import { parseBtf, type Btf } from "../btf/index.js";
import { readElf } from "@bpf2ts/runtime/object-file";
import { Bpf2tsError } from "../errors.js";
import { readInputFile, writeAllOrNothing } from "../files.js";

export const KERNEL_BTF = "/sys/kernel/btf/vmlinux";

export class VmlinuxError extends Bpf2tsError {
  override name = "VmlinuxError";
}

export interface VmlinuxHeader {
  readonly text: string;
  /** Who printed it. */
  readonly via: "bpf2ts" | "bpftool";
  /** Why bpftool was used, for the user. */
  readonly note?: string;
}

/** The BTF of `path`: raw BTF (magic 0xeB9F) or the .BTF section of an ELF file. */
export async function readBtfFile(path: string): Promise<Btf> {
  let bytes: Buffer;
  try {
    bytes = readInputFile(path, path);
  } catch (e) {
    const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    throw new VmlinuxError(code === "ENOENT" && path === KERNEL_BTF ? `${path}: cannot read: no such file (kernel built without CONFIG_DEBUG_INFO_BTF?); pass --btf FILE` : (e as Error).message, { file: path, cause: e });
  }
  if (bytes.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    const section = readElf(bytes, path).section(".BTF");
    if (!section) throw new VmlinuxError(`${path}: ELF file without a .BTF section`, { file: path, section: ".BTF" });
    return parseBtf(section.data(), { file: path, section: ".BTF" });
  }
  return parseBtf(bytes, { file: path });
}

type Formatter = (btf: Btf) => string;

/** formatCHeader from vmlinux-h.ts, or why it cannot be used. */
async function loadFormatter(): Promise<Formatter | string> {
  try {
    const mod = (await import("./vmlinux-h.js")) as { formatCHeader?: Formatter };
    return typeof mod.formatCHeader === "function" ? mod.formatCHeader : "generator/workflow/vmlinux-h.ts exports no formatCHeader";
  } catch (e) {
    return `the TypeScript printer is not in this build (${(e as Error).message.split("\n")[0]})`;
  }
}

/** vmlinux.h for the BTF at `btfPath` (default: the running kernel's). */
export async function vmlinuxHeader(btfPath: string = KERNEL_BTF, opts: { allowBpftool?: boolean } = {}): Promise<VmlinuxHeader> {
  const format = await loadFormatter();
  if (typeof format !== "function" && opts.allowBpftool === false) throw new VmlinuxError(`vmlinux: ${format}`);
  // Read and parse first either way: errors about the input read the same whoever prints.
  const btf = await readBtfFile(btfPath);
  if (typeof format === "function") return { text: format(btf), via: "bpf2ts" };
  const text = await bpftoolDump(btfPath, format);
  return { text, via: "bpftool", note: `vmlinux.h printed by bpftool: ${format}` };
}

function bpftoolDump(btfPath: string, why: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile("bpftool", ["btf", "dump", "file", btfPath, "format", "c"], { maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        reject(new VmlinuxError(`vmlinux: ${why}, and bpftool ${missing ? "is not installed (apt-get install bpftool)" : `failed: ${String(stderr).trim() || err.message}`}`, { file: btfPath, cause: err }));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

/** Writes `text` to `path` through a temporary file, so a failure never leaves half a header. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  try {
    writeAllOrNothing(dirname(path), [{ path: basename(path), contents: text }]);
  } catch (e) {
    throw new VmlinuxError(`${path}: cannot write: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`, { file: path, cause: e });
  }
}
