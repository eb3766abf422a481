// The lab's own regression guard (src/shop/built-in-bugs.ts): the shop launched with one deliberate
// bug must fail the experiment written to expose it, on the check that names the bug; the same
// experiments pass on the real shop. Real PostgreSQL (primary + synchronous replica) and every
// service a child process behind fault links, as `chaoscart verify` launches them.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment } from "../../../src/lab/experiments/loader.ts";
import { runExperiment } from "../../../src/lab/experiments/runner.ts";
import type { RunResult } from "../../../src/lab/run/result.ts";
import { startTopology, type Topology } from "../../../src/lab/topology/launcher.ts";
import { LAB_SERVICE_ENV } from "../../../src/lab/topology/service-env.ts";
import type { BuiltInBug } from "../../../src/shop/built-in-bugs.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/built-in-bugs/", import.meta.url));

interface Exposure {
  bug: BuiltInBug;
  /** The experiment that exposes it (test/fixtures/built-in-bugs/<fixture>.yaml). */
  fixture: string;
  /** Checks that must fail. */
  fails: string[];
  /** Hypotheses that must fail, as `metric:phase` (`metric:` for one without a phase). */
  failsHypotheses?: string[];
  /** At least one of these hypotheses must fail (the same damage, seen by whichever bound it crosses). */
  failsOneOfHypotheses?: string[];
  /** Checks the bug may leave unjudgeable (e.g. its corrupted ledger shows no sell-out): never a pass. */
  mayBeNotChecked?: string[];
  /** Hypotheses that may fail as well (further damage the same bug does); every other must hold. */
  mayAlsoFailHypotheses?: string[];
  /** Checks that may fail as well: further damage the same bug does. Anything else failing is an error. */
  mayAlsoFail?: string[];
  /**
   * Runs the bug gets to be caught in (default 1), for an exposure that is a matter of chance (see its
   * comment for the measured rate): a run that passes is followed by another, up to this many.
   */
  runs?: number;
}

