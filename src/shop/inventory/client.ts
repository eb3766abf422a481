import type { RejectReason } from "../domain/allocation.ts";
import type { JsonClient } from "../http/json-client.ts";
import { DependencyError, type DependencyPolicy } from "../resilience/policies.ts";

export type ReserveResult =
  | { kind: "granted" }
  | { kind: "rejected"; reason: RejectReason | "sold_out" | "unknown_sku" };
export type SettleResult = { kind: "done" } | { kind: "conflict"; state: string } | { kind: "not_found" };

/** The order service's view of the inventory service: every call idempotent by order id. */
export class InventoryClient {
  constructor(
    private readonly http: JsonClient,
    private readonly policy: DependencyPolicy,
  ) {}

  reserve(orderId: string, sku: string, qty: number, requestId?: string): Promise<ReserveResult> {
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ reason?: string; error?: string }>({
        method: "POST",
        path: "/reservations",
        body: { orderId, sku, qty },
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      if (status === 200 || status === 201) return { kind: "granted" };
      if (status === 409)
        return { kind: "rejected", reason: (body.reason ?? "insufficient_stock") as RejectReason };
      if (status === 404) return { kind: "rejected", reason: "unknown_sku" };
      throw new DependencyError("inventory", `reserve answered ${status}`, status);
    });
  }

  commit(orderId: string, requestId?: string): Promise<SettleResult> {
    return this.settle(orderId, "commit", requestId);
  }

  release(orderId: string, requestId?: string): Promise<SettleResult> {
    return this.settle(orderId, "release", requestId);
  }

  private settle(orderId: string, action: "commit" | "release", requestId?: string): Promise<SettleResult> {
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ state?: string }>({
        method: "POST",
        path: `/reservations/${encodeURIComponent(orderId)}/${action}`,
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      if (status === 200) return { kind: "done" };
      if (status === 409) return { kind: "conflict", state: body.state ?? "unknown" };
      if (status === 404) return { kind: "not_found" };
      throw new DependencyError("inventory", `${action} answered ${status}`, status);
    });
  }
}
