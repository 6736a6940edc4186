// Error classes shared by every stage of the generator.
//
// Errors are recognised by `name`, not `instanceof` (two copies of the package may be loaded), and
// their message reads "context: detail". Where an error is about a place in the input it carries the
// place in fields, so a caller can point at it without parsing the message.

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

/** True for an error thrown by bpf2ts on purpose (any subclass), by `name` as well as by class. */
export function isBpf2tsError(e: unknown): e is Bpf2tsError {
  return e instanceof Error && (e as { bpf2ts?: unknown }).bpf2ts === true;
}
