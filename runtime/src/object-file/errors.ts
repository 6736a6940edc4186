// The one base of the object-file reader's errors (ElfError, BtfError), so that callers (the
// generator's CLI, the runtime's loader) recognise a malformed input with `instanceof` and read the
// place it names from fields instead of the message.

export interface ObjectFilePlace {
  /** The input file, as the caller named it. */
  readonly file?: string;
  /** ELF section name (or `#index` when the name could not be read). */
  readonly section?: string;
  /** BTF type id. */
  readonly typeId?: number;
}

/** A malformed ELF object or BTF blob; `message` reads "file: section: type N: detail". */
export class ObjectFileError extends Error {
  override readonly name: string = "ObjectFileError";
  readonly file?: string;
  readonly section?: string;
  readonly typeId?: number;
  constructor(message: string, opts: ObjectFilePlace & { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    if (opts.file !== undefined) this.file = opts.file;
    if (opts.section !== undefined) this.section = opts.section;
    if (opts.typeId !== undefined) this.typeId = opts.typeId;
  }
}
