import { describe, expect, it } from "vitest";
import { parseDuration } from "../../../src/lab/duration.ts";
import { ExperimentError, parseExperiment } from "../../../src/lab/experiments/loader.ts";

const valid = `name: inventory-crash
description: kill -9 the inventory service in the middle of a flash sale
topology: { regions: [east], replicas: 1 }
workload: { rate: 400, duration: 40s, users: 5000, hotSkus: 3, stockPerSku: 300 }
faults:
  - { at: 10s, action: kill, target: east/inventory, restartAfter: 5s }
hypothesis:
  - { metric: availability, phase: recovery, min: 0.99 }
  - { metric: p99_ms, phase: baseline, max: 150 }
checks: [no-oversell, conservation, no-lost-ack, no-phantom, no-duplicate, terminal-sagas, money]
abort:
  - { metric: error_rate, above: 0.8, for: 5s }
`;

function errorsOf(source: string): string[] {
  try {
    parseExperiment(source, "exp.yaml");
  } catch (error) {
    if (error instanceof ExperimentError) return error.problems;
    throw error;
  }
  throw new Error("expected the experiment to be rejected");
}

describe("experiment loader", () => {
  it("parses the DESIGN example, durations in milliseconds", () => {
    const { experiment } = parseExperiment(valid, "exp.yaml");
    expect(experiment.workload.duration).toBe(40_000);
    expect(experiment.faults[0]).toMatchObject({ at: 10_000, action: "kill", target: "east/inventory" });
    expect(experiment.abort[0]?.for).toBe(5_000);
    expect(experiment.topology.replication).toBe("sync");
  });

  it("names file, line, column and field of a bad duration", () => {
    const problems = errorsOf(valid.replace("at: 10s", "at: ten seconds"));
    expect(problems).toEqual([
      expect.stringMatching(/^exp\.yaml:6:11: faults\[0\]\.at: expected a duration like 10s/),
    ]);
  });

  it("names an unknown metric, an unknown check and an unknown field", () => {
    const problems = errorsOf(
      valid
        .replace("metric: availability", "metric: happiness")
        .replace("money]", "moneyy]")
        .replace("users: 5000", "userz: 5000"),
    ).join("\n");
    expect(problems).toMatch(/exp\.yaml:8:\d+: hypothesis\[0\]\.metric: /);
    expect(problems).toMatch(/exp\.yaml:10:\d+: checks\[6\]: /);
    expect(problems).toMatch(/exp\.yaml:4:\d+: workload: unknown field\(s\) userz/);
  });

  it("takes 1 to 64 stock buckets per hot SKU, one by default", () => {
    expect(parseExperiment(valid, "exp.yaml").experiment.workload.stockBuckets).toBe(1);
    const split = valid.replace("stockPerSku: 300", "stockPerSku: 300, stockBuckets: 4");
    expect(parseExperiment(split, "exp.yaml").experiment.workload.stockBuckets).toBe(4);
    expect(errorsOf(valid.replace("stockPerSku: 300", "stockPerSku: 300, stockBuckets: 0"))).toEqual([
      expect.stringMatching(/^exp\.yaml:4:\d+: workload\.stockBuckets: /),
    ]);
  });

  it("reports YAML syntax errors with their position", () => {
    expect(errorsOf("name: x\ndescription: [unclosed\n")[0]).toMatch(/^exp\.yaml:\d+:\d+: /);
  });

  it("validates each fault's parameters against the nemesis catalogue, with their position", () => {
    expect(errorsOf(valid.replace("restartAfter: 5s", "restartAfter: soon")).join()).toMatch(
      /^exp\.yaml:6:\d+: faults\[0\]\.restartAfter: /,
    );
    expect(errorsOf(valid.replace("action: kill", "action: explode")).join()).toMatch(
      /faults\[0\]\.action: expected one of/,
    );
  });

  it("refuses a fault scheduled after the workload ends", () => {
    expect(errorsOf(valid.replace("at: 10s", "at: 50s")).join()).toMatch(
      /faults\[0\]\.at: the fault starts at 50000 ms/,
    );
  });
  it("takes two distinct regions, and the cross-region checks only with several regions", () => {
    const two = valid.replace("regions: [east]", "regions: [east, west]");
    expect(parseExperiment(two, "exp.yaml").experiment.topology.regions).toEqual(["east", "west"]);
    expect(errorsOf(valid.replace("regions: [east]", "regions: [east, east]")).join()).toMatch(
      /topology\.regions: expected distinct region names/,
    );
    expect(errorsOf(valid.replace("regions: [east]", "regions: [a, b, c]")).join()).toMatch(
      /topology\.regions/,
    );
    expect(errorsOf(valid.replace("money]", "money, cross-region-converged]")).join()).toMatch(
      /checks\[7\]: cross-region-converged needs several regions/,
    );
    const defaults = (source: string) =>
      parseExperiment(source.replace(/^checks: .*\n/m, ""), "exp.yaml").experiment.checks;
    expect(defaults(valid)).not.toContain("cross-region-converged");
    expect(defaults(two)).toEqual(expect.arrayContaining(["no-oversell", "cross-region-converged"]));
  });
});

describe("durations (one parser for the lab)", () => {
  it("accept ms, s, m and h in experiment files and nemesis specs alike", () => {
    const { experiment } = parseExperiment(
      "name: long\ndescription: d\nworkload: { rate: 1, duration: 1h, warmup: 1.5s, timeout: 250ms }\n" +
        "faults:\n  - { at: 2m, action: pause, target: orders, duration: 30s }\n",
      "long.yaml",
    );
    expect(experiment.workload).toMatchObject({ duration: 3_600_000, warmup: 1_500, timeout: 250 });
    expect(experiment.faults[0]).toMatchObject({ at: 120_000, duration: 30_000 });
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("10 s")).toBe(10_000);
    expect(parseDuration("5 minutes")).toBeUndefined();
  });
});
