// The `bpf2ts` command line (yargs). Each command is a thin handler over a library function; errors
// become one clear line on stderr (clang's diagnostics verbatim before it) and an exit code:
// 0 ok, 1 failure, 2 bad usage. Stacks only with BPF2TS_DEBUG=1.

import { basename, relative, resolve } from "node:path";
import yargs, { type Argv } from "yargs";
import { splitShellWords, targetNames } from "../compile/clang.js";
import { Bpf2tsError, UsageError, errorReport } from "../errors.js";
import { readInputFile } from "../files.js";
import { STEM, STEM_RULE, type GenerateOptions } from "../pipeline/options.js";
import { VERSION } from "../version.js";
import { checkCommand, configOptions, generateConfigured, initCommand, vmlinuxCommand, watchCommand } from "./workflow-cli.js";

// The stages a command runs are imported by its handler, not here: `bpf2ts --help` (and every
// command) then loads only what it uses, and the CLI is ready in a few tens of milliseconds.

interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo = (): Io => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  cwd: process.cwd(),
  env: process.env,
});

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function generateCommand(io: Io) {
  return {
    command: "generate [stem] [source]",
    describe: "compile a .bpf.c and generate its typed TypeScript module (no arguments: every program of the config)",
    builder: (y: Argv) =>
      configOptions(y)
        .version(false) // `--version` is the package's version here (with --package); `bpf2ts --version` still prints bpf2ts's
        .positional("stem", { type: "string", describe: "prefix of the generated names and files (exec → exec.ts, ExecEvent); alone or omitted: programs from the config" })
        .positional("source", { type: "string", describe: "the eBPF C source (optional with --obj)" })
        .usage("$0 generate <stem> <source.c> [options] [-- <clang flags>]")
        .option("cc", { type: "string", describe: "clang binary (env BPF2TS_CC; default: clang, clang-19 … clang-14 on PATH)" })
        .option("cflags", { type: "string", describe: "flags for clang, shell-quoted (env BPF2TS_CFLAGS)" })
        .option("target", { type: "string", default: "bpfel,bpfeb", describe: `comma-separated targets: ${targetNames.join(", ")}` })
        .option("type", { type: "string", describe: "also emit this C type (repeatable)" })
        .option("global-types", { type: "boolean", default: true, describe: "emit every named type the source declares (--no-global-types: only those reachable from maps, variables and --type)" })
        .option("output-dir", { type: "string", default: ".", describe: "where to write the module and objects" })
        .option("output-stem", { type: "string", describe: "file name stem (default: the stem)" })
        .option("strip", { type: "boolean", default: true, describe: "strip DWARF as llvm-strip -g does (BTF is kept)" })
        .option("makebase", { type: "string", describe: "write <stem>.d, a make dependency file with paths relative to this directory" })
        .option("obj", { type: "string", describe: "generate from this compiled object instead of compiling (one per byte order)" })
        .option("event", { type: "string", describe: "record type of a ring buffer / perf event array: map=type (repeatable)" })
        .option("package", { type: "string", describe: "write a complete npm package into this directory (new, empty, or one bpf2ts made: only its own files are replaced)" })
        .option("name", { type: "string", describe: "with --package: the npm package name (default: the stem, or the name already in its package.json)" })
        .option("version", { type: "string", describe: "with --package: the package version (default 0.1.0, or the version already in its package.json)" })
        .option("force", { type: "boolean", default: false, describe: "with a config: regenerate even programs whose inputs did not change" })
        .example("$0 generate", "every program of bpf2ts.config.json (or package.json's \"bpf2ts\" field), in parallel, skipping unchanged ones")
        .example("$0 generate exec bpf/exec.bpf.c", "writes exec.ts, exec_bpfel.o, exec_bpfeb.o")
        .example("$0 generate exec exec.bpf.c --target native -- -I include", "one object for this machine, with an include path"),
    handler: async (argv: Record<string, unknown>) => {
      // No source and no --obj: the programs of the config (all, or the one named).
      if (argv.source === undefined && argv.obj === undefined) {
        const stem = argv.stem === undefined ? undefined : String(argv.stem);
        // `bpf2ts generate foo.bpf.c`: a source given where the stem goes, as bpf2go users sometimes do.
        if (stem !== undefined && (/\.(c|h|o)$/.test(stem) || stem.includes("/"))) {
          const guess = basename(stem).replace(/(_bpfe[lb])?\.o$/, "").replace(/(\.bpf)?\.[ch]$/, "").replace(/[^A-Za-z0-9_]/g, "_");
          throw new UsageError(`generate: ${stem} is a file, and the stem is missing: bpf2ts generate <stem> <source.bpf.c> [options] [-- <clang flags>] (as bpf2go <ident> <source>), e.g. bpf2ts generate ${guess} ${stem}`);
        }
        return generateConfigured(argv, asList(argv.stem), io);
      }
      const { parseEventOptions, runGenerate } = await import("../pipeline/run.js");
      // Checked here too (generate checks them again) so that a bad one is bad usage, exit 2.
      if (!STEM.test(String(argv.stem))) throw new UsageError(`generate: stem "${String(argv.stem)}" ${STEM_RULE}`);
      if (argv.outputStem !== undefined && !STEM.test(String(argv.outputStem)))
        throw new UsageError(`generate: --output-stem "${String(argv.outputStem)}" ${STEM_RULE} (it names files inside --output-dir)`);
      const cflags = [
        ...splitShellWords(String(argv.cflags ?? io.env.BPF2TS_CFLAGS ?? "")),
        ...asList(argv["--"]),
      ];
      const options = {
        stem: String(argv.stem),
        ...(argv.source !== undefined && { source: String(argv.source) }),
        ...(argv.obj !== undefined && { objects: asList(argv.obj) }),
        ...(argv.cc !== undefined && { cc: String(argv.cc) }),
        cflags,
        target: String(argv.target),
        types: asList(argv.type),
        globalTypes: argv.globalTypes !== false,
        outputDir: String(argv.outputDir),
        ...(argv.outputStem !== undefined && { outputStem: String(argv.outputStem) }),
        strip: argv.strip !== false,
        ...(argv.makebase !== undefined && { makebase: String(argv.makebase) }),
        events: parseEventOptions(asList(argv.event)),
        cwd: io.cwd,
        env: io.env,
      };
      const packageOnly = ["name", "version"].filter((k) => argv[k] !== undefined);
      if (argv.package === undefined && packageOnly.length) throw new UsageError(`generate: ${packageOnly.map((k) => `--${k}`).join(" and ")} name${packageOnly.length > 1 ? "" : "s"} the package of --package DIR; give that too`);
      if (argv.package !== undefined) {
        const pkg = { ...(argv.name !== undefined && { name: String(argv.name) }), ...(argv.version !== undefined && { version: String(argv.version) }) };
        await writePackageFor(String(argv.package), options, pkg, io);
        return;
      }
      const result = await runGenerate(options);
      for (const w of result.warnings) io.stderr(w.endsWith("\n") ? w : w + "\n");
      for (const f of result.written) io.stdout(`wrote ${relative(io.cwd, resolve(result.outputDir, f)) || f}\n`);
    },
  };
}

