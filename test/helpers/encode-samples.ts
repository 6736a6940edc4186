// What a module's struct encoders write and throw, as comparable data: for every struct, a value
// decoded from patterned bytes encoded again (hex, or the error), the same with every other field
// from a second value, and the error of each field made wrong in turn. Shared by a test and the child process it compares with.

/** Struct name → the bytes its encoder wrote (or the error) and, per field, the error for a wrong value. */
export type EncodeSamples = Record<string, { value: string; mixed: string; wrong: string[] }>;

interface AnyStruct {
  size: number;
  fields: Record<string, unknown>;
  decode(v: DataView, o: number, n: number): Record<string, unknown>;
  encode(x: unknown, v: DataView, o: number): void;
}

const isStruct = (s: unknown): s is AnyStruct =>
  typeof s === "object" && s !== null && "fields" in s && typeof (s as AnyStruct).encode === "function";

function attempt(f: () => string): string {
  try {
    return f();
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

/** Bytes that decode to valid strings (a NUL every 8th byte) and in-range numbers; `seed` varies them. */
function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i % 8 === 7 ? 0 : 97 + ((i * 7 + seed) % 26)));
}

export function encodeSamples(mod: Record<string, unknown>): EncodeSamples {
  const out: EncodeSamples = {};
  for (const [name, s] of Object.entries(mod)) {
    if (!isStruct(s)) continue;
    const n = s.size + 16; // room for a flexible array member
    const [a, b] = [1, 2].map((seed) => s.decode(new DataView(pattern(n, seed).buffer), 0, n)) as [Record<string, unknown>, Record<string, unknown>];
    // Every other field from the second value: members of a union then disagree, so their order shows.
    const mixed = Object.fromEntries(Object.keys(a).map((k, i) => [k, i % 2 ? b[k] : a[k]]));
    const write = (x: unknown): string => {
      const bytes = new Uint8Array(n).fill(0xee);
      s.encode(x, new DataView(bytes.buffer), 0);
      return Buffer.from(bytes).toString("hex");
    };
    out[name] = {
      value: attempt(() => write(a)),
      mixed: attempt(() => write(mixed)),
      wrong: Object.keys(s.fields).map((k) => attempt(() => write({ ...a, [k]: Symbol("wrong") }))),
    };
  }
  return out;
}
