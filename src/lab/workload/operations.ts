import type { OpKind } from "../history/op.ts";
import type { Rng } from "./rng.ts";

/** Relative weights of the operation kinds (need not sum to 1). */
export type OperationMix = Record<OpKind, number>;

export const DEFAULT_MIX: OperationMix = { order: 0.6, "order-read": 0.2, "catalog-read": 0.2 };

export interface Catalogue {
  /** Distinct user ids `u-0` … `u-<users-1>`. */
  users: number;
  /** The flash-sale SKUs: they take `hotShare` of the picks. */
  hotSkus: readonly string[];
  coldSkus: readonly string[];
  /** Share of SKU picks that go to a hot SKU (default 0.9). */
  hotShare?: number;
  /** Share of orders with two distinct items instead of one (default 0.1). */
  multiItemShare?: number;
  /** Share of catalog reads for a SKU that does not exist (default 0.05). */
  missingSkuShare?: number;
}

export type PlannedOp =
  | { kind: "order"; idempotencyKey: string; userId: string; items: { sku: string; qty: number }[] }
  | { kind: "order-read"; orderId: string; userId: string }
  | { kind: "catalog-read"; sku: string; exists: boolean };

/** The orders this client created (ids it learned); when full, the oldest is replaced. */
export class KnownOrders {
  private readonly entries: { orderId: string; userId: string }[] = [];
  private next = 0;

  constructor(private readonly capacity = 10_000) {}

  add(orderId: string, userId: string): void {
    if (this.entries.length < this.capacity) this.entries.push({ orderId, userId });
    else this.entries[this.next] = { orderId, userId };
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.entries.length;
  }

  pick(rng: Rng): { orderId: string; userId: string } | undefined {
    return this.entries.length === 0 ? undefined : rng.pick(this.entries);
  }
}

/**
 * Decides what one arrival does. Orders: a random user, one item of qty 1 (occasionally two
 * distinct items), SKUs mostly hot. Order reads: an order this client created; while it knows
 * none yet (the first moments of a run), the arrival becomes a catalog read instead. Catalog reads:
 * an existing SKU, or (a small share) one that does not exist.
 */
export class OperationPlanner {
  private readonly weights: OperationMix;
  private readonly hotShare: number;
  private readonly multiItemShare: number;
  private readonly missingSkuShare: number;

  constructor(
    private readonly catalogue: Catalogue,
    mix: Partial<OperationMix>,
    private readonly rng: Rng,
    private readonly keyPrefix: string,
  ) {
    this.weights = { ...DEFAULT_MIX, ...mix };
    const weights = Object.entries(this.weights);
    if (weights.some(([, w]) => !(w >= 0)) || weights.every(([, w]) => w === 0)) {
      throw new Error(`mix weights must be ≥ 0 with a positive sum, got ${JSON.stringify(this.weights)}`);
    }
    if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(keyPrefix)) {
      throw new Error(
        `keyPrefix must be 1-100 characters of [A-Za-z0-9_.:-], got ${JSON.stringify(keyPrefix)}`,
      );
    }
    if (!(catalogue.users >= 1)) throw new Error(`users must be ≥ 1, got ${catalogue.users}`);
    if (catalogue.hotSkus.length + catalogue.coldSkus.length === 0) throw new Error("no SKUs to order");
    this.hotShare = catalogue.hotShare ?? 0.9;
    this.multiItemShare = catalogue.multiItemShare ?? 0.1;
    this.missingSkuShare = catalogue.missingSkuShare ?? 0.05;
  }

  plan(id: number, known: KnownOrders): PlannedOp {
    const kind = this.rng.weighted(this.weights);
    if (kind === "order") {
      const first = this.sku();
      const items = [{ sku: first, qty: 1 }];
      if (this.rng.chance(this.multiItemShare)) {
        const second = this.sku();
        if (second !== first) items.push({ sku: second, qty: 1 });
      }
      // Zero-padded so that even a one-letter prefix makes a valid key (8–128 of [A-Za-z0-9_.:-]).
      const idempotencyKey = `${this.keyPrefix}-${String(id).padStart(8, "0")}`;
      return { kind, idempotencyKey, userId: this.user(), items };
    }
    if (kind === "order-read") {
      const order = known.pick(this.rng);
      if (order) return { kind, ...order };
    }
    if (this.rng.chance(this.missingSkuShare)) {
      return { kind: "catalog-read", sku: `NO-SUCH-SKU-${this.rng.int(1_000_000)}`, exists: false };
    }
    return { kind: "catalog-read", sku: this.sku(), exists: true };
  }

  private user(): string {
    return `u-${this.rng.int(this.catalogue.users)}`;
  }

  private sku(): string {
    const { hotSkus, coldSkus } = this.catalogue;
    const hot = coldSkus.length === 0 || (hotSkus.length > 0 && this.rng.chance(this.hotShare));
    return this.rng.pick(hot ? hotSkus : coldSkus);
  }
}
