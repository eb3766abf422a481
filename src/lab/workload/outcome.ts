import type { ClientOp } from "../history/op.ts";

/**
 * How the workload turns what it saw on the wire into a history completion. Checkers rely on
 * this, so it is exact:
 *
 * order
 *   ok    200/201 with state CONFIRMED or CANCELLED (any cancel reason, sold_out included), or a
 *         202 (or any non-terminal 2xx) polled to CONFIRMED or CANCELLED: a definite outcome. A
 *         CANCELLED one records the order's `cancelReason` (the no-false-sold-out check reads it).
 *   fail  the last answer is a 4xx other than 408 (400, 422, 409 `sold_out` from the order service's
 *         sold-out gate, 429 after all retries, …) or a refused connection, AND no attempt could have
 *         taken effect (see below): the order does not exist.
 *   info  a timeout, reset or other transport error, a 5xx or 408 after all retries; a 202 never
 *         polled to a terminal state (give-up); a 4xx after an attempt that may have taken effect;
 *         a 2xx without an order id. The order may or may not exist.
 * order-read (an order this client created)
 *   ok    200 with the order (value.state is the state seen).
 *   fail  404 (the order is not found: a checker may flag it), any other 4xx but 408, incl. 429
 *         after all retries.
 *   info  timeout/transport error, 5xx or 408 after all retries.
 * catalog-read
 *   ok    the right answer: 200 for an existing SKU, 404 for one that does not exist.
 *   fail  the wrong one of 200/404; any other 4xx but 408, incl. 429 after all retries.
 *   info  timeout/transport error, 5xx or 408 after all retries.
 *
 * Why a 4xx is definite for an order: the gateway and the order service validate, rate-limit and
 * check SKUs *before* anything is written, so 400 (invalid field), 422 (`unknown_sku`;
 * `idempotency_key_reused` — the key belongs to another order, ours was not created) and 429
 * (`rate_limited`) mean "nothing written for this request". A refused TCP connection means nothing
 * was sent. But every retry reuses the Idempotency-Key, so the order's fate is that of *all* its
 * attempts: if an earlier attempt timed out, was reset or got a 5xx (the order may have been
 * placed then), a later 4xx does not prove it does not exist, and the op is `info`.
 *
 * `attempts` counts the POST (or GET) attempts; the polls after a 202 are not attempts.
 */

export const TERMINAL_STATES = ["CONFIRMED", "CANCELLED"] as const;

export function isTerminalState(state: unknown): state is (typeof TERMINAL_STATES)[number] {
  return state === "CONFIRMED" || state === "CANCELLED";
}

/** One HTTP attempt as the client saw it. */
export type Reply =
  | {
      kind: "response";
      status: number;
      /** Parsed JSON body (undefined when absent or not JSON). */
      body: Record<string, unknown> | undefined;
      /** From `Retry-After`, when the server sent one. */
      retryAfterMs?: number;
      location?: string;
    }
  | {
      kind: "error";
      error: string;
      timeout: boolean;
      /** False only when the request certainly never reached the server (connection refused). */
      delivered: boolean;
    };

/** What polling GET /orders/:id after a 202 found. */
export interface PollResult {
  state: string | undefined;
  terminal: boolean;
  polls: number;
  waitedMs: number;
  /** The cancel reason of a CANCELLED order the poll found. */
  cancelReason?: string;
}

export interface Outcome {
  type: "ok" | "fail" | "info";
  value: ClientOp["value"];
}

/** Worth another attempt with the same Idempotency-Key: no answer, or an answer that says "later". */
export function isRetryable(reply: Reply): boolean {
  if (reply.kind === "error") return true;
  return reply.status === 408 || reply.status === 429 || reply.status >= 500;
}

/** Could this attempt have created the order? Only a 4xx (not 408) or a refused connection says no. */
export function mayHaveTakenEffect(reply: Reply): boolean {
  if (reply.kind === "error") return reply.delivered;
  return !(reply.status >= 400 && reply.status < 500 && reply.status !== 408);
}

/** A 2xx answer that carries an order which is not terminal yet (a 202, normally): poll it. */
export function pendingOrder(
  reply: Reply | undefined,
): { orderId: string; state: string | undefined } | undefined {
  if (reply?.kind !== "response" || reply.status < 200 || reply.status >= 300) return undefined;
  const orderId = orderIdOf(reply);
  if (orderId === undefined || isTerminalState(reply.body?.state)) return undefined;
  return { orderId, state: stringField(reply.body, "state") };
}

/**
 * The order service's sold-out gate answered it (`409 sold_out`, nothing written): a refusal as
 * final as a CANCELLED sold_out order, without the order. `fail` when no earlier attempt could have
 * placed the order, else `info`; either way the buyer was told "sold out".
 */
