import type { JsonClient } from "../http/json-client.ts";
import { DependencyError, type DependencyPolicy } from "../resilience/policies.ts";

export type ProviderState = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "DECLINED";
export type AuthorizeResult =
  | { kind: "authorized"; providerRef: string }
  | { kind: "declined" }
  | { kind: "conflict" };
export type PaymentActionResult =
  | { kind: "done"; state: ProviderState }
  | { kind: "conflict"; state: ProviderState | "unknown" }
  | { kind: "not_found" };

/** The order service's view of the payment provider; every call is idempotent by order id at the provider. */
export class PaymentClient {
  constructor(
    private readonly http: JsonClient,
    private readonly policy: DependencyPolicy,
  ) {}

  authorize(orderId: string, amount: number, requestId?: string): Promise<AuthorizeResult> {
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ providerRef?: string }>({
        method: "POST",
        path: `/payments/${encodeURIComponent(orderId)}/authorize`,
        body: { amount, currency: "EUR" },
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      if (status === 200 || status === 201)
        return { kind: "authorized", providerRef: body.providerRef ?? "" };
      if (status === 402) return { kind: "declined" };
      if (status === 409) return { kind: "conflict" };
      throw new DependencyError("payment", `authorize answered ${status}`, status);
    });
  }

  capture(orderId: string, requestId?: string) {
    return this.act(orderId, "capture", requestId);
  }

  void(orderId: string, requestId?: string) {
    return this.act(orderId, "void", requestId);
  }

  refund(orderId: string, requestId?: string) {
    return this.act(orderId, "refund", requestId);
  }

  /** The provider's record of the order's payment, if any. */
  state(orderId: string): Promise<ProviderState | undefined> {
    return this.policy.execute(async (signal) => {
      const { status, body } = await this.http.request<{ state?: ProviderState }>({
        method: "GET",
        path: `/payments/${encodeURIComponent(orderId)}`,
        signal,
      });
      if (status === 404) return undefined;
      if (status === 200 && body.state) return body.state;
      throw new DependencyError("payment", `status answered ${status}`, status);
    });
  }

  private act(orderId: string, action: "capture" | "void" | "refund", requestId?: string) {
    return this.policy.execute(async (signal): Promise<PaymentActionResult> => {
      const { status, body } = await this.http.request<{ state?: ProviderState }>({
        method: "POST",
        path: `/payments/${encodeURIComponent(orderId)}/${action}`,
        headers: requestId ? { "x-request-id": requestId } : {},
        signal,
      });
      if (status === 200) return { kind: "done", state: body.state ?? "AUTHORIZED" };
      if (status === 404) return { kind: "not_found" };
      if (status === 409) return { kind: "conflict", state: body.state ?? "unknown" };
      throw new DependencyError("payment", `${action} answered ${status}`, status);
    });
  }
}
