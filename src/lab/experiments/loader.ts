import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Experiment, experimentSchema } from "./schema.ts";

export class ExperimentError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

export interface LoadedExperiment {
  experiment: Experiment;
  file: string;
  source: string;
}

/** Parses and validates an experiment; every error names file:line:column and the field. */
export function parseExperiment(source: string, file: string): LoadedExperiment {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new ExperimentError(
      document.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return `${file}:${pos.line}:${pos.col}: ${error.message.split("\n")[0]}`;
      }),
    );
  }
  const parsed = experimentSchema.safeParse(document.toJS());
  if (!parsed.success)
    throw new ExperimentError(
      parsed.error.issues.map((issue) => describeIssue(issue, document, lineCounter, file)),
    );
  return { experiment: parsed.data, file, source };
}

export function loadExperiment(file: string): LoadedExperiment {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new ExperimentError([`${file}: cannot read: ${(error as Error).message}`]);
  }
  return parseExperiment(source, file);
}

/** `file:line:column: field: message` for a zod issue of a YAML document (also used for topology files). */
export function describeIssue(
  issue: z.core.$ZodIssue,
  document: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  file: string,
) {
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
