import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate, type PriorReservation, type ReserveRequest } from "../../../src/shop/domain/allocation.ts";

const none = { prior: new Map<string, PriorReservation>(), released: new Set<string>() };

const requestsArb = fc.array(
  fc.record({
    orderId: fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `o${i}`)),
    qty: fc.integer({ min: 1, max: 5 }),
  }),
  { maxLength: 120 },
);

describe("allocate", () => {
  it("grants in arrival order until stock runs out, then rejects", () => {
    const requests = ["a", "b", "c", "d"].map((orderId) => ({ orderId, qty: 1 }));
    const result = allocate(requests, { available: 2, ...none });
    expect(result.decisions.map((d) => d.kind)).toEqual(["grant", "grant", "reject", "reject"]);
    expect(result.granted).toBe(2);
    expect(result.remaining).toBe(0);
  });

  it("lets a smaller later request use what a larger earlier one could not", () => {
    const result = allocate(
      [
        { orderId: "big", qty: 3 },
        { orderId: "small", qty: 1 },
      ],
      { available: 2, ...none },
    );
    expect(result.decisions.map((d) => d.kind)).toEqual(["reject", "grant"]);
  });

  it("answers a stored order with its first outcome, and a released order with a rejection", () => {
    const prior = new Map<string, PriorReservation>([["a", { qty: 2, state: "COMMITTED" }]]);
    const result = allocate(
      [
        { orderId: "a", qty: 2 },
        { orderId: "a", qty: 3 },
        { orderId: "gone", qty: 1 },
      ],
      { available: 5, prior, released: new Set(["gone"]) },
    );
    expect(result.decisions).toEqual([
      { kind: "replay", orderId: "a", qty: 2, state: "COMMITTED" },
      { kind: "reject", orderId: "a", qty: 3, reason: "qty_mismatch" },
      { kind: "reject", orderId: "gone", qty: 1, reason: "order_released" },
    ]);
    expect(result.granted).toBe(0);
  });

  it("refuses nonsense input", () => {
    expect(() => allocate([{ orderId: "a", qty: 0 }], { available: 1, ...none })).toThrow(/qty/);
    expect(() => allocate([], { available: -1, ...none })).toThrow(/available/);
  });

  it("never grants more than is available, and accounts for every unit", () => {
    fc.assert(
      fc.property(requestsArb, fc.integer({ min: 0, max: 60 }), (requests, available) => {
        const result = allocate(requests, { available, ...none });
        const grantedQty = result.grants.reduce((sum, g) => sum + g.qty, 0);
        expect(grantedQty).toBe(result.granted);
        expect(result.granted).toBeLessThanOrEqual(available);
        expect(result.remaining).toBe(available - result.granted);
        expect(new Set(result.grants.map((g) => g.orderId)).size).toBe(result.grants.length);
      }),
    );
  });

  it("grants first-fit in arrival order: a request is rejected only when it did not fit at its turn", () => {
    fc.assert(
      fc.property(requestsArb, fc.integer({ min: 0, max: 60 }), (requests, available) => {
        const result = allocate(requests, { available, ...none });
        // Replay the decisions in order against a running balance.
        let left = available;
        const seen = new Map<string, number>();
        result.decisions.forEach((decision, i) => {
          const request = requests[i] as ReserveRequest;
          const first = seen.get(request.orderId);
          if (first !== undefined) {
            expect(decision.kind === "reject" && decision.reason === "qty_mismatch").toBe(
              first !== request.qty,
            );
            return;
          }
          seen.set(request.orderId, request.qty);
          if (request.qty <= left) {
            expect(decision.kind).toBe("grant");
            left -= request.qty;
          } else {
            expect(decision).toMatchObject({ kind: "reject", reason: "insufficient_stock" });
          }
        });
        expect(left).toBe(result.remaining);
      }),
    );
  });

  it("is idempotent: replaying a batch against its own result grants nothing new and repeats every outcome", () => {
    fc.assert(
      fc.property(requestsArb, fc.integer({ min: 0, max: 60 }), (requests, available) => {
        const first = allocate(requests, { available, ...none });
        const prior = new Map<string, PriorReservation>(
          first.grants.map((g) => [g.orderId, { qty: g.qty, state: "HELD" as const }]),
        );
        const again = allocate(requests, { available: first.remaining, prior, released: new Set() });
        expect(again.granted).toBe(0);
        again.decisions.forEach((decision, i) => {
          const before = first.decisions[i];
          if (before?.kind === "grant") expect(decision).toMatchObject({ kind: "replay", state: "HELD" });
          else expect(decision.kind).toBe("reject");
        });
      }),
    );
  });

  it("gives concurrent duplicates of one order a single grant", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 1, max: 10 }), (copies, available) => {
        const requests = Array.from({ length: copies }, () => ({ orderId: "dup", qty: 1 }));
        const result = allocate(requests, { available, ...none });
        expect(result.granted).toBe(1);
        expect(result.decisions.every((d) => d.kind === "grant")).toBe(true);
        expect(result.grants).toHaveLength(1);
      }),
    );
  });
});
