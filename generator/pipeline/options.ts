// What one `generate` run is asked to do: the CLI's options, a config entry, or a build record.

/** A stem or output stem: an identifier-like file name, never a path (no `/`, no `..`). */
export const STEM = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const STEM_RULE = "must start with a letter or _ and hold only letters, digits, _ and -";

export interface GenerateOptions {
  readonly stem: string;
  /** The C source; optional with `objects`, where it only feeds the scan (events, docs). */
  readonly source?: string;
  /** `--obj`: existing objects to generate from instead of compiling (one per byte order). */
  readonly objects?: readonly string[];
  readonly cc?: string;
  /** Split flags (`--cflags` and anything after `--`). */
  readonly cflags?: readonly string[];
  /** `--target` spec; default "bpfel,bpfeb" as bpf2go. */
  readonly target?: string;
  readonly types?: readonly string[];
  readonly globalTypes?: boolean;
  readonly outputDir?: string;
  readonly outputStem?: string;
  /** Default true. */
  readonly strip?: boolean;
  readonly makebase?: string;
  /** `--event map=type`. */
  readonly events?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Start the types-only compile beside the main one when the scan predicts types the object will
   * lack and a core is free (default). Config runs turn it off: their programs fill the cores.
   */
  readonly typesAhead?: boolean;
}
