/** The nemesis log: every nemesis event in order, and the fault windows the report shades. */
import type { NemesisEvent, NemesisListener } from "./nemesis.ts";

export interface FaultWindow {
  nemesis: string;
  /** When the start began (ms since the epoch). */
  start: number;
  /** When the stop began; null while the fault is still in place. */
  end: number | null;
  /** The start failed: the fault may be partly in place for the whole window. */
  failed: boolean;
  startDetail: Record<string, unknown>;
  stopDetail: Record<string, unknown> | null;
}

export class NemesisLog {
  private readonly list: NemesisEvent[] = [];
  private readonly listeners = new Set<NemesisListener>();

  record(event: NemesisEvent): void {
    this.list.push(event);
    for (const listener of this.listeners) listener(event);
  }

  /** Called for every event recorded from now on (e.g. to write it into the history). */
  subscribe(listener: NemesisListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  events(): NemesisEvent[] {
    return this.list.map((event) => ({ ...event, detail: { ...event.detail } }));
  }

  /**
   * Start → stop pairs per nemesis, in start order. No-op actions are ignored; a failed stop leaves the
   * window open (the fault is still there); a failed start opens one (it may be partly there).
   */
  windows(): FaultWindow[] {
    const windows: FaultWindow[] = [];
    const open = new Map<string, FaultWindow>();
    for (const event of this.list) {
      if (event.detail.noop === true) continue;
      const current = open.get(event.nemesis);
      const failed = "error" in event.detail;
      if (event.action === "start" && !current) {
        const window: FaultWindow = {
          nemesis: event.nemesis,
          start: event.at,
          end: null,
          failed,
          startDetail: event.detail,
          stopDetail: null,
        };
        windows.push(window);
        open.set(event.nemesis, window);
      } else if (event.action === "stop" && current && !failed) {
        current.end = event.at;
        current.stopDetail = event.detail;
        open.delete(event.nemesis);
      }
    }
    return windows;
  }

  toJSON(): { events: NemesisEvent[]; windows: FaultWindow[] } {
    return { events: this.events(), windows: this.windows() };
  }
}