/** `--package DIR`: generator/package.ts (loaded only when asked for) writes the whole package. */
async function writePackageFor(dir: string, options: GenerateOptions, pkg: { name?: string; version?: string }, io: Io): Promise<void> {
  const { writePackage } = await import("../workflow/package.js");
  const result = await writePackage({ ...options, packageDir: dir, ...pkg });
  for (const f of result.written) io.stdout(`wrote ${f}\n`);
  for (const f of result.removed) io.stdout(`removed ${f} (no longer generated)\n`);
  for (const k of result.kept) io.stderr(`note: kept ${k.path}: ${k.why}\n`);
}

function inspectCommand(io: Io) {
  return {
    command: "inspect <object>",
    describe: "list the programs, maps, variables and types of a compiled eBPF object",
    builder: (y: Argv) =>
      y
        .positional("object", { type: "string", describe: "a compiled .o (with BTF)" })
        .option("source", { type: "string", describe: "the C source, to show inferred event types and doc comments" })
        .option("event", { type: "string", describe: "record type of a ring buffer / perf event array: map=type" })
        .option("json", { type: "boolean", default: false, describe: "print the object model as JSON" })
        .option("cc", { type: "string", describe: "clang, to compile record types the object's BTF lacks from --source" })
        .option("cflags", { type: "string", describe: "flags for that compile, shell-quoted (as given to generate)" })
        .option("target", { type: "string", describe: `the target the object was built for, for that compile's defines (__TARGET_ARCH_*): ${targetNames.join(", ")}` })
        .usage("$0 inspect <object> [--source file.bpf.c] [options] [-- <clang flags>]"),
    handler: async (argv: Record<string, unknown>) => {
      const file = String(argv.object);
      const [{ parseBtf }, { checkParsedObject, readElf }, { formatInspect }, { buildModel }, { completeTypes, parseEventOptions, readTextOrUndefined }, { quoteIncludeDirs, scanSourceTree }] = await Promise.all([
        import("../btf/index.js"),
        import("@bpf2ts/runtime/object-file"),
        import("./inspect.js"),
        import("../model/model.js"),
        import("../pipeline/run.js"),
        import("../source/tree.js"),
      ]);
      const bytes = await readOrFail(resolve(io.cwd, file), file);
      if (looksLikeCSource(file, bytes)) {
        const stem = basename(file).replace(/(\.bpf)?\.[ch]$/, "").replace(/[^A-Za-z0-9_]/g, "_");
        throw new UsageError(`inspect: ${file} is C source, not a compiled object: generate it first (bpf2ts generate ${stem} ${file}, then bpf2ts inspect ${stem}_bpfel.o --source ${file})`, { file });
      }
      const elf = readElf(bytes, file);
      const btfSection = elf.section(".BTF");
      if (!btfSection) throw new Bpf2tsError(`${file}: no .BTF section (compile with -g)`, { file, section: ".BTF" });
      const btf = parseBtf(btfSection.data(), { file, section: ".BTF" });
      checkParsedObject(elf, btf, file);
      const source = argv.source !== undefined ? String(argv.source) : undefined;
      if (source !== undefined) await readOrFail(resolve(io.cwd, source), source);
      const cflags = [...splitShellWords(String(argv.cflags ?? io.env.BPF2TS_CFLAGS ?? "")), ...asList(argv["--"])];
      const scan = source !== undefined ? scanSourceTree(resolve(io.cwd, source), source, readTextOrUndefined, quoteIncludeDirs(cflags, io.cwd)) : undefined;
      const modelOptions = { file, events: parseEventOptions(asList(argv.event)), ...(scan && { source: scan }) };
      let model = buildModel(elf, btf, modelOptions);
      if (source !== undefined && model.missingTypes.length > 0) {
        // Record types only reserved never reach the object's BTF: compile them from the source as generate does.
        const more = await completeTypes(model, btf, { source, ...(scan && { scan }), ...(argv.cc !== undefined && { cc: String(argv.cc) }), ...(argv.target !== undefined && { target: String(argv.target) }), cflags, cwd: io.cwd, env: io.env });
        if (more !== btf) model = buildModel(elf, more, modelOptions);
      }
      if (argv.json) {
        const { btf: _btf, ...rest } = model;
        io.stdout(JSON.stringify(rest, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
      } else {
        io.stdout(formatInspect(model));
      }
    },
  };
}

/** A `.c`/`.h` file, or text that is not an ELF object (no NUL bytes in its start). */
function looksLikeCSource(file: string, bytes: Buffer): boolean {
  if (bytes.subarray(0, 4).equals(Buffer.from("\x7fELF", "latin1"))) return false;
  return /\.[ch]$/.test(file) || (bytes.length > 0 && !bytes.subarray(0, 4096).includes(0));
}

async function readOrFail(path: string, shown: string): Promise<Buffer> {
  return readInputFile(path, shown);
}

/** Runs the CLI; resolves to the exit code. */
export async function main(rawArgs: readonly string[], io: Io = defaultIo()): Promise<number> {
  let usage = false;
  const args = joinFlagValues(rawArgs);
  const parser = yargs([...args])
    .scriptName("bpf2ts")
    .parserConfiguration({ "populate--": true })
    .command(generateCommand(io) as never)
    .command(inspectCommand(io) as never)
    .command(checkCommand(io) as never)
    .command(watchCommand(io) as never)
    .command(initCommand(io) as never)
    .command(vmlinuxCommand(io) as never)
    .demandCommand(1, "give a command (bpf2ts --help lists them)")
    .check(noEmptyPaths, true)
    .strict()
    .version(VERSION)
    .help()
    .alias("h", "help")
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      usage = true;
      throw new UsageError(msg);
    })
    .epilogue("Exit codes: 0 ok, 1 failure, 2 bad usage. BPF2TS_DEBUG=1 prints stacks.");
  try {
    const missing = missingPathValue(args);
    if (missing !== undefined) {
      usage = true;
      throw new UsageError(`--${missing} needs a value`);
    }
    let helpText = "";
    await parser.parseAsync([...args], {}, (_err, _argv, output) => {
      helpText = output;
    });
    if (helpText) io.stdout(helpText + "\n");
    return 0;
  } catch (e) {
    return report(e, io, usage);
  }
}

