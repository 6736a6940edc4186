// This package's version, read from its package.json (the header of every generated module cites it).
// A module of its own so `bpf2ts --version`/`--help` need not load the pipeline.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VERSION: string = (() => {
  const pkg = fileURLToPath(new URL("../../package.json", import.meta.url));
  try {
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();
