// C syntax shared by the source scan (scan.ts) and event-type inference (events.ts): the
// tree-sitter-c parser, and small questions about declarations, casts and arguments.

import { createRequire } from "node:module";
import type Parser from "tree-sitter";
import { SourceError } from "../errors.js";

export type Node = Parser.SyntaxNode;

let parser: Parser | undefined;

/**
 * tree-sitter is a native addon: loaded on first use, so commands that never scan (inspect without
 * --source, --help) neither pay for it nor fail when its binary is broken.
 */
export function getParser(): Parser {
  if (!parser) {
    const require = createRequire(import.meta.url);
    try {
      const TreeSitter = require("tree-sitter") as typeof Parser;
      const language = require("tree-sitter-c") as Parser.Language;
      parser = new TreeSitter();
      parser.setLanguage(language);
    } catch (e) {
      throw new SourceError(`source scan: tree-sitter-c could not be loaded (${(e as Error).message}); reinstall with npm ci`, { cause: e });
    }
  }
  return parser;
}

export interface VarType {
  readonly spelling: string;
  readonly pointers: number;
  readonly array: boolean;
}

export function declaredVar(decl: Node, name: string): VarType | undefined {
  const spelling = specifierSpelling(decl.childForFieldName("type"));
  if (!spelling) return undefined;
  for (let d of decl.childrenForFieldName("declarator")) {
    let pointers = 0;
    let array = false;
    for (;;) {
      if (d.type === "init_declarator") d = d.childForFieldName("declarator")!;
      else if (d.type === "pointer_declarator") {
        pointers++;
        d = d.childForFieldName("declarator")!;
      } else if (d.type === "array_declarator") {
        array = true;
        d = d.childForFieldName("declarator")!;
      } else if (d.type === "parenthesized_declarator") d = d.namedChild(0)!;
      else break;
      if (!d) break;
    }
    if (d && d.type === "identifier" && d.text === name) return { spelling, pointers, array };
  }
  return undefined;
}

/** `struct event` / `union u` / `enum e` / `event_t` from a type node; undefined for primitives and anonymous types. */
export function specifierSpelling(type: Node | null): string | undefined {
  if (!type) return undefined;
  if (/^(struct|union|enum)_specifier$/.test(type.type)) {
    const name = type.childForFieldName("name")?.text;
    return name ? `${type.type.replace(/_specifier$/, "")} ${name}` : undefined;
  }
  if (type.type === "type_identifier") return type.text;
  return undefined;
}

/** `(struct event *)x` → `struct event`. */
export function castPointee(cast: Node): string | undefined {
  const desc = cast.childForFieldName("type");
  if (!desc) return undefined;
  const decl = desc.childForFieldName("declarator");
  if (decl?.type !== "abstract_pointer_declarator" || decl.namedChildCount > 0) return undefined;
  return specifierSpelling(desc.childForFieldName("type"));
}

/** `&events` → `events`. */
export function mapArg(arg: Node): string | undefined {
  const a = unparen(arg);
  if (a.type === "pointer_expression" && a.child(0)?.type === "&") {
    const t = unparen(a.childForFieldName("argument")!);
    if (t.type === "identifier") return t.text;
  }
  return undefined;
}

export function unparen(n: Node): Node {
  while (n.type === "parenthesized_expression" && n.namedChildCount === 1) n = n.namedChild(0)!;
  return n;
}

export function declaratorName(d: Node): string | undefined {
  for (;;) {
    switch (d.type) {
      case "identifier":
      case "field_identifier":
      case "type_identifier":
        return d.text;
      case "init_declarator":
      case "pointer_declarator":
      case "array_declarator":
      case "function_declarator":
      case "attributed_declarator": {
        const inner = d.childForFieldName("declarator") ?? d.namedChild(0);
        if (!inner) return undefined;
        d = inner;
        break;
      }
      case "parenthesized_declarator": {
        const inner = d.namedChild(0);
        if (!inner) return undefined;
        d = inner;
        break;
      }
      default:
        return undefined;
    }
  }
}