export function isGatedSoldOut(op: Pick<ClientOp, "kind" | "type" | "value">): boolean {
  return (
    op.kind === "order" &&
    (op.type === "fail" || op.type === "info") &&
    op.value.status === 409 &&
    op.value.error === "sold_out"
  );
}

/** A buyer told "sold out": a CANCELLED sold_out order, or the sold-out gate's 409. */
export function isSoldOutRefusal(op: Pick<ClientOp, "kind" | "type" | "value">): boolean {
  if (op.kind !== "order") return false;
  if (op.type === "ok") return op.value.state === "CANCELLED" && op.value.cancelReason === "sold_out";
  return isGatedSoldOut(op);
}

export function classifyOrder(replies: readonly Reply[], poll?: PollResult): Outcome {
  return withRateLimited(orderOutcome(replies, poll), replies);
}

export function classifyRead(replies: readonly Reply[], notFoundIsAnswer = false): Outcome {
  return withRateLimited(readOutcome(replies, notFoundIsAnswer), replies);
}

/**
 * How many 429s the op met on its way, retried ones included: the client honours Retry-After, so
 * most shed requests end ok, and the final status alone would hide the shedding.
 */
function withRateLimited(outcome: Outcome, replies: readonly Reply[]): Outcome {
  const rateLimited = replies.filter((r) => r.kind === "response" && r.status === 429).length;
  return rateLimited > 0 ? { ...outcome, value: { ...outcome.value, rateLimited } } : outcome;
}

function orderOutcome(replies: readonly Reply[], poll?: PollResult): Outcome {
  const last = replies.at(-1);
  if (!last) throw new Error("an order outcome needs at least one reply");
  const attempts = replies.length;
  if (last.kind === "response" && last.status >= 200 && last.status < 300) {
    const orderId = orderIdOf(last);
    const status = last.status;
    const answered = last.body?.state;
    if (orderId !== undefined && isTerminalState(answered)) {
      const cancelReason = stringField(last.body, "cancelReason");
      return {
        type: "ok",
        value: { orderId, state: answered, ...(cancelReason ? { cancelReason } : {}), status, attempts },
      };
    }
    if (orderId !== undefined && poll?.terminal && poll.state !== undefined) {
      const { cancelReason } = poll;
      return {
        type: "ok",
        value: { orderId, state: poll.state, ...(cancelReason ? { cancelReason } : {}), status, attempts },
      };
    }
    const state = poll?.state ?? stringField(last.body, "state");
    const error =
      orderId === undefined
        ? `unreadable ${status} answer (no order id)`
        : `${status}: order not terminal after ${Math.round(poll?.waitedMs ?? 0)} ms of polling`;
    return {
      type: "info",
      value: {
        ...(orderId === undefined ? {} : { orderId }),
        ...(state ? { state } : {}),
        status,
        error,
        attempts,
      },
    };
  }
  const definite = !replies.some(mayHaveTakenEffect);
  return { type: definite ? "fail" : "info", value: { ...failureOf(last), attempts } };
}

/**
 * Reads have no side effect, so only the last answer matters. `notFoundIsAnswer`: the resource is
 * known not to exist (a catalog read of a missing SKU), so 404 is the right answer and 200 the wrong one.
 */
function readOutcome(replies: readonly Reply[], notFoundIsAnswer = false): Outcome {
  const last = replies.at(-1);
  if (!last) throw new Error("a read outcome needs at least one reply");
  const attempts = replies.length;
  if (last.kind === "error") return { type: "info", value: { ...failureOf(last), attempts } };
  const { status } = last;
  if (status >= 200 && status < 300) {
    if (notFoundIsAnswer)
      return {
        type: "fail",
        value: { status, error: `${status} for a resource that does not exist`, attempts },
      };
    const state = stringField(last.body, "state");
    return { type: "ok", value: { ...(state ? { state } : {}), status, attempts } };
  }
  if (status === 404 && notFoundIsAnswer) return { type: "ok", value: { status, attempts } };
  const definite = status >= 400 && status < 500 && status !== 408;
  return { type: definite ? "fail" : "info", value: { ...failureOf(last), attempts } };
}

function failureOf(reply: Reply): { status?: number; error: string } {
  if (reply.kind === "error") return { error: reply.error };
  const code = stringField(reply.body, "error");
  return { status: reply.status, error: code ?? `HTTP ${reply.status}` };
}

function orderIdOf(reply: Extract<Reply, { kind: "response" }>): string | undefined {
  const id = reply.body?.id;
  if (typeof id === "string" && id !== "") return id;
  const match = reply.location?.match(/\/orders\/([^/?#]+)$/);
  return match?.[1];
}

function stringField(body: Record<string, unknown> | undefined, field: string): string | undefined {
  const value = body?.[field];
  return typeof value === "string" ? value : undefined;
}
