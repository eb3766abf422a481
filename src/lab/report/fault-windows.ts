/**
 * Fault windows for the charts: each nemesis `start` paired with the next `stop` of the same nemesis.
 * Same rules as the nemesis log: no-op actions (`detail.noop`) are ignored, a failed stop leaves the
 * window open (the fault is still there), a failed start still opens one (it may be partly in place),
 * and a start that is never stopped lasts until the end of the run (`end: null`).
 */
import type { NemesisOp } from "../history/op.ts";

export interface FaultWindow {
  nemesis: string;
  /** ms since the run started */
  start: number;
  /** ms since the run started; null when no stop was recorded */
  end: number | null;
  /** The start reported an error: the fault may be only partly in place. */
  failed: boolean;
}

export function faultWindows(faults: readonly NemesisOp[]): FaultWindow[] {
  const windows: FaultWindow[] = [];
  const open = new Map<string, FaultWindow>();
  for (const op of faults) {
    if (op.detail.noop === true) continue;
    const failed = "error" in op.detail;
    const current = open.get(op.nemesis);
    if (op.type === "start" && !current) {
      const window: FaultWindow = { nemesis: op.nemesis, start: op.time, end: null, failed };
      windows.push(window);
      open.set(op.nemesis, window);
    } else if (op.type === "stop" && current && !failed) {
      current.end = op.time;
      open.delete(op.nemesis);
    }
  }
  return windows;
}
