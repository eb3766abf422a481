import type { NemesisOp, ProbeOp } from "../history/op.ts";

/**
 * Readiness hypotheses (issue 11 item 3), from the `/readyz` samples of the service the run's first
 * fault targets (for a link `<region>/<from>-><to>`, the service on its client side, `<region>/<from>`):
 *
 * - `unready_after_fault_ms`: from the fault's start to the first sample that is not ready;
 * - `ready_after_heal_ms`: from the fault's stop to the first ready sample after it.
 *
 * A service that never turned unready while the fault lasted (or never ready again after it) gets
 * `Infinity`, which fails any bound; a run without samples of the service, without such a fault or
 * without a recorded stop gets null (not measured).
 */
export function readinessMeasurements(
  probes: readonly ProbeOp[],
  nemesisOps: readonly NemesisOp[],
): { unready_after_fault_ms: number | null; ready_after_heal_ms: number | null } {
  const none = { unready_after_fault_ms: null, ready_after_heal_ms: null };
  const start = nemesisOps.find((op) => op.type === "start" && !op.detail.noop && !("error" in op.detail));
  const service = start && targetService(start.nemesis);
  if (!start || !service) return none;
  const stop = nemesisOps.find(
    (op) =>
      op.type === "stop" && op.nemesis === start.nemesis && op.time >= start.time && !("error" in op.detail),
  );
  const samples = probes
    .filter((p) => p.service === service && p.endpoint === "readyz")
    .sort((a, b) => a.time - b.time);
  const during = samples.filter((p) => p.time >= start.time && (!stop || p.time < stop.time));
  if (during.length === 0) return none;
  const unready = during.find((p) => p.status !== "up");
  const after = stop ? samples.filter((p) => p.time >= stop.time) : [];
  const ready = after.find((p) => p.status === "up");
  return {
    unready_after_fault_ms: unready ? unready.time - start.time : Number.POSITIVE_INFINITY,
    ready_after_heal_ms:
      !stop || after.length === 0 ? null : ready ? ready.time - stop.time : Number.POSITIVE_INFINITY,
  };
}

/** `readonly-endpoint east/order->primary` → `east/order`; `kill east/inventory` → `east/inventory`. */
export function targetService(nemesis: string): string | undefined {
  const target = nemesis.split(" ").at(-1) ?? "";
  const match = target.match(/^([a-z][a-z0-9-]*\/[a-z][a-z0-9-]*)(->.*)?$/);
  return match?.[1];
}
