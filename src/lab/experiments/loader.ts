import { readFileSync } from "node:fs";
import { describeIssue, parseYamlSource } from "../yaml-source.ts";
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
  const yaml = parseYamlSource(source, file);
  if (yaml.syntaxErrors.length > 0) throw new ExperimentError(yaml.syntaxErrors);
  const parsed = experimentSchema.safeParse(yaml.document.toJS());
  if (!parsed.success)
    throw new ExperimentError(parsed.error.issues.map((issue) => describeIssue(issue, yaml)));
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
