// Which labs `verify` keeps running (src/lab/experiments/lab-systems.ts): one at a time on a small
// machine, reused by every experiment (and exploration) that runs on the same regions. The labs here
// are stand-ins that record being launched and stopped; the fixtures have absolute rates, so no
// capacity is measured.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { LabSystems } from "../../../src/lab/experiments/lab-systems.ts";
import { loadExperiment } from "../../../src/lab/experiments/loader.ts";
import type { Topology } from "../../../src/lab/topology/launcher.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/built-in-bugs/", import.meta.url));
const oneRegion = loadExperiment(path.join(FIXTURES, "declines.yaml"));
const twoRegions = loadExperiment(path.join(FIXTURES, "replication-loss.yaml"));

function standIns() {
  const events: string[] = [];
  const labs = new LabSystems({
    log: () => {},
    launch: async (regions) => {
      const key = regions.join(",");
      events.push(`launch ${key}`);
      const url = "http://127.0.0.1:1";
      return {
        token: "t",
        links: new Map(),
        gateway: { url },
        regions: regions.map((name) => ({
          name,
          gateway: { url },
          services: { inventory: { url }, "payment-sim": { url } },
          cluster: { password: "p" },
        })),
        stop: async () => {
          events.push(`stop ${key}`);
        },
      } as unknown as Topology;
    },
  });
  return { labs, events };
}

it("reuses the lab the experiments ran on for exploration, and launches it once", async () => {
  const { labs, events } = standIns();
  const first = await labs.forExperiment(oneRegion, []);
  const again = await labs.launch(["east"]);
  expect(again).toBe(first);
  expect(events).toEqual(["launch east"]);
});

it("never runs two labs at once: launching one stops any other first", async () => {
  const { labs, events } = standIns();
  await labs.forExperiment(oneRegion, [twoRegions]);
  await labs.forExperiment(twoRegions, []);
  await labs.launch(["east"]);
  expect(events).toEqual(["launch east", "stop east", "launch east,west", "stop east,west", "launch east"]);
  await labs.stopAll();
  expect(events.at(-1)).toBe("stop east");
});
