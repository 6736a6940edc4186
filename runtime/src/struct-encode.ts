// A struct's encoder: its fields' writers in declaration order, anonymous unions' alternatives last
// first and only their present members. Built once per struct as one straight-line function, because
// walking the field list per call costs more than the rest of a map update's user-space work: a
// property load by a name that changes every step (megamorphic) and an indirect call per field,
// ~35 ns for a 16-byte struct against ~5 ns. Where code generation from strings is disallowed
// (`--disallow-code-generation-from-strings`, a CSP), the same walk runs as a loop.
//
// The generated source holds only JSON string literals (the field names) and numbered parameters
// (the fields' writers, built by struct.ts): nothing from the caller is evaluated as code.

/* eslint-disable @typescript-eslint/no-explicit-any */
export type FieldWriter = (x: any, v: DataView, o: number) => void;

/** A field and how to write it at the struct's offset `o`. */
export interface EncodeField {
  readonly name: string;
  readonly encode: FieldWriter;
}

/** A field, or an anonymous union: alternatives, each a list of steps. */
export type EncodeStep = EncodeField | { readonly alternatives: EncodeStep[][] };

/** Writes the fields of `x` at `o` (checks included: a field the writer rejects throws). */
export function fieldsEncoder(steps: readonly EncodeStep[]): FieldWriter {
  try {
    return compile(steps);
  } catch (e) {
    if (e instanceof EvalError) return (x, v, o) => walk(steps, x, v, o, false);
    throw e;
  }
}

function compile(steps: readonly EncodeStep[]): FieldWriter {
  const writers: FieldWriter[] = [];
  const lines: string[] = [];
  const emit = (list: readonly EncodeStep[], guarded: boolean): void => {
    for (const s of list) {
      if ("alternatives" in s) {
        for (let a = s.alternatives.length - 1; a >= 0; a--) emit(s.alternatives[a] ?? [], true);
        continue;
      }
      const w = `w${writers.push(s.encode) - 1}`;
      const name = JSON.stringify(s.name);
      lines.push(guarded ? `  { const y = x[${name}]; if (y !== undefined) ${w}(y, v, o); }` : `  ${w}(x[${name}], v, o);`);
    }
  };
  emit(steps, false);
  const params = writers.map((_, i) => `w${i}`);
  const body = `"use strict";\nreturn function encodeFields(x, v, o) {\n${lines.join("\n")}\n};`;
  return new Function(...params, body)(...writers) as FieldWriter;
}

/** The interpreted form: the same order, the same guards. */
function walk(steps: readonly EncodeStep[], x: any, v: DataView, o: number, guarded: boolean): void {
  for (const s of steps) {
    if ("alternatives" in s) {
      for (let a = s.alternatives.length - 1; a >= 0; a--) walk(s.alternatives[a] ?? [], x, v, o, true);
      continue;
    }
    const value = x[s.name];
    if (!guarded || value !== undefined) s.encode(value, v, o);
  }
}
