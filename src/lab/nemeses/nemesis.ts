/**
 * A nemesis (Jepsen's word for a fault injector): something the lab can `start` and `stop`. Every action
 * becomes a timestamped `NemesisEvent`, data the history and the report use to draw fault windows.
 *
 * - start and stop are idempotent: a second start (or a stop of an idle nemesis) changes nothing and
 *   returns an event that says so (`detail.noop`).
 * - Actions on one nemesis run one at a time, in call order.
 * - A start that fails part-way leaves the nemesis active (its fault may be partly in place), so a stop —
 *   or the controller's `stopAll` — still undoes what it can. The failed action's event carries
 *   `detail.error`, and the error is thrown as a `NemesisError` holding that event.
 * - `stopAfterMs` makes a fault heal itself (a kill that restarts after 5 s); the timed stop is an event
 *   like any other, with `detail.trigger: "timer"`.
 */

export type NemesisAction = "start" | "stop";

export interface NemesisEvent {
  /** The nemesis' name, e.g. `kill east/inventory`. */
  nemesis: string;
  action: NemesisAction;
  /** When the action began, ms since the epoch (`detail.tookMs` says how long it took). */
  at: number;
  detail: Record<string, unknown>;
}

export type NemesisListener = (event: NemesisEvent) => void;

export interface Nemesis {
  readonly name: string;
  /** True from a start until the stop that undoes it. */
  readonly active: boolean;
  /** One line for logs and the report, e.g. `kill -9 east/inventory; restart after 5000 ms`. */
  describe(): string;
  start(): Promise<NemesisEvent>;
  stop(): Promise<NemesisEvent>;
  /** Every event of this nemesis, including those it produces on its own (timed stops). Returns an unsubscribe. */
  onEvent(listener: NemesisListener): () => void;
}

/** A nemesis action that failed; `event` is what was logged for it. */
export class NemesisError extends Error {
  constructor(
    readonly event: NemesisEvent,
    cause: unknown,
  ) {
    super(`${event.nemesis}: ${event.action} failed: ${messageOf(cause)}`, { cause });
    this.name = "NemesisError";
  }
}

export interface BaseNemesisOptions {
  /** Stop (heal) by itself this long after a successful start. */
  stopAfterMs?: number;
}

type Trigger = "call" | "timer";

/**
 * The shared machinery of every nemesis: state, serialisation, idempotency, events, timed stop.
 * Subclasses implement `inject` and `heal`, each returning the detail of its event.
 */
export abstract class BaseNemesis implements Nemesis {
  abstract readonly name: string;
  abstract describe(): string;
  /** Puts the fault in place. */
  protected abstract inject(): Promise<Record<string, unknown>>;
  /** Undoes the fault (also after an inject that failed part-way: undo what is there). */
  protected abstract heal(): Promise<Record<string, unknown>>;

  private state: "idle" | "active" = "idle";
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<NemesisListener>();

  constructor(protected readonly baseOptions: BaseNemesisOptions = {}) {}

  get active(): boolean {
    return this.state === "active";
  }

  start(): Promise<NemesisEvent> {
    return this.enqueue("start", "call");
  }

  stop(): Promise<NemesisEvent> {
    return this.enqueue("stop", "call");
  }

  onEvent(listener: NemesisListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private enqueue(action: NemesisAction, trigger: Trigger): Promise<NemesisEvent> {
    const run = this.queue.then(() => this.run(action, trigger));
    this.queue = run.catch(() => {});
    return run;
  }

  private async run(action: NemesisAction, trigger: Trigger): Promise<NemesisEvent> {
    const at = Date.now();
    const began = performance.now();
    const extra = trigger === "timer" ? { trigger } : {};
    if (action === "stop") this.clearTimer();
    if ((action === "start") === this.active) {
      const reason = action === "start" ? "already active" : "not active";
      return this.emit({ nemesis: this.name, action, at, detail: { noop: true, reason, ...extra } });
    }
    try {
      const detail = action === "start" ? await this.inject() : await this.heal();
      this.state = action === "start" ? "active" : "idle";
      const tookMs = Math.round(performance.now() - began);
      const event = this.emit({ nemesis: this.name, action, at, detail: { ...detail, ...extra, tookMs } });
      if (action === "start") this.armTimer();
      return event;
    } catch (error) {
      // A failed start may have done part of its work: stay active so a stop undoes it.
      if (action === "start") this.state = "active";
      const tookMs = Math.round(performance.now() - began);
      const event = this.emit({
        nemesis: this.name,
        action,
        at,
        detail: { error: messageOf(error), ...extra, tookMs },
      });
      throw new NemesisError(event, error);
    }
  }

  private armTimer(): void {
    const ms = this.baseOptions.stopAfterMs;
    if (ms === undefined) return;
    // Not unref'd: a scheduled heal (e.g. a restart) must happen even if nothing else keeps the process up.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The outcome, failure included, reaches listeners as an event.
      this.enqueue("stop", "timer").catch(() => {});
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(event: NemesisEvent): NemesisEvent {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not turn a done action into a failed one.
      }
    }
    return event;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
