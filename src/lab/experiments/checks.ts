import type { Check } from "../checkers/check.ts";
import { notChecked } from "../checkers/check.ts";
import { runChecker } from "../checkers/checker.ts";
import type { FinalState, Unreadable } from "../checkers/observed.ts";
import { checkerNamed } from "../checkers/registry.ts";
import type { HistoryOp } from "../history/op.ts";

/**
 * Runs the named checks (DESIGN §2) over a history and final state, each through the checker
 * protocol. Pure. A check whose input was not observed, or whose checker threw, is "not checked":
 * an empty observation must never pass.
 */
export function runChecks(
  names: readonly string[],
  history: readonly HistoryOp[],
  final: FinalState | Unreadable,
): Check[] {
  return names.map((name) => {
    const checker = checkerNamed(name);
    return checker ? runChecker(checker, history, final) : notChecked(name, "no checker by this name");
  });
}
