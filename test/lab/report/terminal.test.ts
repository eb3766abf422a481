import { describe, expect, it } from "vitest";
import { renderSummary } from "../../../src/lab/report/terminal.ts";
import { failingRun, incompleteRun, passingRun } from "./fixtures.ts";

describe("renderSummary", () => {
  it("states the capacity of each lab the suite measured, a two-region lab's apart", () => {
    const single = passingRun();
    single.settings = { ...single.settings, capacityOrdersPerSec: 190, capacityRamp: "40/s→40" };
    const two = passingRun();
    two.settings = {
      ...two.settings,
      regions: "east,west",
      capacityOrdersPerSec: 91,
      capacityRamp: "40/s→39",
    };
    expect(renderSummary([single, two, single], { color: false })).toContain(
      "capacity measured at start: 190 orders/s (ramp 40/s→40); on the east,west lab 91 orders/s (ramp 40/s→39)\n",
    );
  });

  it("gives one line per experiment, what failed or was not checked under it, then a total", () => {
    const text = renderSummary([passingRun(), failingRun()], { color: false });
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^PASS {2}baseline {2}\(30\.0 s; checks 2\/2 passed, hypotheses 1\/1 held\)$/);
    expect(lines[1]).toMatch(/^FAIL {2}inventory-crash .*ABORTED: error_rate 0\.86 above 0\.8 for 5s$/);
    expect(lines.slice(2, 5)).toEqual([
      "  ✗ check no-lost-ack: 3 violation(s): order o-17 was acknowledged CONFIRMED but is missing",
      "  ✗ hypothesis availability (recovery) ≥ 0.99: availability 0.931 < 0.99",
      "  ? not checked money: not checked: payment provider records unavailable",
    ]);
    expect(lines[5]).toMatch(
      /^FAIL: 1 of 2 experiment\(s\) failed — checks: 4 pass \/ 1 fail \/ 1 not checked;/,
    );
    expect(lines).toHaveLength(6);
    expect(text).not.toContain("\u001b[");
  });

  it("says why a run failed: its most frequent failure kinds, at most five", () => {
    const run = failingRun();
    run.failures = Array.from({ length: 7 }, (_, i) => ({
      phase: "fault" as const,
      outcome: "fail" as const,
      kind: "order" as const,
      status: 429,
      error: `code_${i}`,
      count: i + 1,
      exampleOpId: 100 + i,
    }));
    const lines = renderSummary([run], { color: false }).split("\n");
    const errors = lines.filter((l) => l.startsWith("  · errors"));
    expect(errors).toEqual([
      "  · errors fault fail order 429 code_6 ×7 (e.g. op 106)",
      "  · errors fault fail order 429 code_5 ×6 (e.g. op 105)",
      "  · errors fault fail order 429 code_4 ×5 (e.g. op 104)",
      "  · errors fault fail order 429 code_3 ×4 (e.g. op 103)",
      "  · errors fault fail order 429 code_2 ×3 (e.g. op 102)",
      "  · errors: 2 more kind(s) in result.json (failures)",
    ]);
    // A passing run's few errors are not news.
    expect(renderSummary([{ ...passingRun(), failures: run.failures }], { color: false })).not.toContain(
      "· errors",
    );
  });

  it("says first and last that the shop had a built-in bug", () => {
    const run = failingRun();
    run.settings.builtInBug = "no-compensation";
    const lines = renderSummary([passingRun(), run], { color: false }).trimEnd().split("\n");
    const warning = /^BUILT-IN BUG "no-compensation": .* NOT a verification of the real shop$/;
    expect(lines[0]).toMatch(warning);
    expect(lines.at(-2)).toMatch(warning);
    expect(renderSummary([passingRun()], { color: false })).not.toContain("BUILT-IN BUG");
  });

  it("shows an incomplete run as INCOMPLETE, never PASS", () => {
    const lines = renderSummary([passingRun(), incompleteRun()], { color: false }).trimEnd().split("\n");
    expect(lines[1]).toMatch(/^INCOMPLETE {2}unread /);
    expect(lines[2]).toMatch(/^ {2}\? not checked money: /);
    expect(lines.at(-1)).toMatch(/^INCOMPLETE: 1 of 2 experiment\(s\) not fully checked — /);
    expect(renderSummary([failingRun(), incompleteRun()], { color: false })).toMatch(
      /FAIL: 1 of 2 experiment\(s\) failed, 1 incomplete/,
    );
  });

  it("colours only when asked", () => {
    const text = renderSummary([passingRun()], { color: true });
    expect(text).toContain("\u001b[32mPASS\u001b[0m");
    expect(text).toMatch(/PASS: all 1 experiment\(s\) passed/);
  });

  it("keeps control characters from experiment files out of the terminal", () => {
    const run = failingRun();
    run.experiment.name = "evil\u001b[2J\nname";
    const text = renderSummary([run], { color: false });
    expect(text).not.toContain("\u001b");
    expect(text).toContain("evil [2J name");
  });
});
