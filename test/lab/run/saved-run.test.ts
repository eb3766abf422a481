// Runs saved as data (issue 10 §2): a run directory (history.jsonl, final-state.json, run.json) is
// re-judged by `chaoscart check` with the same verdicts the checkers gave, a failing run included.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { FinalState } from "../../../src/lab/checkers/observed.ts";
import { CHECK_NAMES, runChecks } from "../../../src/lab/checkers/registry.ts";
import type { ClientOp } from "../../../src/lab/history/op.ts";
import { HistoryWriter } from "../../../src/lab/history/writer.ts";
import {
  loadSavedRun,
  type RunRecord,
  recheck,
  saveFinalState,
  saveRunRecord,
} from "../../../src/lab/run/saved.ts";

const run = promisify(execFile);
const CLI = path.resolve("bin/chaoscart.js");
const root = mkdtempSync(path.join(tmpdir(), "chaoscart-saved-run-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every check but no-false-sold-out: this hand-made run never sells out, so that one is not checked. */
const CHECKS = CHECK_NAMES.filter((name) => name !== "no-false-sold-out");

const history: ClientOp[] = [
  {
    type: "invoke",
    id: 1,
    process: "client",
    kind: "order",
    time: 1,
    wall: 1,
    value: { idempotencyKey: "k1" },
  },
  {
    type: "ok",
    id: 1,
    process: "client",
    kind: "order",
    time: 2,
    wall: 2,
    value: { idempotencyKey: "k1", orderId: "1", state: "CONFIRMED" },
  },
];

function final(sold: number): FinalState {
  return {
    skus: ["A"],
    orders: [
      {
        id: "1",
        idemKey: "k1",
        state: "CONFIRMED",
        total: 500,
        items: [{ sku: "A", qty: 1 }],
        stockReserved: true,
      },
    ],
    inventory: {
      // sold 2 with one CONFIRMED unit: no-oversell and conservation fail
      stock: [{ sku: "A", available: 10 - sold, reserved: 0, sold, quota: 10 }],
      reservations: [{ orderId: "1", sku: "A", qty: 1, state: "COMMITTED" }],
      movements: [
        { orderId: null, sku: "A", kind: "seed", qty: 10 },
        { orderId: "1", sku: "A", kind: "reserve", qty: 1 },
        { orderId: "1", sku: "A", kind: "commit", qty: 1 },
      ],
    },
    payments: [{ orderId: "1", state: "CAPTURED", captures: 1, amount: 500 }],
  };
}

async function saveRun(name: string, state: FinalState): Promise<string> {
  const dir = path.join(root, name);
  const writer = new HistoryWriter({ dir });
  for (const op of history) writer.append(op);
  await writer.close();
  const record: RunRecord = {
    schemaVersion: 1,
    experiment: { name, description: "hand-made", definition: `name: ${name}\n` },
    checks: CHECKS,
    seed: { workload: 42, keyPrefix: name, skus: { hot: ["A"], cold: [] } },
    settings: { rate: 1 },
    startedAt: new Date(0).toISOString(),
  };
  await saveRunRecord(dir, record);
  await saveFinalState(dir, state);
  return dir;
}

describe("a saved run", () => {
  it("reproduces the checkers' verdicts, passing and failing", async () => {
    for (const sold of [1, 2]) {
      const dir = await saveRun(`sold-${sold}`, final(sold));
      const saved = await loadSavedRun(dir);
      const { checks, verdict } = recheck(saved);
      expect(checks).toEqual(runChecks(CHECKS, history, final(sold)));
      expect(verdict).toBe(sold === 1 ? "pass" : "fail");
    }
  });

  it("keeps an unreadable final state unreadable: every check not checked", async () => {
    const dir = await saveRun("unreadable", final(1));
    writeFileSync(path.join(dir, "final-state.json"), JSON.stringify({ error: "connect ECONNREFUSED" }));
    const { checks, verdict } = recheck(await loadSavedRun(dir));
    expect(checks.every((c) => c.status === "not-checked")).toBe(true);
    expect(verdict).toBe("incomplete");
  });

  it("chaoscart check prints the verdicts, exits non-zero unless all pass, and --checks runs some", async () => {
    const passing = await saveRun("cli-pass", final(1));
    const failing = await saveRun("cli-fail", final(2));
    const ok = await run(process.execPath, [CLI, "check", passing]);
    expect(ok.stdout).toMatch(/no-oversell\s+pass/);
    expect(ok.stdout).toContain("verdict: PASS");

    const bad = await run(process.execPath, [CLI, "check", failing]).catch((error) => error);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/no-oversell\s+FAIL/);
    expect(bad.stdout).toContain("A: sold 2 but CONFIRMED orders hold 1");
    expect(bad.stdout).toContain("verdict: FAIL");

    const some = await run(process.execPath, [CLI, "check", failing, "--checks", "money", "no-duplicate"]);
    expect(some.stdout).toMatch(/money\s+pass/);
    expect(some.stdout).not.toContain("no-oversell");

    const missing = await run(process.execPath, [CLI, "check", root]).catch((error) => error);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("run.json");
  }, 60_000);
});
