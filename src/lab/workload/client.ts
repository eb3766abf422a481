import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import {
  classifyOrder,
  classifyRead,
  isRetryable,
  isTerminalState,
  type Outcome,
  type PollResult,
  pendingOrder,
  type Reply,
} from "./outcome.ts";

export interface ClientOptions {
  /** Per attempt (headers and body), default 2000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt, default 3 (so at most 4 attempts). */
  maxRetries?: number;
  /** Backoff before retry n is drawn from [b/2, b] with b = min(max, base × 2^(n-1)). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A `Retry-After` longer than this is capped (default 10 s). */
  maxRetryAfterMs?: number;
  /** First wait before polling a 202 (then ×1.5 per poll, at most 1 s). Default 200 ms. */
  pollIntervalMs?: number;
  /** Give up polling a 202 this long after it arrived (the op is then `info`). Default 15 s. */
  pollGiveUpMs?: number;
  /** Sockets to the gateway. Requests beyond it queue in the client (and count in their latency). */
  connections?: number;
  /** Jitter source, [0, 1). Default Math.random. */
  random?: () => number;
  /** Where orders are placed; default `/orders` (the flash-sale bench's ceiling uses the gateway's no-op). */
  orderPath?: string;
}

type Settings = Required<ClientOptions>;

const DEFAULTS: Settings = {
  timeoutMs: 2000,
  maxRetries: 3,
  backoffBaseMs: 100,
  backoffMaxMs: 2000,
  maxRetryAfterMs: 10_000,
  pollIntervalMs: 200,
  pollGiveUpMs: 15_000,
  connections: 256,
  random: Math.random,
  orderPath: "/orders",
};

/**
 * The workload's view of the shop, through the gateway, behaving like a careful real client: a
 * per-attempt timeout, retries with exponential backoff and jitter that honour `Retry-After` and
 * reuse the same Idempotency-Key, and a 202 followed by polling until the order is terminal. Every
 * method resolves (never rejects) with an outcome classified as documented in `outcome.ts`.
 */
export class WorkloadClient {
  readonly settings: Settings;
  private readonly pool: Pool;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.settings = { ...DEFAULTS, ...stripUndefined(options) };
    const origin = new URL(baseUrl).origin;
    this.pool = new Pool(origin, {
      connections: this.settings.connections,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      // Backstops only: the per-attempt timeout below is ours, on a precise timer.
      headersTimeout: this.settings.timeoutMs + 5000,
      bodyTimeout: this.settings.timeoutMs + 5000,
    });
  }

  /** POST /orders (orderPath), retried with the same key; a 202 is polled to a terminal state or to the give-up. */
  async placeOrder(order: {
    idempotencyKey: string;
    userId: string;
    items: { sku: string; qty: number }[];
  }): Promise<Outcome> {
    const body = JSON.stringify({ userId: order.userId, items: order.items });
    const headers = { "content-type": "application/json", "idempotency-key": order.idempotencyKey };
    const replies = await this.retrying(() => this.send("POST", this.settings.orderPath, headers, body));
    const pending = pendingOrder(replies.at(-1));
    const poll = pending ? await this.poll(pending.orderId, order.userId, pending.state) : undefined;
    return classifyOrder(replies, poll);
  }

  /** GET /orders/:id of an order this client created. */
  async readOrder(read: { orderId: string; userId: string }): Promise<Outcome> {
    const path = `/orders/${encodeURIComponent(read.orderId)}`;
    const replies = await this.retrying(() => this.send("GET", path, { "x-user-id": read.userId }));
    return classifyRead(replies);
  }

  /** GET /skus/:id; `exists: false` when the SKU is known not to exist (404 is then the right answer). */
  async readSku(read: { sku: string; exists: boolean }): Promise<Outcome> {
    const path = `/skus/${encodeURIComponent(read.sku)}`;
    const replies = await this.retrying(() => this.send("GET", path, {}));
    return classifyRead(replies, !read.exists);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Attempts until an answer that is not worth retrying, or the retries are spent. */
  private async retrying(attempt: () => Promise<Reply>): Promise<Reply[]> {
    const replies: Reply[] = [];
    for (let retry = 0; ; retry++) {
      const reply = await attempt();
      replies.push(reply);
      if (!isRetryable(reply) || retry >= this.settings.maxRetries) return replies;
      await sleep(this.retryDelayMs(retry + 1, reply));
    }
  }

  /** Exponential backoff with jitter; never shorter than the server's `Retry-After` (capped). */
  retryDelayMs(retry: number, reply: Reply): number {
    const { backoffBaseMs, backoffMaxMs, maxRetryAfterMs, random } = this.settings;
    const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (retry - 1));
    const backoff = ceiling / 2 + (random() * ceiling) / 2;
    const retryAfter = reply.kind === "response" ? reply.retryAfterMs : undefined;
    return retryAfter === undefined ? backoff : Math.max(Math.min(retryAfter, maxRetryAfterMs), backoff);
  }

  private async poll(orderId: string, userId: string, state: string | undefined): Promise<PollResult> {
    const { pollIntervalMs, pollGiveUpMs } = this.settings;
    const started = performance.now();
    const path = `/orders/${encodeURIComponent(orderId)}`;
    let interval = pollIntervalMs;
    let polls = 0;
    let last = state;
    for (;;) {
      const left = pollGiveUpMs - (performance.now() - started);
      if (left <= 0) break;
      await sleep(Math.min(interval, left));
      const reply = await this.send("GET", path, { "x-user-id": userId });
      polls++;
      if (reply.kind === "response") {
        const seen = reply.body?.state;
        if (reply.status === 200 && typeof seen === "string") last = seen;
        if (reply.status === 200 && isTerminalState(seen)) {
          const reason = reply.body?.cancelReason;
          return {
            state: seen,
            terminal: true,
            polls,
            waitedMs: performance.now() - started,
            ...(typeof reason === "string" ? { cancelReason: reason } : {}),
          };
        }
        if (reply.retryAfterMs !== undefined) interval = Math.max(interval, reply.retryAfterMs);
      }
      interval = Math.min(interval * 1.5, Math.max(1000, interval));
    }
    return { state: last, terminal: false, polls, waitedMs: performance.now() - started };
  }

  /** One HTTP attempt, bounded by the per-attempt timeout (headers and body). Never throws. */
  private async send(
    method: "GET" | "POST",
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Reply> {
    const { timeoutMs } = this.settings;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await this.pool.request({ method, path, headers, body, signal: controller.signal });
      const text = await response.body.text();
      const retryAfterMs = parseRetryAfter(response.headers["retry-after"]);
      const location = response.headers.location;
      return {
        kind: "response",
        status: response.statusCode,
        body: parseJsonObject(text),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(typeof location === "string" ? { location } : {}),
      };
    } catch (error) {
      if (controller.signal.aborted) {
        // Possibly still queued in the pool, possibly processed: we cannot tell, so "delivered".
        return { kind: "error", error: `timeout after ${timeoutMs} ms`, timeout: true, delivered: true };
      }
      const codes = errorCodes(error);
      const message = error instanceof Error ? error.message : String(error);
      return {
        kind: "error",
        error: codes[0] ? `${codes[0]}: ${message}` : message,
        timeout: false,
        // A refused connection never carried the request; a reset or a closed socket may have.
        delivered: !codes.includes("ECONNREFUSED"),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `Retry-After` as milliseconds: delta-seconds (fractions accepted) or an HTTP date. */
export function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (text === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `code`s along an error's `cause` chain, outermost first. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
