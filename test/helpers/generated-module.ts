// A module generated from C the way a user's build makes it, then used the way a user's code uses
// it: `bpf2ts` writes `<stem>.ts`, tsc type-checks it together with a usage file under the strictest
// options (typeCheck's), compiles both, and the module is imported.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { buildOutputs } from "../../generator/pipeline/run.js";
import { repoRoot } from "./compile-c.js";
import { strictOptions } from "./typecheck.js";

export interface GeneratedModuleOptions {
  stem: string;
  /** The C source, relative to the repository. */
  source: string;
  cflags?: string[];
  /** Ring buffer / perf event array → record type (`--event`). */
  events?: Record<string, string>;
  /** TypeScript that imports `./<stem>.js` and uses it: it must type-check too (the types are the test). */
  usage?: string;
}

/** Generates, type-checks (tsc --strict), compiles and imports `<stem>.ts`; throws tsc's diagnostics. */
export async function generatedModule<T>(opts: GeneratedModuleOptions): Promise<T> {
  const out = await buildOutputs({ stem: opts.stem, source: opts.source, target: "bpfel", cflags: opts.cflags ?? [], events: opts.events ?? {}, cwd: repoRoot });
  // Inside the repository, so the compiled module finds @bpf2ts/runtime in its node_modules.
  const dir = join(repoRoot, "dist/test/generated", opts.stem);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${opts.stem}.ts`);
  writeFileSync(file, out.files.find((f) => f.path === `${opts.stem}.ts`)!.contents as string);
  const files = [file];
  if (opts.usage !== undefined) {
    files.push(join(dir, "usage.ts"));
    writeFileSync(files[1]!, opts.usage);
  }
  const program = ts.createProgram(files, { ...strictOptions, noEmit: false, outDir: dir });
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.includes(d.file.fileName));
  if (diagnostics.length > 0) {
    throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repoRoot, getNewLine: () => "\n" }));
  }
  program.emit();
  return (await import(pathToFileURL(join(dir, `${opts.stem}.js`)).href)) as T;
}