/** Per command, the options naming a file or directory: given with no value, yargs would take ""
 * (the current directory) or quietly the default instead of saying that the value is missing. */
const pathOptions: Record<string, readonly string[]> = {
  generate: ["cc", "config", "makebase", "obj", "output-dir", "output-stem", "package"],
  inspect: ["cc", "source"],
  check: ["config"],
  watch: ["config"],
  init: ["dir", "btf"],
  vmlinux: ["btf"],
};

/** `--output-dir` last or followed by another option (yargs fills in the default there). */
function missingPathValue(args: readonly string[]): string | undefined {
  const end = args.indexOf("--");
  const options = end < 0 ? args : args.slice(0, end);
  const names = pathOptions[options[0] ?? ""] ?? [];
  return names.find((name) => options.some((a, i) => a === `--${name}` && (i + 1 === options.length || /^--?[A-Za-z]/.test(options[i + 1]!))));
}

function noEmptyPaths(argv: Record<string, unknown>): true {
  for (const name of pathOptions[String((argv._ as unknown[])[0])] ?? []) {
    const value = argv[name];
    if (value === "" || (Array.isArray(value) && value.includes(""))) throw new UsageError(`--${name} needs a value`);
  }
  return true;
}

/**
 * `--cflags "-O2 -g"` as bpf2go users write it: yargs would read a value that starts with "-" as an
 * option, so glue it to its flag (`--cflags=-O2 -g`) before parsing. Arguments after `--` stay as they are.
 */
function joinFlagValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "--cflags" && i + 1 < args.length && args[i + 1]!.startsWith("-") && args[i + 1] !== "--") {
      out.push(`--cflags=${args[++i]}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Prints an error the way a user wants to see it (errors.ts decides how); returns the exit code. */
function report(e: unknown, io: Io, usage: boolean): number {
  const { text, exitCode } = errorReport(e, { debug: io.env.BPF2TS_DEBUG === "1", usage });
  io.stderr(text);
  return exitCode;
}
