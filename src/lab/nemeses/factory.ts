/**
 * `createNemesis(topology, spec)`: a nemesis from a spec (see spec.ts), its target resolved in the
 * topology. Throws `NemesisSpecError` naming the field for a bad spec or an unknown target.
 */
import type { Topology } from "../topology/launcher.ts";
import { ClockOffsetNemesis } from "./clock-offset.ts";
import { CpuBurnNemesis } from "./cpu-burn.ts";
import { EventLoopBlockNemesis } from "./event-loop-block.ts";
import { KillNemesis } from "./kill.ts";
import type { LabTarget } from "./lab-client.ts";
import { LinkNemesis } from "./link.ts";
import type { ToxicRequest } from "./link-ops.ts";
import type { Nemesis } from "./nemesis.ts";
import { PauseNemesis, pausableProcessGroup, pausableService } from "./pause.ts";
import { PaymentNemesis } from "./payment.ts";
import { PrimaryFailoverNemesis } from "./primary-failover.ts";
import { ReadonlyEndpointNemesis } from "./readonly-endpoint.ts";
import { ReplicaLagNemesis } from "./replica-lag.ts";
import { ReplicationLossNemesis } from "./replication-loss.ts";
import { ReservationTtlNemesis } from "./reservation-ttl.ts";
import { type NemesisSpec, NemesisSpecError, parseNemesisSpec } from "./spec.ts";
import { linkNames, regionOf, resolveLink, resolvePgNode, resolveRegion, resolveService } from "./targets.ts";

export function createNemesis(topology: Topology, input: unknown): Nemesis {
  const spec: NemesisSpec = parseNemesisSpec(input);
  const stopAfterMs = spec.duration;
  const lab = (target: string): LabTarget => ({
    name: target,
    url: resolveService(topology, target).process.url,
    token: topology.token,
  });

  switch (spec.action) {
    case "kill": {
      if (resolvePgNode(topology, spec.target)) {
        throw new NemesisSpecError(
          "target",
          `${spec.target} is a PostgreSQL node: use primary-failover or pause`,
        );
      }
      return new KillNemesis(resolveService(topology, spec.target), {
        restartAfterMs: spec.restartAfter ?? stopAfterMs,
      });
    }
    case "pause": {
      const node = resolvePgNode(topology, spec.target);
      const target = node
        ? pausableProcessGroup(node.name, node.node.pid)
        : pausableService(spec.target, resolveService(topology, spec.target).process);
      return new PauseNemesis(target, { resumeAfterMs: stopAfterMs });
    }
    case "replica-lag": {
      const region = resolveRegion(topology, spec.target, ["replica"]);
      const target = {
        region: region.name,
        cluster: region.cluster,
        replicationLink: topology.links.get(linkNames.replication(region.name)),
      };
      const mode =
        spec.mode === "link"
          ? {
              mode: "link" as const,
              latencyMs: spec.latencyMs,
              jitterMs: spec.jitterMs,
              rateKBps: spec.rateKBps,
            }
          : { mode: "replay-pause" as const };
      return new ReplicaLagNemesis(target, mode, { stopAfterMs });
    }
    case "latency": {
      const attributes = { latencyMs: spec.latencyMs, jitterMs: spec.jitterMs };
      const toxic = {
        type: "latency" as const,
        direction: spec.direction,
        toxicity: spec.toxicity,
        attributes,
      };
      return new LinkNemesis(resolveLink(topology, spec.target), { kind: "toxic", toxic }, { stopAfterMs });
    }
    case "toxic": {
      const { type, direction, toxicity, attributes } = spec;
      // Attributes were checked against the toxic's schema in parseNemesisSpec.
      const toxic = { type, direction, toxicity, attributes } as ToxicRequest;
      return new LinkNemesis(resolveLink(topology, spec.target), { kind: "toxic", toxic }, { stopAfterMs });
    }
    case "partition":
      return new LinkNemesis(
        resolveLink(topology, spec.target),
        { kind: "partition", direction: spec.direction },
        { stopAfterMs },
      );
    case "down":
      return new LinkNemesis(resolveLink(topology, spec.target), { kind: "down" }, { stopAfterMs });
    case "primary-failover": {
      if (stopAfterMs !== undefined) throw new NemesisSpecError("duration", "a failover is not reversible");
      const region = resolveRegion(topology, spec.target, ["primary"]);
      const names =
        spec.links ??
        linkNames.writes(
          region.name,
          topology.regions.map((r) => r.name),
        );
      const writeLinks = names.map((name, i) => {
        const link = topology.links.get(name);
        if (!link) throw new NemesisSpecError(`links.${i}`, `no link "${name}" in the topology`);
        return link;
      });
      return new PrimaryFailoverNemesis(
        { region: region.name, cluster: region.cluster, writeLinks },
        { timeoutMs: spec.timeout },
      );
    }
    case "readonly-endpoint": {
      const isRegion = topology.regions.some((r) => r.name === spec.target);
      const linkName = isRegion ? linkNames.orderPrimary(spec.target) : spec.target;
      const link = resolveLink(topology, linkName);
      const replica = regionOf(topology, linkName).cluster.replica;
      if (!replica) throw new NemesisSpecError("target", `${linkName}'s region has no replica`);
      return new ReadonlyEndpointNemesis(link, replica, { stopAfterMs });
    }
    case "payment": {
      const isRegion = topology.regions.some((r) => r.name === spec.target);
      const { action: _a, target, at: _at, duration: _d, ...knobs } = spec;
      return new PaymentNemesis(lab(isRegion ? `${target}/payment-sim` : target), knobs, { stopAfterMs });
    }
    case "event-loop-block":
      return new EventLoopBlockNemesis(lab(spec.target), { ms: spec.duration, sliceMs: spec.slice });
    case "cpu-burn":
      return new CpuBurnNemesis(lab(spec.target), {
        ms: spec.duration,
        duty: spec.duty,
        threads: spec.threads,
        mode: spec.mode,
      });
    case "clock-offset":
      return new ClockOffsetNemesis(lab(spec.target), spec.offsetMs, { stopAfterMs });
    case "replication-loss":
      return new ReplicationLossNemesis(
        lab(spec.target),
        { drop: spec.drop, corrupt: spec.corrupt },
        { stopAfterMs },
      );
    case "reservation-ttl": {
      const isRegion = topology.regions.some((r) => r.name === spec.target);
      return new ReservationTtlNemesis(lab(isRegion ? `${spec.target}/inventory` : spec.target), spec.ttlMs, {
        stopAfterMs,
      });
    }
  }
}
