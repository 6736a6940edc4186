// `tsc --strict` (plus the strictest extra checks a user may turn on) over generated modules, wherever
// they were written: "@bpf2ts/runtime" resolves to this checkout's runtime. Returns tsc's diagnostics
// as text, empty when the modules compile.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { repoRoot } from "./compile-c.js";

export const strictOptions: ts.CompilerOptions = {
  strict: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noImplicitReturns: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noPropertyAccessFromIndexSignature: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ["lib.es2023.d.ts", "lib.esnext.disposable.d.ts"],
  types: ["node"],
  typeRoots: [join(repoRoot, "node_modules", "@types")],
  paths: { "@bpf2ts/runtime": [join(repoRoot, "runtime", "dist", "index.d.ts")] },
  skipLibCheck: true,
  noEmit: true,
};

/** tsc's diagnostics for `files` (only those in the files themselves), formatted; "" when they type-check. */
export function typeCheck(files: readonly string[]): string {
  const program = ts.createProgram([...files], strictOptions);
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.includes(d.file.fileName));
  return ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repoRoot, getNewLine: () => "\n" });
}

/** Marks `dir` as holding ES modules (generated modules are ESM, as in a generated package). */
export function markEsm(dir: string): void {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
}
