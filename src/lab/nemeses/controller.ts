/**
 * The fault controller: the one place an experiment starts and stops nemeses through. It logs every
 * event of every nemesis it has seen, knows which are active, and heals everything on teardown.
 */
import type { LinkRegistry } from "../faults/index.ts";
import { NemesisLog } from "./log.ts";
import { messageOf, type Nemesis, type NemesisEvent } from "./nemesis.ts";

export interface StopAllOptions {
  /** Also heal every link of this registry afterwards (faults injected outside the controller too). */
  links?: LinkRegistry;
}

export class FaultController {
  private readonly known: Nemesis[] = [];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(readonly log: NemesisLog = new NemesisLog()) {}

  /** Tracks a nemesis: its events go to the log from now on, and `stopAll` covers it. */
  add<N extends Nemesis>(nemesis: N): N {
    if (this.known.includes(nemesis)) return nemesis;
    this.known.push(nemesis);
    this.unsubscribe.push(nemesis.onEvent((event) => this.log.record(event)));
    return nemesis;
  }

  start(nemesis: Nemesis): Promise<NemesisEvent> {
    return this.add(nemesis).start();
  }

  stop(nemesis: Nemesis): Promise<NemesisEvent> {
    return this.add(nemesis).stop();
  }

  active(): Nemesis[] {
    return this.known.filter((nemesis) => nemesis.active);
  }

  /**
   * Stops every active nemesis, most recently added first (the reverse of how faults were layered), each
   * even if an earlier one fails; then heals the links if asked. Throws an AggregateError naming every
   * failure once all were tried.
   */
  async stopAll(options: StopAllOptions = {}): Promise<NemesisEvent[]> {
    const events: NemesisEvent[] = [];
    const failures: Error[] = [];
    for (const nemesis of [...this.known].reverse()) {
      if (!nemesis.active) continue;
      try {
        events.push(await nemesis.stop());
      } catch (error) {
        failures.push(error instanceof Error ? error : new Error(messageOf(error)));
      }
    }
    if (options.links) {
      try {
        await options.links.healAll();
      } catch (error) {
        failures.push(new Error(`healing the links failed: ${messageOf(error)}`, { cause: error }));
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `stopping the faults failed: ${failures.map((f) => f.message).join("; ")}`,
      );
    }
    return events;
  }

  /** Runs `body` and stops every fault afterwards, whatever happened. */
  async run<T>(body: (controller: this) => Promise<T>, options: StopAllOptions = {}): Promise<T> {
    let result: T;
    try {
      result = await body(this);
    } catch (error) {
      try {
        await this.stopAll(options);
      } catch (stopError) {
        throw new AggregateError([error, stopError], `${messageOf(error)}; then ${messageOf(stopError)}`);
      }
      throw error;
    }
    await this.stopAll(options);
    return result;
  }

  /** Stops listening to the nemeses (after the experiment; the log keeps what it has). */
  detach(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