const EXPOSURES: Exposure[] = [
  // Decided on a frozen replica, written back as absolute counters: commits are overwritten (sold
  // falls behind the confirmed orders, the ledger disagrees with the row), and `reserved` drifts, so
  // units stay reserved or a commit finds too few and its order stays PAID.
  {
    bug: "stock-from-replica",
    fixture: "replica-lag",
    fails: ["conservation", "no-oversell"],
    // Drifting `reserved` leaves units neither sold nor on sale.
    mayAlsoFail: ["terminal-sagas", "no-stranded-stock"],
    // With the counters overwritten, the ledger may never show the SKU sold out: nothing to judge.
    mayBeNotChecked: ["no-false-sold-out"],
  },
  // The saga masks a lost grant (the commit finds nothing, the order is cancelled and refunded):
  // only the StockReserved events without a stored reservation show it. It takes a reset landing
  // between a batch's answer and its COMMIT, and only the first resets find the lane busy: the
  // inventory then stays unavailable under resets every 400 ms (orders cancelled
  // inventory_unavailable; a lead for the shop's own resilience). Measured 2026-12-01: caught in 3
  // of 3 runs (1-5 lost reservations), missed in one CI run; variants with more load or more resets
  // caught less (2 of 6: more resets only keep the inventory down). Hence two runs.
  // The batch whose COMMIT was reset is retried by the inventory after its callers were told
  // "granted": when the saga's commit ran in between (it settles only the reservations that
  // exist), the retry writes a HELD unit for a CONFIRMED order (CI of stop 18: one order, four
  // more checks failed). Those four are this bug's consequences too.
  {
    bug: "ack-before-commit",
    fixture: "db-blips",
    runs: 2,
    fails: ["no-lost-reservation"],
    mayAlsoFail: ["terminal-sagas", "no-oversell", "no-stranded-stock", "order-coverage"],
  },
  { bug: "ignore-idempotency", fixture: "slow-answers", fails: ["no-duplicate"] },
  // The reservation TTL of the lab (30 s) outlasts the experiment: the stranded units are still held.
  { bug: "no-compensation", fixture: "declines", fails: ["terminal-sagas", "no-stranded-stock"] },
  // One item of an order expires and is swept while the saga pays; the commit sells the rest, the
  // saga's cancellation then finds stock sold and confirms: CONFIRMED without every item (measured:
  // 6-7 such orders a run, and more units confirmed than sold). 2026-12-03: 11 of 11 runs here caught
  // it (4-11 such orders), one CI run caught none, for a cause not found; hence two runs.
  {
    bug: "partial-commit",
    fixture: "reservation-expiry",
    fails: ["order-coverage"],
    mayAlsoFail: ["no-oversell"],
    runs: 2,
  },
  // Stock comes back after the sell-out (declined orders release their units), but the order
  // service's sold-out gate never opens again: buyers are refused 409 sold_out while units sit on
  // sale. Measured (2026-12-01, verify --experiment restock.yaml): with the bug 3 of 3 runs caught,
  // 94-122 refusals while in stock, windows up to 9-10 s against the bound of 2 s; the real shop 3 of 3
  // passed with 129-145 gated refusals. (In reservation-expiry the restock after the sell-out came
  // only in 2 of 4 runs: that fixture was not enough.)
  { bug: "sticky-sold-out-gate", fixture: "restock", fails: ["no-false-sold-out"] },
  // No invariant breaks (every write fails on the replica), but the shop keeps sending writes to an
  // endpoint its guard already knows is read-only: the guard's counter on /metrics shows them.
  {
    bug: "ignore-readonly",
    fixture: "readonly-misconfig",
    fails: [],
    failsHypotheses: ["readonly_writes_after_refusal:"],
  },
  // The provider sheds what it cannot serve with 503 + Retry-After 1 s. Retried at once, a shed call
  // comes back at a provider that is still full, until the breaker opens: the provider receives
  // more requests per logical call during the brown-out than the real shop, which waits as told, sends.
  {
    bug: "retry-without-backoff",
    fixture: "payment-brownout",
    fails: [],
    // The storm shows as the outage it causes (goodput 3.0-5.5 in 7 runs against the bound 7.5; the
    // real shop 9.25-14.4) and, in most runs, as amplification (1.26-1.68 against 1.45; the real shop
    // 1.21-1.27): one of the two, measured (fixture comments).
    failsOneOfHypotheses: ["payment_amplification:fault", "goodput:fault"],
  },
];

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Services that died without the lab asking, per topology. */
const died = new WeakMap<Topology, string[]>();

async function launch(builtInBug?: BuiltInBug): Promise<Topology> {
  const dir = mkdtempSync(path.join(tmpdir(), "chaoscart-bugs-"));
  dirs.push(dir);
  chmodSync(dir, 0o755); // PostgreSQL runs as another user and must reach its data dirs
  const exits: string[] = [];
  const topology = await startTopology({
    regions: ["east"],
    replication: "sync",
    workDir: path.join(dir, "lab"),
    serviceEnv: { ...LAB_SERVICE_ENV, CHAOSCART_LOG_LEVEL: "warn" },
    ...(builtInBug ? { builtInBug } : {}),
    onServiceExit: (service) => exits.push(service),
  });
  died.set(topology, exits);
  return topology;
}

async function run(
  topology: Topology,
  fixture: string,
  options: { brokenShop?: boolean } = {},
): Promise<{ result: RunResult; log: string[] }> {
  const log: string[] = [];
  const result = await runExperiment(loadExperiment(path.join(FIXTURES, `${fixture}.yaml`)), {
    topology,
    runDir: path.join(topology.workDir, "runs", fixture),
    log: (line) => log.push(line),
    // A broken shop may leave sagas that never end: no need to wait the default 45 s for them.
    ...(options.brokenShop ? { settleLimits: { floorMs: 8_000, stallMs: 5_000 } } : {}),
  });
  for (const service of died.get(topology) ?? []) log.push(`${service} died during the run`);
  return { result, log };
}

