/**
 * What every checker returns. `not-checked` is a first-class outcome: a property the run could not
 * observe is reported as such, never as a pass.
 */
export type CheckStatus = "pass" | "fail" | "not-checked";

export interface Check {
  /** Stable id, e.g. "no-oversell", used in experiment files and JUnit. */
  name: string;
  status: CheckStatus;
  /** One line for tables. */
  summary: string;
  /** Every violation found (capped by the checker), or why the check could not run. */
  problems: string[];
}

/** What a checker's pure function finds: valid, or the problems (violations) it found. */
export interface CheckResult {
  valid: boolean;
  problems: string[];
}

export function checkFrom(name: string, result: CheckResult, ok: string): Check {
  return {
    name,
    status: result.valid ? "pass" : "fail",
    summary: result.valid ? ok : `${result.problems.length} violation(s): ${result.problems[0]}`,
    problems: result.problems.slice(0, 50),
  };
}

export function notChecked(name: string, why: string): Check {
  return { name, status: "not-checked", summary: `not checked: ${why}`, problems: [why] };
}
