import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyDecision,
  compareVersions,
  type OrderVersion,
  resolveAll,
  resolveKeyCollision,
  resolveOrder,
} from "../../../src/shop/domain/conflicts.ts";
import { formatHlc } from "../../../src/shop/domain/hlc.ts";

const hlc = fc
  .record({ wallMs: fc.integer({ min: 0, max: 2_000 }), logical: fc.integer({ min: 0, max: 3 }) })
  .map(formatHlc);

const version = (id: string) =>
  fc.record<OrderVersion>({
    id: fc.constant(id),
    state: fc.constantFrom("PENDING", "RESERVED", "PAID", "CONFIRMED", "CANCELLED"),
    cancelReason: fc.constantFrom(null, "payment_unavailable", "reservation_expired"),
    payment: fc.constantFrom(null, "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED"),
    hlc,
    region: fc.constantFrom("east", "west"),
  });

const base: OrderVersion = {
  id: "1",
  state: "PENDING",
  cancelReason: null,
  payment: null,
  hlc: formatHlc({ wallMs: 100, logical: 0 }),
  region: "east",
};

describe("order conflict resolution", () => {
  it("is commutative and idempotent", () => {
    fc.assert(
      fc.property(version("1"), version("1"), (a, b) => {
        expect(resolveOrder(a, b)).toEqual(resolveOrder(b, a));
        expect(resolveOrder(a, a)).toEqual(a);
      }),
    );
  });

  it("converges on one version for any delivery order, duplicates included", () => {
    fc.assert(
      fc.property(
        fc.array(version("1"), { minLength: 1, maxLength: 8 }),
        fc.func(fc.integer()),
        (versions, key) => {
          const shuffled = [...versions, ...versions.slice(0, 2)].sort((x, y) => key(x) - key(y));
          expect(resolveAll(shuffled)).toEqual(resolveAll(versions));
        },
      ),
    );
  });

  it("orders versions totally: only equal versions compare equal", () => {
    fc.assert(
      fc.property(version("1"), version("1"), (a, b) => {
        expect(compareVersions(a, b) === 0).toBe(JSON.stringify(a) === JSON.stringify(b));
        expect(Math.sign(compareVersions(a, b))).toBe(-Math.sign(compareVersions(b, a)));
      }),
    );
  });

  it("lets a captured confirmation beat a cancellation by timeout, whatever the clocks say", () => {
    const confirmed = { ...base, state: "CONFIRMED" as const, payment: "CAPTURED" as const };
    const cancelled = {
      ...base,
      state: "CANCELLED" as const,
      cancelReason: "payment_unavailable" as const,
      payment: "VOIDED" as const,
      hlc: formatHlc({ wallMs: 999, logical: 0 }),
      region: "west",
    };
    expect(resolveOrder(cancelled, confirmed)).toBe(confirmed);
  });

  it("keeps a compensated (refunded) order cancelled, even against a later confirmation", () => {
    const refunded = {
      ...base,
      state: "CANCELLED" as const,
      cancelReason: "reservation_expired" as const,
      payment: "REFUNDED" as const,
    };
    const confirmed = {
      ...base,
      state: "CONFIRMED" as const,
      payment: "CAPTURED" as const,
      hlc: formatHlc({ wallMs: 999, logical: 0 }),
    };
    expect(resolveOrder(confirmed, refunded)).toBe(refunded);
  });

  it("never moves progress backwards: a later clock does not undo a step", () => {
    const paid = { ...base, state: "PAID" as const, payment: "AUTHORIZED" as const };
    const stale = { ...base, state: "RESERVED" as const, hlc: formatHlc({ wallMs: 999, logical: 0 }) };
    expect(resolveOrder(stale, paid)).toBe(paid);
  });
});

describe("idempotency-key collisions across regions", () => {
  it("picks the same survivor in both regions, and the other order as the loser", () => {
    fc.assert(
      fc.property(version("1"), version("2"), (a, b) => {
        const here = resolveKeyCollision(a, b);
        const there = resolveKeyCollision(b, a);
        expect(here).toEqual(there);
        expect(new Set([here.survivor.id, here.loser.id])).toEqual(new Set(["1", "2"]));
      }),
    );
  });

  it("keeps the confirmed order over a pending duplicate, and the first placed between equals", () => {
    const confirmed = {
      ...base,
      id: "2",
      state: "CONFIRMED" as const,
      payment: "CAPTURED" as const,
      hlc: formatHlc({ wallMs: 500, logical: 0 }),
    };
    expect(resolveKeyCollision(base, confirmed).survivor).toBe(confirmed);
    const later = { ...base, id: "0", hlc: formatHlc({ wallMs: 200, logical: 0 }) };
    expect(resolveKeyCollision(later, base).survivor).toBe(base);
  });
});

describe("applying a shipped version", () => {
  /** A region that starts without the order and applies `deliveries` one by one, as its relay would. */
  const held = (deliveries: readonly OrderVersion[]) =>
    deliveries.reduce<OrderVersion | undefined>((mine, incoming) => {
      const decision = applyDecision(mine, incoming);
      return decision.action === "keep" ? mine : incoming;
    }, undefined);

  it("leaves every region holding the same version whatever it received, in any order, twice or not", () => {
    fc.assert(
      fc.property(
        fc.array(version("1"), { minLength: 1, maxLength: 8 }),
        fc.func(fc.integer()),
        (versions, key) => {
          const elsewhere = [...versions, ...versions.slice(0, 3)].sort((x, y) => key(x) - key(y));
          expect(held(elsewhere)).toEqual(held(versions));
          expect(held(versions)).toEqual(resolveAll(versions));
        },
      ),
    );
  });

  it("calls it a conflict only when two regions wrote different versions", () => {
    const paid = { ...base, state: "PAID" as const, hlc: formatHlc({ wallMs: 200, logical: 0 }) };
    expect(applyDecision(base, paid)).toEqual({ action: "replace", conflict: false });
    expect(applyDecision(paid, base)).toEqual({ action: "keep", conflict: false });
    expect(applyDecision(base, base)).toEqual({ action: "keep", conflict: false });
    const stale = {
      ...base,
      state: "CANCELLED" as const,
      cancelReason: "reservation_expired" as const,
      region: "west",
    };
    expect(applyDecision(paid, stale)).toEqual({ action: "replace", conflict: true });
    expect(applyDecision(undefined, paid)).toEqual({ action: "insert" });
  });
});
