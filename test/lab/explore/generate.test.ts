import { describe, expect, it } from "vitest";
import { parseExperiment } from "../../../src/lab/experiments/loader.ts";
import { BUILT_IN_DIR, builtInSuite } from "../../../src/lab/experiments/suite.ts";
import {
  EXCLUDED_KINDS,
  type ExploreTargets,
  GENERATED_KINDS,
  generateExperiment,
  kindsFor,
  MAX_FAULTS,
  RECOVERY_MS,
} from "../../../src/lab/explore/generate.ts";
import { baseOf, toYaml } from "../../../src/lab/explore/session.ts";
import { NEMESIS_KINDS, parseNemesisSpec } from "../../../src/lab/nemeses/spec.ts";

// The names the launcher gives one region's services and links (src/lab/topology/launcher.ts).
const TARGETS: ExploreTargets = {
  region: "east",
  services: ["east/inventory", "east/payment-sim", "east/order", "gateway"],
  links: [
    "east/replication",
    "east/inventory->primary",
    "east/order->primary",
    "east/order->replica",
    "east/order->inventory",
    "east/order->payment",
    "east/gateway->order",
  ],
  replica: true,
};

const baseline = builtInSuite().find((e) => e.experiment.name === "baseline");
if (!baseline) throw new Error(`no baseline experiment in ${BUILT_IN_DIR}`);
const BASE = baseOf(baseline);
const SEEDS = Array.from({ length: 300 }, (_, i) => i * 7919 + 1);

describe("random fault schedules", () => {
  it("draws the same experiment from the same seed, and different ones from different seeds", () => {
    expect(generateExperiment(42, TARGETS, BASE)).toEqual(generateExperiment(42, TARGETS, BASE));
    const schedules = new Set(SEEDS.map((s) => JSON.stringify(generateExperiment(s, TARGETS, BASE).faults)));
    expect(schedules.size).toBe(SEEDS.length);
  });

  it("draws only faults the nemesis spec accepts, and experiments the experiment schema accepts", () => {
    for (const seed of SEEDS) {
      const generated = generateExperiment(seed, TARGETS, BASE);
      for (const fault of generated.faults)
        expect(() => parseNemesisSpec(fault), JSON.stringify(fault)).not.toThrow();
      const { experiment } = parseExperiment(toYaml(generated, ["test"]), `seed-${seed}.yaml`);
      expect(experiment.name).toBe(`explore-${seed}`);
      expect(experiment.hypothesis).toEqual([]);
      expect(experiment.checks.length).toBeGreaterThanOrEqual(9); // every registered check
      expect(experiment.workload).toEqual(baseline.experiment.workload);
    }
  });

  it("keeps faults between the warm-up and the recovery, sorted, on known targets, one at a time per target", () => {
    const { warmup, duration } = baseline.experiment.workload;
    const targets = new Set([...TARGETS.services, ...TARGETS.links, "east", "east/primary", "east/replica"]);
    for (const seed of SEEDS) {
      const { experiment } = parseExperiment(toYaml(generateExperiment(seed, TARGETS, BASE), []), "x.yaml");
      expect(experiment.faults.length).toBeGreaterThanOrEqual(1);
      expect(experiment.faults.length).toBeLessThanOrEqual(MAX_FAULTS);
      for (const [i, f] of experiment.faults.entries()) {
        const end = f.at + (f.duration ?? Number.NaN);
        expect(f.at).toBeGreaterThan(warmup);
        expect(end).toBeLessThanOrEqual(duration - RECOVERY_MS);
        expect(targets.has(f.target ?? "")).toBe(true);
        const previous = experiment.faults[i - 1];
        if (previous) expect(previous.at).toBeLessThanOrEqual(f.at);
        for (const other of experiment.faults.slice(i + 1)) {
          if (other.target !== f.target) continue;
          expect(other.at >= end || other.at + (other.duration ?? 0) <= f.at, `seed ${seed}`).toBe(true);
        }
      }
    }
  });

  it("covers the catalogue: every nemesis kind is drawn, or excluded with a reason", () => {
    const covered = [...GENERATED_KINDS, ...Object.keys(EXCLUDED_KINDS)].sort();
    expect(covered).toEqual([...NEMESIS_KINDS].sort());
    // Two regions: the relays can be faulted too.
    const twoRegions = { ...TARGETS, services: [...TARGETS.services, "east/relay-west", "west/order"] };
    const drawn = new Set(
      SEEDS.flatMap((s) => generateExperiment(s, twoRegions, BASE).faults.map((f) => f.action)),
    );
    expect([...drawn].sort()).toEqual([...GENERATED_KINDS].sort());
    expect(drawn.has("primary-failover")).toBe(false);
  });

  it("draws a one-region lab's schedule only among the kinds it hosts (a seed's schedule stays what it was)", () => {
    expect(kindsFor(TARGETS)).not.toContain("replication-loss");
    expect(kindsFor(TARGETS)).toHaveLength(GENERATED_KINDS.length - 1);
    for (const seed of SEEDS) {
      for (const f of generateExperiment(seed, TARGETS, BASE).faults)
        expect(f.action).not.toBe("replication-loss");
    }
  });

  it("overlaps faults on different targets", () => {
    const overlapping = SEEDS.filter((seed) => {
      const { experiment } = parseExperiment(toYaml(generateExperiment(seed, TARGETS, BASE), []), "x.yaml");
      return experiment.faults.some((f, i) =>
        experiment.faults.slice(i + 1).some((g) => g.at < f.at + (f.duration ?? 0)),
      );
    });
    expect(overlapping.length).toBeGreaterThan(SEEDS.length / 4);
  });

  it("draws no replica fault in a region without a replica", () => {
    const noReplica = {
      ...TARGETS,
      replica: false,
      links: TARGETS.links.filter((l) => !l.includes("replica") && l !== "east/replication"),
    };
    for (const seed of SEEDS) {
      for (const f of generateExperiment(seed, noReplica, BASE).faults) {
        expect(["replica-lag", "readonly-endpoint"]).not.toContain(f.action);
        expect(f.target).not.toBe("east/replica");
      }
    }
  });
});
