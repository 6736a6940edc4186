// The one place that fixes how generated code is printed: code-block-writer's CodeBlockWriter with pinned
// settings (2 spaces, LF, double quotes), so output is byte-stable whatever the machine.

import CodeBlockWriter from "code-block-writer";

export function newWriter(): CodeBlockWriter {
  return new CodeBlockWriter({ newLine: "\n", indentNumberOfSpaces: 2, useTabs: false, useSingleQuote: false });
}

/** A TSDoc block; `*\/` inside docs is defused so a C comment cannot end the TS one. */
export function docComment(w: CodeBlockWriter, lines: readonly string[]): void {
  const clean = lines.map((l) => l.replace(/\*\//g, "*\\/").replace(/\s+$/, ""));
  if (clean.length === 1) {
    w.writeLine(`/** ${clean[0]} */`);
    return;
  }
  w.writeLine("/**");
  for (const l of clean) w.writeLine(l ? ` * ${l}` : " *");
  w.writeLine(" */");
}
