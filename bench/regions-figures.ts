/** bench:regions' figures from its measurements: pure, so they are tested directly (test/bench). */

/** One of (c)'s cells, in run order. */
export interface CostCell {
  replication: "on" | "off";
  ordersPerSecond: number;
}

/**
 * On / off per pair of neighbouring cells. The cells run on, off, off, on, …, so each pair holds one
 * of each and a drift over the run weighs on both sides of every pair; the spread of the pairs'
 * ratios says how far the run's ratio can be trusted. A pair without both sides (an odd last
 * cell, or an "off" cell that confirmed nothing) gives no ratio.
 */
export function pairedRatios(cells: readonly CostCell[]): number[] {
  const ratios: number[] = [];
  for (let i = 0; i + 1 < cells.length; i += 2) {
    const pair = [cells[i], cells[i + 1]];
    const on = pair.find((cell) => cell?.replication === "on");
    const off = pair.find((cell) => cell?.replication === "off");
    if (on && off && off.ordersPerSecond > 0) ratios.push(on.ordersPerSecond / off.ordersPerSecond);
  }
  return ratios;
}

/** Whether the pairs' ratios all meet `target`, all miss it, or fall on both sides of it. */
export function verdict(ratios: readonly number[], target: number): "met" | "missed" | "undecided" | "none" {
  if (ratios.length === 0) return "none";
  if (ratios.every((ratio) => ratio >= target)) return "met";
  if (ratios.every((ratio) => ratio < target)) return "missed";
  return "undecided";
}
