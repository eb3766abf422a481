/**
 * Random fault schedules (`verify --explore`, docs/architecture.md §Lab): an experiment whose faults
 * are drawn from the nemesis catalogue (nemeses/spec.ts) by a seeded generator, so the same seed and
 * the same targets give the same experiment. Pure: the result is the experiment as a file would
 * write it (durations as strings), validated by the experiment schema when it is loaded.
 *
 * A schedule holds 1 to MAX_FAULTS faults, each starting after the warm-up and healed by itself at
 * least RECOVERY_MS before the workload ends; faults may overlap, except two on the same resource
 * (a process, a link, a PostgreSQL node): a kill while the same process is paused, say, could not be
 * injected, which would fail the run for the lab's sake rather than the shop's.
 */
import type { NemesisKind } from "../nemeses/spec.ts";
import { Rng } from "../workload/rng.ts";

/** What a schedule may aim at, named as the nemesis targets of one launched region. */
export interface ExploreTargets {
  region: string;
  /** Every service process (`gateway`, `east/order`, …): kill and pause. */
  services: string[];
  /** Every fault link (`east/order->primary`, …). */
  links: string[];
  /** Whether the region has a replica (replica lag, read-only endpoint, pausing it). */
  replica: boolean;
}

/** The workload every explored experiment runs: the baseline experiment's, as its file writes it. */
export interface ExploreBase {
  /** The `workload` mapping as written (copied into the generated file unchanged). */
  workload: Record<string, unknown>;
  durationMs: number;
  warmupMs: number;
}

export const MAX_FAULTS = 4;
export const MIN_FAULT_MS = 1_000;
export const MAX_FAULT_MS = 6_000;
/** Every fault is healed at least this long before the workload ends: the run sees the shop recover. */
export const RECOVERY_MS = 5_000;

/**
 * Kinds a schedule never draws, and why. Everything else in the catalogue has a generator below (a
 * unit test keeps the two lists covering NEMESIS_KINDS).
 */
export const EXCLUDED_KINDS: Partial<Record<NemesisKind, string>> = {
  "primary-failover":
    "not reversible: the explorations share one lab, and every later schedule would run without a replica",
};

/** One fault as an experiment file writes it. */
export type GeneratedFault = { at: string; action: string; target: string; duration: string } & Record<
  string,
  unknown
>;

export interface GeneratedExperiment {
  name: string;
  description: string;
  hypothesisStatement: string;
  workload: Record<string, unknown>;
  faults: GeneratedFault[];
}

interface Draw {
  /** Params besides at/duration/action/target. */
  params: Record<string, unknown>;
  target: string;
  /** What the fault acts on: two faults on one resource never overlap. */
  resource: string;
  /** Bounds of the fault's duration, when the kind needs other than the default. */
  maxMs?: number;
}

type Generator = (rng: Rng, targets: ExploreTargets) => Draw | undefined;

const between = (rng: Rng, min: number, max: number, step = 1) =>
  min + step * rng.int(Math.floor((max - min) / step) + 1);

const link = (rng: Rng, t: ExploreTargets) => (t.links.length > 0 ? rng.pick(t.links) : undefined);
/** `<region>/<role>` when the lab launched that service. */
const regionService = (t: ExploreTargets, role: string) =>
  t.services.includes(`${t.region}/${role}`) ? `${t.region}/${role}` : undefined;

