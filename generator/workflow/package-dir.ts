// Writing a generated package into its directory without ever destroying the user's work. The
// package's manifest, `.bpf2ts-package.json`, lists the files bpf2ts wrote with their sha256; only
// those are replaced or removed, and only while they still hold what bpf2ts wrote (the generated
// module and objects, marked DO NOT EDIT, are always replaced). package.json is merged: fields the
// user owns (name, version, description, keywords, scripts and dependency entries, …) keep the user's
// values and only missing ones are added; the fields that describe the generated layout (exports, bin,
// files, type, …) follow the template. A non-empty directory without a manifest is not a package bpf2ts
// made: it is refused, untouched.

import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Bpf2tsError } from "../errors.js";
import { writeAllOrNothing } from "../files.js";

export const MANIFEST = ".bpf2ts-package.json";

export class PackageDirError extends Bpf2tsError {
  override name = "PackageError";
}

interface Manifest {
  /** Package path → sha256 of the contents bpf2ts wrote there. */
  readonly files: Record<string, string>;
}

export interface PackageWrite {
  /** Package paths written (created or replaced), sorted. */
  readonly written: readonly string[];
  /** Package paths kept because the user changed them, with the reason. */
  readonly kept: ReadonlyArray<{ path: string; why: string }>;
  /** Package paths bpf2ts wrote earlier and no longer generates, removed. */
  readonly removed: readonly string[];
}

/** package.json fields that describe the generated files: always the template's. */
const LAYOUT_FIELDS = new Set(["type", "exports", "main", "types", "bin", "files", "os", "engines", "sideEffects"]);

export interface WriteOptions {
  /** Paths that are regenerated whatever their state (the generated module and objects). */
  readonly generated?: ReadonlySet<string>;
  /** package.json values given explicitly (`--name`, `--version`): they win over the user's. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** How messages name the directory (default: `dir`). */
  readonly label?: string;
}

const sha256 = (b: string | Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Writes `files` (package path → contents) as the package at `dir`; see the file comment. */
export function writePackageFiles(dir: string, files: ReadonlyMap<string, string | Uint8Array>, opts: WriteOptions = {}): PackageWrite {
  const target = resolve(dir);
  dir = opts.label ?? dir;
  if (existsSync(target) && !statSync(target).isDirectory()) throw new PackageDirError(`write package ${dir}: exists and is not a directory`, { file: dir });
  const manifestPath = join(target, MANIFEST);
  const manifest = readManifest(manifestPath, dir);
  if (!manifest && existsSync(target) && readdirSync(target).length > 0) {
    throw new PackageDirError(
      `write package ${dir}: the directory is not empty and is not a package bpf2ts made (no ${MANIFEST}); bpf2ts replaces only files it wrote: give a new or empty directory`,
      { file: dir },
    );
  }
  const previous = manifest?.files ?? {};
  const onDisk = (path: string): Buffer | undefined => {
    try {
      return readFileSync(join(target, path));
    } catch {
      return undefined;
    }
  };

  const plan = new Map<string, string | Uint8Array>();
  const record: Record<string, string> = {};
  const kept: Array<{ path: string; why: string }> = [];
  for (const [path, contents] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const current = onDisk(path);
    if (path === "package.json") {
      const merged = current ? mergePackageJson(current.toString("utf8"), contents.toString(), opts.overrides ?? {}, dir) : contents;
      plan.set(path, merged);
      record[path] = sha256(merged);
      continue;
    }
    const ours = current === undefined || opts.generated?.has(path) || previous[path] === sha256(current);
    if (ours) {
      plan.set(path, contents);
      record[path] = sha256(contents);
    } else {
      kept.push({ path, why: previous[path] ? "changed since bpf2ts wrote it; delete it to get the new version" : "not written by bpf2ts" });
      if (previous[path]) record[path] = previous[path];
    }
  }
  const removed: string[] = [];
  for (const [path, hash] of Object.entries(previous)) {
    if (files.has(path)) continue;
    const current = onDisk(path);
    if (current === undefined) continue;
    if (sha256(current) === hash) removed.push(path);
    else kept.push({ path, why: "no longer generated, but changed since bpf2ts wrote it" });
  }
  plan.set(MANIFEST, JSON.stringify({ generator: "bpf2ts", note: "the files bpf2ts generate --package wrote here (sha256); it replaces only these", files: record }, null, 2) + "\n");

  // All or nothing: the new files, the manifest and the removals, rolled back together on any failure.
  try {
    writeAllOrNothing(target, [...plan].map(([path, contents]) => ({ path, contents })), removed);
  } catch (e) {
    throw new PackageDirError(`write package ${dir}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}; nothing was changed`, { file: dir, cause: e });
  }
  return { written: [...plan.keys()].filter((p) => p !== MANIFEST), kept, removed };
}

function readManifest(path: string, dir: string): Manifest | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as Partial<Manifest>;
    if (typeof m.files === "object" && m.files !== null) return m as Manifest;
  } catch {
    // fall through
  }
  throw new PackageDirError(`write package ${dir}: ${MANIFEST} is not a bpf2ts package manifest; restore it or give a new directory`, { file: path });
}

/**
 * The user's package.json with the generated one's fields merged in: the layout fields from the
 * template, everything else the user's where they set it (objects such as scripts and dependencies
 * merged key by key), and explicit overrides last.
 */
export function mergePackageJson(existing: string, generated: string, overrides: Readonly<Record<string, string>>, dir: string): string {
  let user: Record<string, unknown>;
  try {
    user = JSON.parse(existing) as Record<string, unknown>;
  } catch (e) {
    throw new PackageDirError(`write package ${dir}: package.json: not valid JSON (${(e as Error).message}); fix it, bpf2ts merges its fields into yours`, { file: join(dir, "package.json"), cause: e });
  }
  const ours = JSON.parse(generated) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...user };
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  for (const [k, v] of Object.entries(ours)) {
    if (LAYOUT_FIELDS.has(k) || !(k in user)) out[k] = v;
    else if (isObject(v) && isObject(user[k])) out[k] = { ...v, ...user[k] };
  }
  // The template drops `bin` when no CLI ships: so does the merge.
  if (!("bin" in ours)) delete out.bin;
  Object.assign(out, overrides);
  const indent = /^\{\n([ \t]+)"/.exec(existing)?.[1] ?? "  ";
  return JSON.stringify(out, null, indent) + "\n";
}
