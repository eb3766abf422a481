import type { Topology } from "../topology/launcher.ts";
import { measureCapacity } from "./capacity.ts";
import { usesCapacity } from "./load.ts";
import type { LoadedExperiment } from "./loader.ts";
import { launchedSystem, type SystemUnderTest } from "./system.ts";

/**
 * The topologies `verify` launches for a suite (docs/architecture.md §Lab): one single-region lab
 * shared by every single-region experiment, as before, and one per set of regions a multi-region
 * experiment asks for. Each is launched when the first experiment that needs it runs, its capacity
 * measured when the first experiment with a relative rate runs on it, and stopped once no later
 * experiment needs it (two labs at once on a small machine would measure each other).
 */

/** The single-region lab's region, whatever the experiment names (as verify always launched it). */
export const SINGLE_REGION = ["east"];

export interface PreparedSystem {
  system: SystemUnderTest;
  /** Orders per second measured on it; undefined until an experiment needed it. */
  capacity?: number;
}

export interface LabRun extends PreparedSystem {
  topology: Topology;
}

export function regionsFor(loaded: LoadedExperiment): string[] {
  const { regions } = loaded.experiment.topology;
  return regions.length > 1 ? [...regions] : SINGLE_REGION;
}

export class LabSystems {
  private readonly labs = new Map<string, LabRun>();

  constructor(
    private readonly options: {
      launch: (regions: string[]) => Promise<Topology>;
      log: (line: string) => void;
    },
  ) {}

  /**
   * The lab `loaded` runs on, launched (and its capacity measured) if need be; labs that none of
   * `later` (the experiments still to run after it) needs are stopped first.
   */
  async forExperiment(loaded: LoadedExperiment, later: readonly LoadedExperiment[]): Promise<LabRun> {
    const key = regionsFor(loaded).join(",");
    await this.stopAllBut(key, ...later.map((e) => regionsFor(e).join(",")));
    let lab = this.labs.get(key);
    if (!lab) {
      this.options.log(`launching the ${key} lab`);
      const topology = await this.options.launch(key.split(","));
      lab = { topology, system: launchedSystem(topology) };
      this.labs.set(key, lab);
    }
    if (usesCapacity(loaded.experiment) && lab.capacity === undefined)
      Object.assign(lab, await withCapacity(lab.system, this.options.log));
    return lab;
  }

  /**
   * The lab on `regions`, launched if need be, before the experiments that will run on it are drawn
   * (exploration draws its schedules from it); any other lab is stopped first.
   */
  async launch(regions: string[]): Promise<LabRun> {
    const key = regions.join(",");
    await this.stopAllBut(key);
    const running = this.labs.get(key);
    if (running) return running;
    this.options.log(`launching the ${key} lab`);
    const topology = await this.options.launch(regions);
    const lab = { topology, system: launchedSystem(topology) };
    this.labs.set(key, lab);
    return lab;
  }

  /** Stops every lab but those on these keys (two labs at once on a small machine would measure each other). */
  private async stopAllBut(...keys: string[]): Promise<void> {
    const needed = new Set(keys);
    for (const [other, lab] of this.labs) {
      if (needed.has(other)) continue;
      this.options.log(`stopping the ${other} lab: no later experiment runs on it`);
      this.labs.delete(other);
      await lab.topology.stop();
    }
  }

  async stopAll(): Promise<void> {
    const labs = [...this.labs.values()];
    this.labs.clear();
    await Promise.allSettled(labs.map((lab) => lab.topology.stop()));
  }
}

/** Measures the capacity of `system` and records its ramp in the settings its results carry. */
export async function withCapacity(
  system: SystemUnderTest,
  log: (line: string) => void,
): Promise<PreparedSystem> {
  log("measuring the shop's capacity (a short ramp of orders through the gateway)");
  const measured = await measureCapacity(system, log);
  log(`capacity: ${measured.ordersPerSec} orders/s (${measured.stoppedBy})`);
  const ramp = measured.steps.map((s) => `${s.offered}/s→${Math.round(s.goodput)}`).join(", ");
  return {
    capacity: measured.ordersPerSec,
    system: { ...system, settings: { ...system.settings, capacityRamp: `${ramp}; ${measured.stoppedBy}` } },
  };
}
