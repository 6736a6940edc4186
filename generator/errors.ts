// The generator's one error base, its stage subclasses, and the one place errors are turned into
// what the user reads (`errorReport`).
//
// Errors are recognised by class (`isKnownError`), with a brand for a second copy of the package,
// and their message reads "context: detail". Where an error is about a place in the input it carries
// the place in fields (file, section, type id, symbol, member), so a caller can point at it without
// parsing the message. The ELF and BTF readers' errors (ElfError, BtfError: the runtime's ObjectFileError) carry the same fields.

// The error class alone: every command loads this module, and the readers only when they read.
import { ObjectFileError } from "@bpf2ts/runtime/object-file/errors";

export interface ErrorPlace {
  /** The input file (as the user named it, never made absolute). */
  readonly file?: string;
  /** ELF section name. */
  readonly section?: string;
  /** BTF type id. */
  readonly typeId?: number;
  /** ELF symbol, map, program or variable name. */
  readonly symbol?: string;
  /** Struct member or config key. */
  readonly member?: string;
}

export interface Bpf2tsErrorOptions extends ErrorPlace {
  readonly cause?: unknown;
}

/** Base of every error the generator throws on purpose. */
export class Bpf2tsError extends Error {
  override name = "Bpf2tsError";
  /** Brand for recognising these errors across package copies, where `instanceof` fails. */
  readonly bpf2ts = true;
  readonly file?: string;
  readonly section?: string;
  readonly typeId?: number;
  readonly symbol?: string;
  readonly member?: string;

  constructor(message: string, options: Bpf2tsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.file !== undefined) this.file = options.file;
    if (options.section !== undefined) this.section = options.section;
    if (options.typeId !== undefined) this.typeId = options.typeId;
    if (options.symbol !== undefined) this.symbol = options.symbol;
    if (options.member !== undefined) this.member = options.member;
  }
}

/** The object does not describe something the way libbpf expects (maps, sections, license). */
export class ModelError extends Bpf2tsError {
  override name = "ModelError";
}

/** clang or llvm-strip missing, failing, or producing something unreadable. */
export class CompileError extends Bpf2tsError {
  override name = "CompileError";
  /** clang's stderr exactly as it printed it, when clang ran and failed. */
  readonly stderr?: string;
  /** The command line that failed. */
  readonly argv?: readonly string[];

  constructor(message: string, options: Bpf2tsErrorOptions & { stderr?: string; argv?: readonly string[] } = {}) {
    super(message, options);
    if (options.stderr !== undefined) this.stderr = options.stderr;
    if (options.argv !== undefined) this.argv = options.argv;
  }
}

/** A tool (clang, llvm-strip) could not be found; the message names the Debian package. */
export class ToolNotFoundError extends CompileError {
  override name = "ToolNotFoundError";
}

/** The user's C source could not be scanned. */
export class SourceError extends Bpf2tsError {
  override name = "SourceError";
}

/** Bad command-line usage or configuration; the CLI exits with 2 for these. */
export class UsageError extends Bpf2tsError {
  override name = "UsageError";
}

/** True for an error thrown by bpf2ts on purpose (any subclass), by class or by its brand. */
export function isBpf2tsError(e: unknown): e is Bpf2tsError {
  return e instanceof Bpf2tsError || (e instanceof Error && (e as { bpf2ts?: unknown }).bpf2ts === true);
}

/** An error whose message is meant for users: ours, or the ELF/BTF readers'. Anything else is a bug. */
export function isKnownError(e: unknown): e is Error & ErrorPlace {
  return isBpf2tsError(e) || e instanceof ObjectFileError;
}

export interface ErrorReport {
  /** What to print on stderr. */
  readonly text: string;
  /** 2 for bad usage, else 1. */
  readonly exitCode: number;
}

/**
 * How the CLI shows an error: a known one as its message; anything else as an internal error with a
 * pointer to the stack trace (printed with `debug`). `usage` marks errors of the command line itself
 * (yargs' own, or a UsageError): exit code 2 and a pointer to --help.
 */
export function errorReport(e: unknown, opts: { debug: boolean; usage?: boolean }): ErrorReport {
  const err = e instanceof Error ? e : new Error(String(e));
  const lines: string[] = [];
  const stderr = (err as { stderr?: unknown }).stderr;
  if (typeof stderr === "string" && stderr) lines.push(stderr.endsWith("\n") ? stderr.slice(0, -1) : stderr);
  // yargs reports its own validation failures as YError.
  const usage = opts.usage === true || err instanceof UsageError || err.name === "YError";
  const known = usage || isKnownError(err);
  lines.push(`bpf2ts: ${known ? "" : "internal error: "}${err.message}`);
  if (usage) lines.push("Run with --help for usage.");
  if (opts.debug) lines.push(`${err.stack ?? ""}${err.cause ? `\ncause: ${String((err.cause as Error).stack ?? err.cause)}` : ""}`);
  else if (!known) lines.push("Set BPF2TS_DEBUG=1 for the stack trace.");
  return { text: lines.join("\n") + "\n", exitCode: usage ? 2 : 1 };
}
