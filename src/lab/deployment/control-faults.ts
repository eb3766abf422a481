/**
 * Fault injection through a running lab's control API (`chaoscart lab up`, src/lab/control/server.ts):
 * `POST /nemeses` starts a fault of the catalogue, `DELETE /nemeses/:id` heals it, and
 * `GET /nemeses/:id` lists its events — including the stops the lab does by itself (`duration`,
 * `restartAfter`), which this injector picks up by polling, so the history gets every event, in order.
 */
import type { Endpoint, FaultInjector } from "../experiments/system.ts";
import { LabRequestError, type LabTarget, labRequest } from "../nemeses/lab-client.ts";
import type { NemesisEvent } from "../nemeses/nemesis.ts";

const POLL_MS = 500;
/** Starting some faults takes a while (a failover waits for the promotion). */
const ACTION_TIMEOUT_MS = 60_000;

interface Started {
  /** Events already passed on. */
  seen: number;
  active: boolean;
}

interface NemesisAnswer {
  id?: string;
  describe?: string;
  message?: string;
  event?: NemesisEvent;
}

export function controlApiFaults(control: Endpoint, pollMs = POLL_MS): FaultInjector {
  const api: LabTarget = { name: control.url, url: control.url, token: control.token };
  const listeners = new Set<(event: NemesisEvent) => void>();
  const started = new Map<string, Started>();
  let poller: NodeJS.Timeout | undefined;
  // One sync at a time, so no event is passed on twice. (A start registers its nemesis synchronously.)
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => {});
    return run;
  };

  const emit = (event: NemesisEvent) => {
    for (const listener of listeners) listener(event);
  };
  const track = (answer: NemesisAnswer) => {
    if (!answer?.id) return;
    started.set(answer.id, { seen: answer.event ? 1 : 0, active: true });
    if (answer.event) emit(answer.event);
    poller ??= setInterval(() => void serial(syncActive).catch(() => {}), pollMs).unref();
  };
  /** Passes on the events of one nemesis not seen yet. */
  const sync = async (id: string, state: Started) => {
    const answer = await labRequest<{ active: boolean; events: NemesisEvent[] }>(
      api,
      "GET",
      `/nemeses/${id}`,
    );
    for (const event of answer.events.slice(state.seen)) emit(event);
    state.seen = Math.max(state.seen, answer.events.length);
    state.active = answer.active;
  };
  const syncActive = async () => {
    for (const [id, state] of started) if (state.active) await sync(id, state);
  };

  return {
    start: async (spec) => {
      try {
        const answer = await labRequest<NemesisAnswer>(api, "POST", "/nemeses", spec, ACTION_TIMEOUT_MS);
        track(answer);
        return answer.describe ?? String(spec.action);
      } catch (error) {
        // A start that failed part-way still has an id: track it, so healAll undoes what is there.
        if (error instanceof LabRequestError) track(error.body as NemesisAnswer);
        throw error;
      }
    },
    healAll: () =>
      serial(async () => {
        clearInterval(poller);
        poller = undefined;
        const failures: Error[] = [];
        for (const [id, state] of [...started].reverse()) {
          try {
            await sync(id, state);
            if (!state.active) continue;
            await labRequest(api, "DELETE", `/nemeses/${id}`, undefined, ACTION_TIMEOUT_MS);
            await sync(id, state);
          } catch (error) {
            failures.push(error as Error);
          }
        }
        if (failures.length > 0) {
          throw new AggregateError(failures, failures.map((f) => f.message).join("; "));
        }
      }),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
