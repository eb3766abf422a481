/**
 * Writes the report directory: report.html, result.json, junit.xml. Everything is rendered first, each
 * file is written to a temporary name beside its target and renamed into place only when all three are
 * on disk, so a failure leaves the previous files (or none) — never a half-written one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { RunResult, Verdict } from "../run/result.ts";
import { overallVerdict } from "./format.ts";
import { renderHtml } from "./html.ts";
import { renderJunit } from "./junit.ts";

export interface ReportPaths {
  html: string;
  json: string;
  junit: string;
}

/** result.json of a suite run; a single experiment's result.json is its `RunResult` itself. */
export interface SuiteResult {
  schemaVersion: 1;
  verdict: Verdict;
  experiments: RunResult[];
}

export function resultJson(input: RunResult | readonly RunResult[]): RunResult | SuiteResult {
  const results = asList(input);
  if (results.length === 1 && results[0]) return results[0];
  return { schemaVersion: 1, verdict: overallVerdict(results), experiments: [...results] };
}

export async function writeReport(
  dir: string,
  input: RunResult | readonly RunResult[],
): Promise<ReportPaths> {
  const results = asList(input);
  if (results.length === 0) throw new Error("writeReport: no experiment results to write");
  const paths: ReportPaths = {
    html: join(dir, "report.html"),
    json: join(dir, "result.json"),
    junit: join(dir, "junit.xml"),
  };
  // result.json goes into place last: when it is new, so are the other two.
  const files: [string, string][] = [
    [paths.html, renderHtml(results)],
    [paths.junit, renderJunit(results)],
    [paths.json, `${JSON.stringify(resultJson(results), null, 2)}\n`],
  ];
  await mkdir(dir, { recursive: true });
  const suffix = `.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const pending = new Set<string>();
  try {
    for (const [path, text] of files) {
      const temp = `${path}${suffix}`;
      pending.add(temp);
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [path] of files) {
      await rename(`${path}${suffix}`, path);
      pending.delete(`${path}${suffix}`);
    }
  } finally {
    await Promise.all([...pending].map((temp) => rm(temp, { force: true })));
  }
  return paths;
}

function asList(input: RunResult | readonly RunResult[]): readonly RunResult[] {
  return Array.isArray(input) ? input : [input as RunResult];
}