/** Every check and hypothesis that did not pass, with its first problems: the assertion messages. */
function report({ result, log }: { result: RunResult; log: string[] }): string {
  const bad = [
    ...result.checks.filter((c) => c.status !== "pass").map((c) => `${c.name}: ${c.summary}`),
    ...result.hypotheses.filter((h) => h.status !== "pass").map((h) => `${h.metric}: ${h.summary}`),
  ];
  return [`${result.experiment.name}: ${result.verdict}`, ...bad, ...log.slice(-15)].join("\n");
}

describe("the real shop", () => {
  let topology: Topology;
  beforeAll(async () => {
    topology = await launch();
  }, 120_000);
  afterAll(() => topology?.stop(), 60_000);

  it.each([...new Set(EXPOSURES.map((e) => e.fixture))])(
    "passes %s, which exposes a built-in bug",
    async (fixture) => {
      const outcome = await run(topology, fixture);
      const { result } = outcome;
      expect(result.verdict, report(outcome)).toBe("pass");
      expect(result.checks.map((c) => [c.name, c.status])).toEqual(
        result.checks.map((c) => [c.name, "pass"]),
      );
      expect(result.checks.length).toBeGreaterThanOrEqual(8);
      expect(result.settings.builtInBug).toBeUndefined();
      expect(died.get(topology), report(outcome)).toEqual([]);
    },
    90_000,
  );
});

describe.each(EXPOSURES)(
  "built-in bug $bug",
  ({
    bug,
    fixture,
    fails,
    failsHypotheses = [],
    failsOneOfHypotheses = [],
    mayAlsoFailHypotheses = [],
    mayAlsoFail = [],
    mayBeNotChecked = [],
    runs = 1,
  }) => {
    const oneOf = failsOneOfHypotheses.length > 0 ? [`one of ${failsOneOfHypotheses.join(", ")}`] : [];
    it(`fails ${fixture} on ${[...fails, ...failsHypotheses, ...oneOf].join(" and ")}`, async () => {
      const topology = await launch(bug);
      try {
        let outcome = await run(topology, fixture, { brokenShop: true });
        for (let attempt = 2; attempt <= runs && outcome.result.verdict === "pass"; attempt++) {
          outcome = await run(topology, fixture, { brokenShop: true });
        }
        const { result } = outcome;
        expect(died.get(topology) ?? [], report(outcome)).toEqual([]);
        const failed = result.checks.filter((c) => c.status === "fail").map((c) => c.name);
        expect(result.verdict, report(outcome)).toBe("fail");
        expect(result.aborted, report(outcome)).toBeUndefined();
        expect(result.settings.builtInBug).toBe(bug);
        expect(failed, report(outcome)).toEqual(expect.arrayContaining(fails));
        const failedHypotheses = result.hypotheses
          .filter((h) => h.status !== "pass")
          .map((h) => `${h.metric}:${h.phase ?? ""}`);
        expect(failedHypotheses, report(outcome)).toEqual(expect.arrayContaining(failsHypotheses));
        if (failsOneOfHypotheses.length > 0) {
          expect(
            failedHypotheses.some((h) => failsOneOfHypotheses.includes(h)),
            report(outcome),
          ).toBe(true);
        }
        expect(
          failedHypotheses.filter(
            (h) =>
              !failsHypotheses.includes(h) &&
              !failsOneOfHypotheses.includes(h) &&
              !mayAlsoFailHypotheses.includes(h),
          ),
          report(outcome),
        ).toEqual([]);
        expect(
          failed.filter((name) => !fails.includes(name) && !mayAlsoFail.includes(name)),
          report(outcome),
        ).toEqual([]);
        expect(
          result.checks.filter((c) => c.status === "not-checked" && !mayBeNotChecked.includes(c.name)),
        ).toEqual([]);
      } finally {
        await topology.stop();
      }
    }, 180_000);
  },
);
