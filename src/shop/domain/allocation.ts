/**
 * Pure allocation for one coalesced batch of reservations on one SKU (docs/architecture.md §Inventory).
 *
 * Requests are considered in arrival order; each is granted if it fits in what is still
 * available ("first fit"), so no request is ever rejected while an earlier-arriving request
 * of the same size or larger was granted out of turn. Requests that replay an order already
 * known to the database get that order's first outcome back instead of a new decision.
 */

export interface ReserveRequest {
  orderId: string;
  qty: number;
}

export type ReservationState = "HELD" | "COMMITTED" | "RELEASED";

export interface PriorReservation {
  qty: number;
  state: ReservationState;
}

export type RejectReason = "insufficient_stock" | "order_released" | "qty_mismatch";

export type Decision =
  | { kind: "grant"; orderId: string; qty: number }
  | { kind: "replay"; orderId: string; qty: number; state: ReservationState }
  | { kind: "reject"; orderId: string; qty: number; reason: RejectReason };

export interface Allocation {
  /** One decision per request, in request order. Duplicates of an order share its decision. */
  decisions: Decision[];
  /** The new grants to write, one per order, in arrival order. */
  grants: { orderId: string; qty: number }[];
  granted: number;
  remaining: number;
}

export interface AllocationContext {
  available: number;
  /** Reservations already stored for orders in this batch (this SKU). */
  prior: ReadonlyMap<string, PriorReservation>;
  /** Orders that were released (compensated) before any reservation of theirs landed. */
  released: ReadonlySet<string>;
}

export function allocate(requests: readonly ReserveRequest[], context: AllocationContext): Allocation {
  if (!Number.isInteger(context.available) || context.available < 0) {
    throw new RangeError(`available must be a non-negative integer, got ${context.available}`);
  }
  let remaining = context.available;
  const decided = new Map<string, Decision>();
  const grants: { orderId: string; qty: number }[] = [];

  const decide = (request: ReserveRequest): Decision => {
    const earlier = decided.get(request.orderId);
    if (earlier) return earlier.qty === request.qty ? earlier : mismatch(request);
    const prior = context.prior.get(request.orderId);
    if (prior) {
      return prior.qty === request.qty
        ? { kind: "replay", orderId: request.orderId, qty: prior.qty, state: prior.state }
        : mismatch(request);
    }
    if (context.released.has(request.orderId)) {
      return { kind: "reject", orderId: request.orderId, qty: request.qty, reason: "order_released" };
    }
    if (request.qty > remaining) {
      return { kind: "reject", orderId: request.orderId, qty: request.qty, reason: "insufficient_stock" };
    }
    remaining -= request.qty;
    grants.push({ orderId: request.orderId, qty: request.qty });
    return { kind: "grant", orderId: request.orderId, qty: request.qty };
  };

  const decisions = requests.map((request) => {
    if (!Number.isInteger(request.qty) || request.qty <= 0) {
      throw new RangeError(`qty must be a positive integer, got ${request.qty} for order ${request.orderId}`);
    }
    const decision = decide(request);
    // A mismatched duplicate must not become the order's recorded decision.
    if (
      !decided.has(request.orderId) &&
      !(decision.kind === "reject" && decision.reason === "qty_mismatch")
    ) {
      decided.set(request.orderId, decision);
    }
    return decision;
  });

  return { decisions, grants, granted: context.available - remaining, remaining };
}

function mismatch(request: ReserveRequest): Decision {
  return { kind: "reject", orderId: request.orderId, qty: request.qty, reason: "qty_mismatch" };
}
