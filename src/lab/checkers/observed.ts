/**
 * The final state as the checkers see it: plain data, read by experiments/final-state.ts (the only
 * code that talks to the database and the provider) and saved as `final-state.json` with each run.
 * Each source is read on its own; one that could not be read is an `Unreadable` with the reason.
 */

/** A source of the final state that could not be read, and why. */
export interface Unreadable {
  error: string;
}

export type Source<T> = T | Unreadable;

export function isUnreadable<T>(source: Source<T>): source is Unreadable {
  return !Array.isArray(source) && typeof source === "object" && source !== null && "error" in source;
}

export interface FinalOrder {
  id: string;
  idemKey: string;
  state: string;
  region?: string;
}

export type FinalStateOrder = FinalOrder & {
  total: number;
  items: { sku: string; qty: number }[];
  /** The order's outbox has a StockReserved event. */
  stockReserved: boolean;
};

export interface LedgerStock {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
  quota: number;
}

export interface LedgerReservation {
  orderId: string;
  sku: string;
  qty: number;
  state: "HELD" | "COMMITTED" | "RELEASED";
}

export interface LedgerMovement {
  orderId: string | null;
  sku: string;
  kind: "seed" | "reserve" | "release" | "commit";
  qty: number;
  /**
   * When it was written (epoch ms, the database's clock_timestamp(), on the lab's machine): the SKU's
   * availability over time. Absent in final states saved before it was read.
   */
  at?: number;
}

/** One region's three inventory tables. */
export interface LedgerState {
  stock: LedgerStock[];
  reservations: LedgerReservation[];
  movements: LedgerMovement[];
}

/** One record of the payment provider. */
export interface ProviderPayment {
  orderId: string;
  state: string;
  captures: number;
  amount: number;
}

/**
 * What the shop ended with. One source that cannot be read makes only the checks that need it
 * "not checked". Orders and inventory come from one database snapshot.
 */
export interface FinalState {
  /** The experiment's SKUs, as asked of the reader: each one has a stock row, or the read missed it. */
  skus: string[];
  orders: Source<FinalStateOrder[]>;
  inventory: Source<LedgerState>;
  /** The provider's records of this experiment's orders, not filtered by the orders the shop has. */
  payments: Source<ProviderPayment[]>;
}

export type SourceName = "orders" | "inventory" | "payments";

/** The final state with the sources a checker needs, each one read. */
export type Observed<N extends SourceName = SourceName> = { skus: string[] } & {
  [K in N]: Exclude<FinalState[K], Unreadable>;
};
