import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Check } from "../checkers/check.ts";
import type { FinalState, Unreadable } from "../checkers/observed.ts";
import type { RegionalFinalState } from "../checkers/regional.ts";
import { runChecks } from "../checkers/registry.ts";
import type { HistoryOp } from "../history/op.ts";
import { HISTORY_FILE, parseHistory } from "../history/writer.ts";
import { type RunExperiment, type Verdict, verdictOf } from "./result.ts";

/**
 * A run saved as data, beside `history.jsonl`: `run.json` (the experiment, its seed and settings) and
 * `final-state.json` (what the shop ended with, as the checkers saw it). Checkers are pure functions
 * of the two files and the history, so a saved run can be re-judged later (`chaoscart check`), after a
 * checker is fixed, or attached to a bug report.
 */

export const RUN_FILE = "run.json";
export const FINAL_STATE_FILE = "final-state.json";

export interface RunRecord {
  schemaVersion: 1;
  experiment: RunExperiment;
  /** The checks the experiment asked for, in its order. */
  checks: string[];
  /** What makes the run what it was: the workload's PRNG seed, its key prefix and the SKUs it seeded. */
  seed: { workload: number; keyPrefix: string; skus: { hot: string[]; cold: string[] } };
  settings: Record<string, string | number | boolean>;
  startedAt: string;
}

export interface SavedRun {
  record: RunRecord;
  history: HistoryOp[];
  final: FinalState | RegionalFinalState | Unreadable;
}

export async function saveRunRecord(dir: string, record: RunRecord): Promise<void> {
  await writeFile(join(dir, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

export async function saveFinalState(
  dir: string,
  final: FinalState | RegionalFinalState | Unreadable,
): Promise<void> {
  await writeFile(join(dir, FINAL_STATE_FILE), `${JSON.stringify(final)}\n`);
}

export class SavedRunError extends Error {}

/** Reads a run directory; says which file is missing or broken. */
export async function loadSavedRun(dir: string): Promise<SavedRun> {
  const read = async <T>(file: string, parse: (text: string) => T): Promise<T> => {
    const path = join(dir, file);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new SavedRunError(`${path}: ${(error as Error).message} (not a saved run?)`);
    }
    try {
      return parse(text);
    } catch (error) {
      throw new SavedRunError(`${path}: ${(error as Error).message}`);
    }
  };
  const record = await read(RUN_FILE, (text) => JSON.parse(text) as RunRecord);
  if (record.schemaVersion !== 1 || !Array.isArray(record.checks))
    throw new SavedRunError(`${join(dir, RUN_FILE)}: not a run record of schema version 1`);
  const final = await read(FINAL_STATE_FILE, (text) => JSON.parse(text) as SavedRun["final"]);
  const history = await read(HISTORY_FILE, (text) => parseHistory(text, join(dir, HISTORY_FILE)));
  return { record, history, final };
}

/** Re-runs the checkers on a saved run: the run's own checks, or the named ones. */
export function recheck(run: SavedRun, names?: readonly string[]): { checks: Check[]; verdict: Verdict } {
  const checks = runChecks(names ?? run.record.checks, run.history, run.final);
  return { checks, verdict: verdictOf(checks, []) };
}
