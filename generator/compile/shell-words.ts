// Splitting a flags string (`--cflags`, `BPF2TS_CFLAGS`) into arguments the way a POSIX shell would,
// without running one: single quotes are literal, double quotes allow \" \\ \$ \`, a backslash outside
// quotes escapes the next character. No expansion of variables or globs.

import { UsageError } from "../errors.js";

export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`flags: unterminated single quote in ${JSON.stringify(text)}`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) j++;
        if (text[j] !== "\n" || text[j - 1] !== "\\") word += text[j];
      }
      if (j >= text.length) throw new UsageError(`flags: unterminated double quote in ${JSON.stringify(text)}`);
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < text.length && text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i++;
    } else if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
