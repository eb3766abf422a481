import { describe, expect, it } from "vitest";
import { meansSoldOut, SoldOutGate } from "../../../src/shop/orders/sold-out-gate.ts";

const TTL = 1_000;

function soldOutAt(gate: SoldOutGate, sku: string, sentAt: number, answeredAt = sentAt + 5) {
  gate.answered(gate.reserving(sku, sentAt), true, answeredAt);
}

describe("sold-out gate", () => {
  it("gates a SKU once the inventory answers sold out, and only that SKU", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    expect(gate.gated(["HOT"], 0)).toBeUndefined();
    soldOutAt(gate, "HOT", 100);
    expect(gate.gated(["COLD", "HOT"], 200)).toBe("HOT");
    expect(gate.gated(["COLD"], 200)).toBeUndefined();
    expect(gate.gatedSkus(200)).toEqual(["HOT"]);
  });

  it("does not gate on an answer that is not sold out, or on a failed call", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    gate.answered(gate.reserving("HOT", 0), false, 5);
    expect(gate.gated(["HOT"], 10)).toBeUndefined();
    expect(gate.size).toBe(0);
  });

  it("expires a mark a TTL after its request was sent, and forgets the SKU", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    soldOutAt(gate, "HOT", 100, 400);
    expect(gate.gated(["HOT"], 100 + TTL - 1)).toBe("HOT");
    expect(gate.gated(["HOT"], 100 + TTL)).toBeUndefined();
    expect(gate.size).toBe(0);
  });

  it("opens at once when stock is seen coming back", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    soldOutAt(gate, "HOT", 100);
    gate.returned(["HOT"]);
    expect(gate.gated(["HOT"], 200)).toBeUndefined();
    expect(gate.size).toBe(0);
  });

  it("a sold out decided before a return, answered after it, does not close the gate again", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    // The reserve is sent; the inventory decides "sold out"; meanwhile this process's own release
    // of the SKU lands and is answered first; then the stale "sold out" arrives.
    const ticket = gate.reserving("HOT", 100);
    gate.returned(["HOT"]);
    gate.answered(ticket, true, 150);
    expect(gate.gated(["HOT"], 160)).toBeUndefined();
    // A reserve sent after the return may gate it again: that answer saw the return.
    soldOutAt(gate, "HOT", 170);
    expect(gate.gated(["HOT"], 180)).toBe("HOT");
  });

  it("a return opens a gated SKU even while other reserves of it are in flight, and they cannot re-close it", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    soldOutAt(gate, "HOT", 100);
    const inFlight = [gate.reserving("HOT", 110), gate.reserving("HOT", 120)];
    gate.returned(["HOT"]);
    for (const ticket of inFlight) gate.answered(ticket, true, 130);
    expect(gate.gated(["HOT"], 140)).toBeUndefined();
    expect(gate.size).toBe(0);
  });

  it("a poll that reads none left keeps a gated SKU gated a TTL from the poll's send; it never gates an open one", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    soldOutAt(gate, "HOT", 100);
    gate.confirmed(["HOT", "COLD"], 900);
    expect(gate.gated(["HOT"], 100 + TTL + 500)).toBe("HOT");
    expect(gate.gated(["HOT"], 900 + TTL)).toBeUndefined();
    expect(gate.gated(["COLD"], 950)).toBeUndefined();
  });

  it("a poll sent before a return cannot re-close the gate the return opened", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    soldOutAt(gate, "HOT", 100);
    const inFlight = gate.reserving("HOT", 140); // keeps the SKU's state while the poll is out
    gate.returned(["HOT"]);
    gate.confirmed(["HOT"], 150);
    expect(gate.gated(["HOT"], 200)).toBeUndefined();
    gate.answered(inFlight, false, 210);
    expect(gate.size).toBe(0);
  });

  it("keeps no state for SKUs that are neither in flight nor gated", () => {
    const gate = new SoldOutGate({ ttlMs: TTL });
    for (let i = 0; i < 1000; i++) gate.answered(gate.reserving(`SKU-${i}`, i), false, i + 1);
    gate.returned(["NEVER-SEEN"]);
    expect(gate.size).toBe(0);
  });

  it("with the built-in bug sticky-sold-out-gate, never opens again", () => {
    const gate = new SoldOutGate({ ttlMs: TTL, sticky: true });
    soldOutAt(gate, "HOT", 100);
    gate.returned(["HOT"]);
    expect(gate.gated(["HOT"], 100 + 100 * TTL)).toBe("HOT");
  });
});

describe("meansSoldOut", () => {
  it("is the inventory's sold_out, or too little for a single unit", () => {
    expect(meansSoldOut("sold_out", 3)).toBe(true);
    expect(meansSoldOut("insufficient_stock", 1)).toBe(true);
    expect(meansSoldOut("insufficient_stock", 2)).toBe(false);
    expect(meansSoldOut("order_released", 1)).toBe(false);
    expect(meansSoldOut("unknown_sku", 1)).toBe(false);
  });
});