export const GENERATORS: Record<Exclude<NemesisKind, "primary-failover">, Generator> = {
  kill: (rng, t) => {
    const target = rng.pick(t.services);
    return { target, resource: target, params: {} };
  },
  pause: (rng, t) => {
    const nodes = [`${t.region}/primary`, ...(t.replica ? [`${t.region}/replica`] : [])];
    const target = rng.pick([...t.services, ...nodes]);
    return { target, resource: target, params: {}, maxMs: 4_000 };
  },
  "replica-lag": (_rng, t) =>
    t.replica
      ? { target: t.region, resource: `${t.region}/replica`, params: { mode: "replay-pause" } }
      : undefined,
  latency: (rng, t) => {
    const target = link(rng, t);
    if (!target) return undefined;
    const latencyMs = between(rng, 20, 400, 10);
    const params = {
      latencyMs,
      jitterMs: between(rng, 0, latencyMs / 2, 10),
      direction: rng.pick(["downstream", "upstream", "both"]),
    };
    return { target, resource: target, params };
  },
  // Latency, blackholes and refusals have their own kinds; of the other toxics, connection resets.
  toxic: (rng, t) => {
    const target = link(rng, t);
    if (!target) return undefined;
    const params = {
      type: "reset_peer",
      direction: rng.pick(["downstream", "upstream"]),
      toxicity: between(rng, 1, 10) / 10,
      attributes: { timeoutMs: between(rng, 0, 500, 50) },
    };
    return { target, resource: target, params };
  },
  partition: (rng, t) => {
    const target = link(rng, t);
    if (!target) return undefined;
    return { target, resource: target, params: { direction: rng.pick(["both", "upstream", "downstream"]) } };
  },
  down: (rng, t) => {
    const target = link(rng, t);
    return target ? { target, resource: target, params: {}, maxMs: 4_000 } : undefined;
  },
  "readonly-endpoint": (_rng, t) => {
    const target = `${t.region}/order->primary`;
    return t.replica && t.links.includes(target) ? { target, resource: target, params: {} } : undefined;
  },
  payment: (rng, t) => {
    const target = regionService(t, "payment-sim");
    if (!target) return undefined;
    // At least one knob that makes payments fail or slow (a schedule of a no-op would be wasted).
    const params: Record<string, unknown> = {};
    if (rng.chance(0.5)) {
      params.latencyMs = between(rng, 100, 3_000, 100);
      params.jitterMs = between(rng, 0, 500, 50);
    }
    if (rng.chance(0.5) || Object.keys(params).length === 0) {
      params.errorRate = between(rng, 1, 10) / 10;
      params.errorMode = rng.pick(["before", "after", "mixed"]);
    }
    if (rng.chance(0.4)) params.declineRate = between(rng, 1, 5) / 10;
    return { target, resource: target, params };
  },
  "event-loop-block": (rng, t) => {
    const target = rng.pick(["order", "inventory", "payment-sim"].map((r) => `${t.region}/${r}`));
    if (!t.services.includes(target)) return undefined;
    return { target, resource: target, params: {}, maxMs: 3_000 };
  },
  "cpu-burn": (rng, t) => {
    const target = rng.pick(["order", "inventory", "payment-sim"].map((r) => `${t.region}/${r}`));
    if (!t.services.includes(target)) return undefined;
    return { target, resource: target, params: { duty: between(rng, 3, 8) / 10 }, maxMs: 4_000 };
  },
  "clock-offset": (rng, t) => {
    // Only the order service stamps changes with the hybrid logical clock.
    const target = regionService(t, "order");
    if (!target) return undefined;
    const offsetMs = between(rng, 1, 60, 1) * 1_000 * (rng.chance(0.5) ? 1 : -1);
    return { target, resource: target, params: { offsetMs } };
  },
  "replication-loss": (rng, t) => {
    // Only a lab of several regions has relays.
    const relays = t.services.filter((service) => service.startsWith(`${t.region}/relay-`));
    if (relays.length === 0) return undefined;
    const target = rng.pick(relays);
    return { target, resource: target, params: { drop: between(rng, 1, 5) / 10 } };
  },
  "reservation-ttl": (rng, t) => {
    const target = regionService(t, "inventory");
    if (!target) return undefined;
    return { target, resource: target, params: { ttlMs: between(rng, 500, 3_000, 100) } };
  },
};

export type GeneratedKind = keyof typeof GENERATORS;
export const GENERATED_KINDS = Object.keys(GENERATORS) as GeneratedKind[];

/**
 * The kinds a topology can host. Drawing only among them keeps a seed's schedule on a one-region lab
 * what it was before kinds that need several regions (a relay to fault) were added.
 */
export function kindsFor(targets: ExploreTargets): GeneratedKind[] {
  const relays = targets.services.some((service) => service.includes("/relay-"));
  return GENERATED_KINDS.filter((kind) => kind !== "replication-loss" || relays);
}

/** `4.3s` or `250ms`: the experiment files' duration format. */
export function formatMs(ms: number): string {
  return ms % 100 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

interface Slot {
  resource: string;
  start: number;
  end: number;
}

/** The experiment of one seed: a random fault schedule on the baseline workload, all checks, no hypothesis. */
export function generateExperiment(
  seed: number,
  targets: ExploreTargets,
  base: ExploreBase,
): GeneratedExperiment {
  const rng = new Rng(seed);
  const first = base.warmupMs + 1_000;
  const last = base.durationMs - RECOVERY_MS;
  if (last - first < MIN_FAULT_MS) {
    throw new Error(
      `the workload (${base.durationMs} ms, warm-up ${base.warmupMs} ms) leaves no room for faults`,
    );
  }
  const count = 1 + rng.int(MAX_FAULTS);
  const slots: Slot[] = [];
  const faults: { start: number; fault: GeneratedFault }[] = [];
  // A bounded number of draws: a schedule whose resources are all taken ends with fewer faults.
  const kinds = kindsFor(targets);
  for (let attempt = 0; attempt < count * 10 && faults.length < count; attempt++) {
    const kind = rng.pick(kinds);
    const draw = GENERATORS[kind](rng, targets);
    if (!draw) continue;
    const maxMs = Math.min(draw.maxMs ?? MAX_FAULT_MS, last - first);
    const durationMs = between(rng, MIN_FAULT_MS, maxMs, 100);
    const start = between(rng, first, last - durationMs, 100);
    const end = start + durationMs;
    if (slots.some((s) => s.resource === draw.resource && s.start < end && start < s.end)) continue;
    slots.push({ resource: draw.resource, start, end });
    const fault = { at: formatMs(start), action: kind, target: draw.target, duration: formatMs(durationMs) };
    faults.push({ start, fault: { ...fault, ...draw.params } });
  }
  return {
    name: `explore-${seed}`,
    description: `A random fault schedule (seed ${seed}, ${faults.length} fault(s)) on the baseline workload.`,
    hypothesisStatement:
      "Whatever the faults and however they overlap, every invariant holds once they are healed (no SLO is asserted: the faults are arbitrary).",
    workload: base.workload,
    faults: faults.sort((a, b) => a.start - b.start).map((f) => f.fault),
  };
}
