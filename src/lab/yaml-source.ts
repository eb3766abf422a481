import { type Document, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/**
 * A YAML (or JSON) file parsed with its positions kept, so that every problem — a syntax error or
 * a schema issue — can name `file:line:column`. Shared by experiments and topology files.
 */
export interface YamlSource {
  file: string;
  document: Document.Parsed;
  lines: LineCounter;
  /** Syntax errors as `file:line:column: message`; empty when the text parsed. */
  syntaxErrors: string[];
}

export function parseYamlSource(source: string, file: string): YamlSource {
  const lines = new LineCounter();
  const document = parseDocument(source, { lineCounter: lines, prettyErrors: false });
  const syntaxErrors = document.errors.map((error) => {
    const pos = lines.linePos(error.pos[0]);
    return `${file}:${pos.line}:${pos.col}: ${error.message.split("\n")[0]}`;
  });
  return { file, document, lines, syntaxErrors };
}

/** `file:line:column: field: message` for a zod issue of the parsed document. */
export function describeIssue(issue: z.core.$ZodIssue, { document, lines, file }: YamlSource): string {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  // Point at the deepest node that exists: a missing field is reported at its parent.
  let where = "";
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as
      | { range?: [number, number, number] }
      | undefined;
    if (node?.range) {
      const pos = lines.linePos(node.range[0]);
      where = `${pos.line}:${pos.col}`;
      break;
    }
  }
  const field =
    path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${p}`)).join("") || "(top)";
  const message =
    issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
  return `${file}:${where || "1:1"}: ${field}: ${message}`;
}
