import { createHash } from "node:crypto";

/**
 * The order saga's states and rules (docs/architecture.md §Saga), free of I/O.
 *
 *   PENDING → RESERVED → PAID → CONFIRMED, or CANCELLED (with a reason) from any non-terminal state.
 *
 * A cancellation is decided first (the reason is stored while the state is still non-terminal),
 * compensated, and only then made CANCELLED; once decided, no forward transition is allowed.
 */

export type OrderState = "PENDING" | "RESERVED" | "PAID" | "CONFIRMED" | "CANCELLED";
export type ActiveState = "PENDING" | "RESERVED" | "PAID";

export type CancelReason =
  | "sold_out"
  | "unknown_sku"
  | "inventory_unavailable"
  | "payment_declined"
  | "payment_unavailable"
  | "reservation_expired";

export interface OrderItem {
  sku: string;
  qty: number;
  /** Unit price in minor units, fixed when the order is placed. */
  price: number;
}

export interface Order {
  id: string;
  userId: string;
  idemKey: string;
  homeRegion: string;
  state: OrderState;
  cancelReason: CancelReason | null;
  items: OrderItem[];
  total: number;
  hlc: string;
  createdAt: string;
  updatedAt: string;
}

export const ACTIVE_STATES: readonly ActiveState[] = ["PENDING", "RESERVED", "PAID"];

export const NEXT_STATE: Record<ActiveState, OrderState> = {
  PENDING: "RESERVED",
  RESERVED: "PAID",
  PAID: "CONFIRMED",
};

export function isTerminal(state: OrderState): state is "CONFIRMED" | "CANCELLED" {
  return state === "CONFIRMED" || state === "CANCELLED";
}

export function total(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.qty * item.price, 0);
}

/**
 * Whether cancelling from this state must settle the payment definitively (void or refund, and
 * wait for it). Only from PAID can a capture have been attempted; before that a stray
 * authorisation holds no money and is voided on a best-effort basis.
 */
export function cancellationMustSettlePayment(state: ActiveState): boolean {
  return state === "PAID";
}

/** Items merged per SKU, sorted: the canonical form two requests are compared in. */
export function normaliseItems(
  items: readonly { sku: string; qty: number }[],
): { sku: string; qty: number }[] {
  const bySku = new Map<string, number>();
  for (const item of items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.qty);
  return [...bySku].sort(([a], [b]) => a.localeCompare(b)).map(([sku, qty]) => ({ sku, qty }));
}

/** Fingerprint of what an idempotency key was first used for; a replay must match it. */
export function requestFingerprint(userId: string, items: readonly { sku: string; qty: number }[]): string {
  return createHash("sha256")
    .update(JSON.stringify({ userId, items: normaliseItems(items) }))
    .digest("hex");
}
