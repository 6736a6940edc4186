// Bundles the compiled CLI (dist/generator/cli/cli.js and everything it imports, yargs included) into
// dist/generator/cli.bundle.js, so `bpf2ts` starts by reading one file instead of resolving and
// reading a hundred ESM modules (Node 20 has no module compile cache). Native and heavy packages stay
// external and load on first use. Each module keeps its own `import.meta.url` (paths to templates/,
// package.json are relative to where the module was compiled), rewritten relative to the bundle.
// bin/bpf2ts.js falls back to dist/generator/cli/cli.js where there is no bundle.

import { build } from "esbuild";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(root, "dist/generator");

const ownUrl = {
  name: "own-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]generator[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const rel = relative(outdir, args.path).split("\\").join("/");
      return { contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: "js" };
    });
  },
};

// yargs measures its help text with string-width, whose module body builds an Intl.Segmenter and
// Unicode-property regexps (tens of ms at every start). The help is ours: plain text, a column per
// code point, so the width is the code points once ANSI escapes are stripped.
const lightStringWidth = {
  name: "light-string-width",
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, () => ({ path: "string-width", namespace: "light" }));
    b.onLoad({ filter: /.*/, namespace: "light" }, () => ({
      contents: "const ansi = /\\u001B\\[[0-9;]*[A-Za-z]/g;\nexport default function stringWidth(s) { return typeof s === 'string' ? [...s.replace(ansi, '')].length : 0; }\n",
      loader: "js",
    }));
  },
};

// The previous build's chunks (their names are content hashes).
for (const f of await readdir(outdir)) if (f.startsWith("cli.bundle")) await rm(resolve(outdir, f));

await build({
  entryPoints: { "cli.bundle": resolve(outdir, "cli/cli.js") },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: "cli.bundle-[hash]",
  format: "esm",
  platform: "node",
  target: "node20",
  // Native addons, the runtime, and packages that find files next to themselves.
  external: ["tree-sitter", "tree-sitter-c", "ts-morph", "typescript", "clang-format", "@bpf2ts/runtime"],
  // yargs' ESM build calls require() for its CommonJS parts: give the bundle a require.
  banner: { js: 'import { createRequire as __bpf2tsRequire } from "node:module"; const require = __bpf2tsRequire(import.meta.url);' },
  plugins: [ownUrl, lightStringWidth],
  logLevel: "warning",
  legalComments: "none",
});

// The early compile's starter (compile/early.js and what it imports, the runtime's error classes
// included) as one CommonJS file that imports only node: builtins: bin/bpf2ts.js requires it
// synchronously as its first act, so clang starts without the ESM loader resolving and reading seven
// modules one level after another. The in-process strip, which clang.ts loads lazily and the starter
// never runs, stays out.
await build({
  entryPoints: [resolve(outdir, "compile/early.js")],
  outfile: resolve(outdir, "early.bundle.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  plugins: [
    {
      name: "no-strip-debug",
      setup(b) {
        b.onResolve({ filter: /\/strip-debug\.js$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
  logLevel: "warning",
  legalComments: "none",
});

// `bpf2ts --help`, `--version` and `bpf2ts <command> --help` as this bundle prints them, at the widths
// it wraps to (100 columns off a terminal, 110 on a wide one): bin/bpf2ts.js prints them from
// cli.help.json without loading the bundle, so help is there as fast as node starts. Generated from
// the bundle itself, so the text cannot differ from what it would print (the bundle's help is always
// English: yargs' locale files are not bundled).
const { main } = await import(pathToFileURL(resolve(outdir, "cli.bundle.js")).href);
const printed = async (args, columns) => {
  const saved = Object.getOwnPropertyDescriptor(process.stdout, "columns");
  Object.defineProperty(process.stdout, "columns", { value: columns, configurable: true });
  let stdout = "";
  let stderr = "";
  const io = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: root, env: {} };
  try {
    const code = await main(args, io);
    if (code !== 0 || stderr) throw new Error(`bundle-cli: bpf2ts ${args.join(" ")} exited ${code}: ${stderr}`);
    return stdout;
  } finally {
    if (saved) Object.defineProperty(process.stdout, "columns", saved);
    else delete process.stdout.columns;
  }
};
const help = {};
for (const columns of [100, 110]) {
  const top = await printed(["--help"], columns);
  const commands = [...top.matchAll(/^ {2}bpf2ts (\w+)/gm)].map((m) => m[1]);
  if (commands.length === 0) throw new Error("bundle-cli: no commands in bpf2ts --help");
  help[columns] = { "--help": top, "--version": await printed(["--version"], columns) };
  for (const c of commands) help[columns][`${c} --help`] = await printed([c, "--help"], columns);
}
await writeFile(resolve(outdir, "cli.help.json"), JSON.stringify(help));
