// The base of the object-file reader's errors (ElfError, BtfError): a BpfError (the runtime's one
// error base) with EINVAL, so callers (the generator's CLI, the runtime's loader) recognise a
// malformed input with `instanceof` and read the place it names from fields instead of the message.

import { BpfError, errno } from "../errors.js";

export interface ObjectFilePlace {
  /** The input file, as the caller named it. */
  readonly file?: string;
  /** ELF section name (or `#index` when the name could not be read). */
  readonly section?: string;
  /** BTF type id. */
  readonly typeId?: number;
}

/** A malformed ELF object or BTF blob; `message` reads "file: section: type N: detail". */
export class ObjectFileError extends BpfError {
  override readonly name: string = "ObjectFileError";
  constructor(message: string, opts: ObjectFilePlace & { cause?: unknown } = {}) {
    super(message, { errno: errno.EINVAL, code: "EINVAL", ...opts });
  }
}
