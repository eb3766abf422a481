// A reserve refused before it was sent (the inventory breaker open, the bulkhead full) reserved
// nothing: the run that placed the order cancels it without a release call, so an inventory outage
// does not end in a flood of releases the moment the breaker closes. Any run that cannot know what
// earlier drivers sent still releases, and a driver whose granted reserve loses the race to such a
// cancellation releases its own units. The store and the inventory are in-memory stand-ins: the
// point is which calls the saga makes, in an interleaving the test forces.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { HybridLogicalClock } from "../../../src/shop/domain/hlc.ts";
import type { CancelReason, OrderState } from "../../../src/shop/domain/order.ts";
import type { ReserveResult, SettleResult } from "../../../src/shop/inventory/client.ts";
import type { InventoryPort } from "../../../src/shop/orders/gated-inventory.ts";
import { OrderSaga } from "../../../src/shop/orders/saga.ts";
import type { OrderStore, StoredOrder } from "../../../src/shop/orders/store.ts";
import type { PaymentClient } from "../../../src/shop/payments/client.ts";
import { DependencyError } from "../../../src/shop/resilience/policies.ts";

const TERMINAL: OrderState[] = ["CONFIRMED", "CANCELLED"];

function memoryStore(order: StoredOrder): OrderStore {
  let current = structuredClone(order);
  const copy = () => structuredClone(current);
  const live = () => !TERMINAL.includes(current.state) && !current.cancelReason;
  return {
    get: async () => copy(),
    advance: async (_id: string, from: OrderState, to: OrderState) => {
      if (current.state !== from || !live()) return undefined;
      current = { ...current, state: to };
      return copy();
    },
    decideCancel: async (_id: string, reason: CancelReason) => {
      if (!live()) return undefined;
      current = { ...current, cancelReason: reason };
      return copy();
    },
    finishCancel: async () => {
      if (TERMINAL.includes(current.state)) return undefined;
      current = { ...current, state: "CANCELLED" };
      return copy();
    },
  } as unknown as OrderStore;
}

function inventory(reserve: () => Promise<ReserveResult>) {
  const released: string[] = [];
  const port: InventoryPort = {
    reserve,
    commit: async (): Promise<SettleResult> => ({ kind: "done" }),
    release: async (orderId): Promise<SettleResult> => {
      released.push(orderId);
      return { kind: "done" };
    },
  } as InventoryPort;
  return { port, released };
}

function saga(store: OrderStore, port: InventoryPort) {
  return new OrderSaga({
    store,
    inventory: port,
    payments: {} as PaymentClient,
    clock: new HybridLogicalClock(),
    log: pino({ level: "silent" }),
    voids: { windowMs: 0 },
  });
}

function pendingOrder(): StoredOrder {
  return {
    id: "1001",
    userId: "u1",
    idemKey: "k1",
    fingerprint: "f",
    homeRegion: "east",
    state: "PENDING",
    items: [{ sku: "HOT-1", qty: 1, price: 100 }],
    total: 100,
    hlc: "0",
  } as unknown as StoredOrder;
}

const unsent = () => {
  const error = new DependencyError("inventory", "breaker_open");
  error.mayHaveReachedDependency = false;
  return Promise.reject(error);
};
const timedOut = () => Promise.reject(new DependencyError("inventory", "timeout"));

describe("an order whose reserve failed", () => {
  it("placed by this run, every reserve refused unsent: cancelled without a release", async () => {
    const store = memoryStore(pendingOrder());
    const { port, released } = inventory(unsent);
    const order = await saga(store, port).drive("1001", undefined, undefined, true);
    expect(order.state).toBe("CANCELLED");
    expect(order.cancelReason).toBe("inventory_unavailable");
    expect(released).toEqual([]);
  });

  it("placed by this run, a reserve that may have been sent (a timeout): released", async () => {
    const store = memoryStore(pendingOrder());
    const { port, released } = inventory(timedOut);
    const order = await saga(store, port).drive("1001", undefined, undefined, true);
    expect(order.state).toBe("CANCELLED");
    expect(released).toEqual(["1001"]);
  });

  it("driven by a run that did not place it (recovery, a replay): released whatever the error says", async () => {
    const store = memoryStore(pendingOrder());
    const { port, released } = inventory(unsent);
    const order = await saga(store, port).drive("1001");
    expect(order.state).toBe("CANCELLED");
    expect(released).toEqual(["1001"]);
  });

  it("a granted reserve that lost the race to an unsent cancellation releases its own units", async () => {
    const store = memoryStore(pendingOrder());
    // Another instance drives the same order (a replay of its key) and its reserve is granted, but
    // the answer arrives only after the placing run has cancelled the order without a release.
    let grant: (result: ReserveResult) => void = () => {};
    const granted = new Promise<ReserveResult>((resolve) => {
      grant = resolve;
    });
    const other = inventory(() => granted);
    const otherRun = saga(store, other.port).drive("1001");
    const placing = inventory(unsent);
    const cancelled = await saga(store, placing.port).drive("1001", undefined, undefined, true);
    expect(cancelled.state).toBe("CANCELLED");
    expect(placing.released).toEqual([]);
    grant({ kind: "granted" });
    expect((await otherRun).state).toBe("CANCELLED");
    expect(other.released).toEqual(["1001"]);
  });
});
