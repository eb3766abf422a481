/** Hand-built run results for the report tests: one that passes, one that fails in every way it can. */
import type { RunResult, SecondBucket } from "../../../src/lab/run/result.ts";

const START = Date.parse("2026-11-21T20:00:00.000Z");

function bucket(
  second: number,
  ok: number,
  fail: number,
  info: number,
  p50: number | null,
  p99: number | null,
) {
  return { second, ok, fail, info, p50Ms: p50, p99Ms: p99 } satisfies SecondBucket;
}

export function passingRun(): RunResult {
  const timeline = Array.from({ length: 30 }, (_, s) =>
    bucket(s, s < 5 ? 200 + s * 40 : 400 - (s % 3), 0, 0, 11 + (s % 4), 40 + ((s * 7) % 11)),
  );
  return {
    schemaVersion: 1,
    experiment: {
      name: "baseline",
      description: "No faults: every invariant holds and the baseline SLOs are met.",
      file: "experiments/baseline.yaml",
      definition: "name: baseline\nworkload: { rate: 400, duration: 30s }\nfaults: []\n",
    },
    startedAt: new Date(START).toISOString(),
    finishedAt: new Date(START + 30_000).toISOString(),
    durationMs: 30_000,
    verdict: "pass",
    phases: [
      { phase: "warmup", start: 0, end: 5000 },
      { phase: "baseline", start: 5000, end: 30_000 },
    ],
    slos: [
      {
        phase: "baseline",
        ok: 9990,
        fail: 0,
        info: 0,
        availability: 1,
        goodputPerSec: 399.6,
        p50Ms: 12.4,
        p99Ms: 48.1,
        maxMs: 97,
      },
    ],
    checks: [
      { name: "no-oversell", status: "pass", summary: "sold ≤ stock for 3 SKUs", problems: [] },
      { name: "conservation", status: "pass", summary: "available + reserved + sold = stock", problems: [] },
    ],
    hypotheses: [
      {
        metric: "p99_ms",
        phase: "baseline",
        max: 150,
        observed: 48.1,
        status: "pass",
        summary: "p99 48.1 ms ≤ 150",
      },
    ],
    timeline,
    faults: [],
    measurements: {},
    settings: { rate: 400, fsync: true, replication: "sync" },
  };
}

