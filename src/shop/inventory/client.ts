import { GroupCommit } from "../db/group-commit.ts";
import type { RejectReason } from "../domain/allocation.ts";
import type { JsonClient } from "../http/json-client.ts";
import { DependencyError, type DependencyPolicy } from "../resilience/policies.ts";

export type ReserveResult =
  | { kind: "granted" }
  | { kind: "rejected"; reason: RejectReason | "sold_out" | "unknown_sku" };
export type SettleResult =
  /** `returned`: for a release, the SKUs whose stock it put back on sale. */
  { kind: "done"; returned?: string[] } | { kind: "conflict"; state: string } | { kind: "not_found" };

/** SKUs per `GET /stock?skus=` (the route's limit). */
const STOCK_READ_MAX = 100;

/**
 * Batching of one kind of call (reserves, or commits): calls in flight at once before further
 * requests queue for the next call, and the most requests one call carries (at most the route's 256).
 */
export interface CallBatching {
  maxInFlight: number;
  maxBatch: number;
}

/** One request's answer in a batched call: what its own call would have answered. */
interface BatchedAnswer {
  status: number;
  body: { reason?: string; state?: string };
}

interface Reservation {
  orderId: string;
  sku: string;
  qty: number;
}

/** The order service's view of the inventory service: every call idempotent by order id. */
export class InventoryClient {
  /**
   * Reserves, and commits, of many orders in one call each (and, for commits, one database commit
   * at the inventory). Adaptive like the order store's group commit (src/shop/db/group-commit.ts): a
   * request goes at once while fewer than maxInFlight calls of its kind are out, and the ones that
   * queue meanwhile leave together. Undefined: one call per request.
   */
  readonly reserves: GroupCommit<Reservation, ReserveResult> | undefined;
  readonly commits: GroupCommit<string, SettleResult> | undefined;

  constructor(
    private readonly http: JsonClient,
    private readonly policy: DependencyPolicy,
    batching: { reserves?: CallBatching; commits?: CallBatching } = {},
  ) {
    this.reserves =
      batching.reserves &&
      new GroupCommit({
        ...batching.reserves,
        key: (r) => `${r.orderId}\u0000${r.sku}`,
        send: (reservations) => this.reserveMany(reservations),
      });
    this.commits =
      batching.commits &&
      new GroupCommit({
        ...batching.commits,
        key: (orderId) => orderId,
        send: (ids) => this.commitMany(ids),
      });
  }

  /** `requestId` tags an unbatched call only: a batched call carries many orders' requests. */
  reserve(orderId: string, sku: string, qty: number, requestId?: string): Promise<ReserveResult> {
    if (this.reserves) return this.reserves.submit({ orderId, sku, qty });
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ reason?: string }>({
        method: "POST",
        path: "/reservations",
        body: { orderId, sku, qty },
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      return reserveResult(status, body);
    });
  }

  /**
   * One call reserving each of the reservations, answered per reservation. Retried whole by the
   * policy: a reserve is idempotent by order id, so a grant of the first attempt is answered again.
   */
  private reserveMany(reservations: Reservation[]): Promise<ReserveResult[]> {
    return this.batchedCall("/reservations/batch", { reservations }, reservations.length, (result) =>
      reserveResult(result.status, result.body),
    );
  }

  /**
   * Units on sale now of each of `skus` (the sold-out gate's poll). One attempt, outside the policy:
   * a poll that fails is simply sent again on the next tick, and must not count against the breaker
   * that guards the order path.
   */
  async available(skus: readonly string[], signal: AbortSignal): Promise<Map<string, number>> {
    const available = new Map<string, number>();
    for (let from = 0; from < skus.length; from += STOCK_READ_MAX) {
      const chunk = skus.slice(from, from + STOCK_READ_MAX);
      const { status, body } = await this.http.request<{ stock?: { sku: string; available: number }[] }>({
        method: "GET",
        path: `/stock?skus=${chunk.map(encodeURIComponent).join(",")}`,
        signal,
      });
      if (status !== 200 || !Array.isArray(body.stock))
        throw new DependencyError("inventory", `stock read answered ${status}`, status);
      for (const row of body.stock) available.set(row.sku, row.available);
    }
    return available;
  }

  /** `requestId` tags an unbatched call only: a batched call carries many orders' requests. */
  commit(orderId: string, requestId?: string): Promise<SettleResult> {
    return this.commits ? this.commits.submit(orderId) : this.settle(orderId, "commit", requestId);
  }

  /**
   * One call committing each of the orders, answered per order. Retried whole by the policy: a
   * commit is idempotent, so orders the first attempt committed are answered `done` again.
   */
  private commitMany(orderIds: string[]): Promise<SettleResult[]> {
    return this.batchedCall("/reservations/commits", { orderIds }, orderIds.length, (result) =>
      settleResult(result.status, result.body, "commit"),
    );
  }

  /** A batched route: one answer per request (`{status, body}`, in order) or the whole call fails. */
  private batchedCall<Result>(
    path: string,
    body: object,
    count: number,
    toResult: (answer: BatchedAnswer) => Result,
  ): Promise<Result[]> {
    return this.policy.execute(async (signal) => {
      const answer = await this.http.request<{ results?: BatchedAnswer[] }>({
        method: "POST",
        path,
        body,
        signal,
      });
      const results = answer.body.results;
      if (answer.status !== 200 || !Array.isArray(results) || results.length !== count)
        throw new DependencyError("inventory", `${path} answered ${answer.status}`, answer.status);
      return results.map(toResult);
    });
  }

  release(orderId: string, requestId?: string): Promise<SettleResult> {
    return this.settle(orderId, "release", requestId);
  }

  private settle(orderId: string, action: "commit" | "release", requestId?: string): Promise<SettleResult> {
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ state?: string; returned?: string[] }>({
        method: "POST",
        path: `/reservations/${encodeURIComponent(orderId)}/${action}`,
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      return settleResult(status, body, action);
    });
  }
}

function reserveResult(status: number, body: { reason?: string }): ReserveResult {
  if (status === 200 || status === 201) return { kind: "granted" };
  if (status === 409)
    return { kind: "rejected", reason: (body.reason ?? "insufficient_stock") as RejectReason };
  if (status === 404) return { kind: "rejected", reason: "unknown_sku" };
  throw new DependencyError("inventory", `reserve answered ${status}`, status);
}

function settleResult(
  status: number,
  body: { state?: string; returned?: string[] },
  action: "commit" | "release",
): SettleResult {
  if (status === 200) return { kind: "done", ...(body.returned ? { returned: body.returned } : {}) };
  if (status === 409) return { kind: "conflict", state: body.state ?? "unknown" };
  if (status === 404) return { kind: "not_found" };
  throw new DependencyError("inventory", `${action} answered ${status}`, status);
}