/** Failed check, not-checked check, failed hypothesis, two fault windows (one never stopped), aborted. */
export function failingRun(): RunResult {
  const timeline: SecondBucket[] = [];
  for (let s = 0; s < 40; s++) {
    if (s === 16)
      timeline.push(bucket(s, 0, 0, 0, null, null)); // nothing completed: a gap in latency
    else if (s >= 15 && s < 21) timeline.push(bucket(s, 60, 110, 30, 180, 2100));
    else if (s >= 24) timeline.push(bucket(s, 250, 40, 25, 95, 420));
    else timeline.push(bucket(s, 395 + (s % 5), s % 7 === 0 ? 1 : 0, 0, 12 + (s % 3), 55 + (s % 6)));
  }
  return {
    schemaVersion: 1,
    experiment: {
      name: "inventory-crash",
      description: 'kill -9 the inventory service <script>alert("pwned")</script> & see what breaks',
      file: "experiments/inventory-crash.yaml",
      definition: [
        "name: inventory-crash",
        "description: kill -9 the inventory service",
        "workload: { rate: 400, duration: 40s }",
        "faults:",
        "  - { at: 15s, action: kill, target: east/inventory, restartAfter: 5s }",
        "  - { at: 24s, action: latency, link: east/order->inventory, latency: 300ms }",
        "hypothesis:",
        "  - { metric: availability, phase: recovery, min: 0.99 }",
        "  - { metric: p99_ms, phase: baseline, max: 150 }",
        "abort:",
        "  - { metric: error_rate, above: 0.8, for: 5s }",
        "",
      ].join("\n"),
    },
    startedAt: new Date(START).toISOString(),
    finishedAt: new Date(START + 40_000).toISOString(),
    durationMs: 40_000,
    verdict: "fail",
    aborted: { reason: "error_rate 0.86 above 0.8 for 5s", atMs: 33_000 },
    phases: [
      { phase: "warmup", start: 0, end: 5000 },
      { phase: "baseline", start: 5000, end: 15_000 },
      { phase: "fault", start: 15_000, end: 30_000 },
      { phase: "recovery", start: 30_000, end: 40_000 },
    ],
    slos: [
      {
        phase: "baseline",
        ok: 3970,
        fail: 2,
        info: 0,
        availability: 0.9995,
        goodputPerSec: 396.1,
        p50Ms: 13.1,
        p99Ms: 61.2,
        maxMs: 140,
      },
      {
        phase: "fault",
        ok: 2310,
        fail: 780,
        info: 300,
        availability: 0.6814,
        goodputPerSec: 150.2,
        p50Ms: 120,
        p99Ms: 2100,
        maxMs: 5012,
      },
      {
        phase: "recovery",
        ok: 2500,
        fail: 120,
        info: 65,
        availability: 0.931,
        goodputPerSec: 248.7,
        p50Ms: 95,
        p99Ms: 420,
        maxMs: 980,
      },
    ],
    checks: [
      { name: "no-oversell", status: "pass", summary: "sold ≤ stock for 3 SKUs", problems: [] },
      { name: "conservation", status: "pass", summary: "available + reserved + sold = stock", problems: [] },
      {
        name: "no-lost-ack",
        status: "fail",
        summary: "3 violation(s): order o-17 was acknowledged CONFIRMED but is missing",
        problems: [
          "order o-17 was acknowledged CONFIRMED but is missing",
          "order o-42 was acknowledged CONFIRMED but is missing",
          "order o-99 was acknowledged CONFIRMED but is <b>missing</b>",
        ],
      },
      {
        name: "money",
        status: "not-checked",
        summary: "not checked: payment provider records unavailable",
        problems: ["payment provider records unavailable"],
      },
    ],
    hypotheses: [
      {
        metric: "availability",
        phase: "recovery",
        min: 0.99,
        observed: 0.931,
        status: "fail",
        summary: "availability 0.931 < 0.99",
      },
      {
        metric: "p99_ms",
        phase: "baseline",
        max: 150,
        observed: 61.2,
        status: "pass",
        summary: "p99 61.2 ms ≤ 150",
      },
    ],
    timeline,
    faults: [
      {
        type: "start",
        process: "nemesis",
        nemesis: "kill east/inventory",
        time: 15_200,
        wall: START + 15_200,
        detail: { pid: 4242, signal: "SIGKILL" },
      },
      {
        type: "stop",
        process: "nemesis",
        nemesis: "kill east/inventory",
        time: 20_300,
        wall: START + 20_300,
        detail: { restarted: true, pid: 4311, tookMs: 830, trigger: "timer" },
      },
      {
        type: "start",
        process: "nemesis",
        nemesis: "latency east/order->inventory",
        time: 24_000,
        wall: START + 24_000,
        detail: { latencyMs: 300, jitterMs: 100, note: "<never stopped>" },
      },
    ],
    measurements: { recoveryMs: 4200, switchoverMs: null },
    settings: { rate: 400, fsync: true, synchronous_commit: "on", replication: "sync" },
  };
}

/** Nothing failed, but a check the experiment asked for did not run (the final state was unreadable). */
export function incompleteRun(): RunResult {
  const run = passingRun();
  run.experiment = { ...run.experiment, name: "unread" };
  run.verdict = "incomplete";
  run.checks = [
    { name: "no-oversell", status: "pass", summary: "sold ≤ stock for 3 SKUs", problems: [] },
    {
      name: "money",
      status: "not-checked",
      summary: "not checked: payments unreadable: GET /admin/payments answered 503",
      problems: ["payments unreadable: GET /admin/payments answered 503"],
    },
  ];
  return run;
}
