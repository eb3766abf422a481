import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ALLOWED_EDGES,
  type Command,
  decide,
  evolve,
  InvalidEventError,
  PaymentBook,
  type PaymentEvent,
  type PaymentState,
} from "../../../src/shop/payments/provider.ts";

const AT = "2025-01-01T00:00:00.000Z";

function authorize(orderId: string, amount: number, declined = false): Extract<Command, { op: "authorize" }> {
  return {
    op: "authorize",
    orderId,
    amount,
    currency: "EUR",
    providerRef: `ref-${orderId}`,
    declined,
    at: AT,
  };
}
const op = (name: "capture" | "void" | "refund", orderId: string): Command => ({ op: name, orderId, at: AT });

describe("payment state machine", () => {
  it("authorizes, captures and refunds, recording each step", () => {
    const book = new PaymentBook();
    expect(book.execute(authorize("o1", 1999))).toMatchObject({
      kind: "applied",
      payment: { orderId: "o1", amount: 1999, state: "AUTHORIZED", providerRef: "ref-o1", captures: 0 },
    });
    expect(book.execute(op("capture", "o1"))).toMatchObject({
      kind: "applied",
      payment: { state: "CAPTURED", captures: 1 },
    });
    expect(book.execute(op("refund", "o1"))).toMatchObject({
      kind: "applied",
      payment: { state: "REFUNDED", captures: 1 },
    });
    expect(book.get("o1")?.history.map((step) => step.state)).toEqual(["AUTHORIZED", "CAPTURED", "REFUNDED"]);
  });

  it("answers a replay with the same result and changes nothing", () => {
    const book = new PaymentBook();
    book.execute(authorize("o1", 500));
    const again = book.execute({ ...authorize("o1", 500), providerRef: "another-ref" });
    expect(again).toMatchObject({ kind: "replay", payment: { providerRef: "ref-o1", state: "AUTHORIZED" } });
    book.execute(op("capture", "o1"));
    const before = structuredClone(book.get("o1"));
    expect(book.execute(op("capture", "o1"))).toEqual({ kind: "replay", payment: before });
    expect(book.get("o1")).toEqual(before);
  });

  it("refuses an authorisation of a different amount", () => {
    const book = new PaymentBook();
    book.execute(authorize("o1", 500));
    const outcome = book.execute(authorize("o1", 501));
    expect(outcome).toMatchObject({ kind: "conflict" });
    expect(outcome.kind === "conflict" && outcome.message).toMatch(/500 EUR.*not 501/);
  });

  it.each([
    ["capture after void", ["void"], "capture", "VOIDED"],
    ["void after capture", ["capture"], "void", "CAPTURED"],
    ["refund before capture", [], "refund", "AUTHORIZED"],
    ["refund after void", ["void"], "refund", "VOIDED"],
    ["capture after refund", ["capture", "refund"], "capture", "REFUNDED"],
  ] as const)("refuses %s, naming the current state", (_name, steps, last, state) => {
    const book = new PaymentBook();
    book.execute(authorize("o1", 100));
    for (const step of steps) book.execute(op(step, "o1"));
    const outcome = book.execute(op(last, "o1"));
    expect(outcome).toMatchObject({ kind: "conflict", payment: { state } });
    expect(outcome.kind === "conflict" && outcome.message).toContain(state);
  });

  it("stores a decline and answers its replays with the same decline", () => {
    const book = new PaymentBook();
    expect(book.execute(authorize("o1", 100, true))).toMatchObject({
      kind: "applied",
      payment: { state: "DECLINED" },
    });
    // The issuer's answer is drawn once: a retry that would now be approved still gets the decline.
    expect(book.execute(authorize("o1", 100, false))).toMatchObject({
      kind: "replay",
      payment: { state: "DECLINED" },
    });
    expect(book.execute(op("capture", "o1"))).toMatchObject({ kind: "conflict" });
  });

  it("does not know operations on an order it never authorised", () => {
    const book = new PaymentBook();
    for (const name of ["capture", "void", "refund"] as const) {
      expect(book.execute(op(name, "ghost"))).toEqual({ kind: "not_found", orderId: "ghost" });
    }
    expect(book.size).toBe(0);
  });

  it("refuses events off the allowed edges", () => {
    const authorized: PaymentEvent = {
      type: "authorized",
      orderId: "o1",
      amount: 1,
      currency: "EUR",
      providerRef: "r",
      at: AT,
    };
    const captured: PaymentEvent = { type: "captured", orderId: "o1", at: AT };
    expect(() => evolve(undefined, captured)).toThrow(InvalidEventError);
    const payment = evolve(undefined, authorized);
    expect(() => evolve(payment, authorized)).toThrow(/already has a payment/);
    const once = evolve(payment, captured);
    expect(() => evolve(once, captured)).toThrow(/whose payment is CAPTURED/);
    expect(() => evolve({ ...payment, captures: 1 }, captured)).toThrow(/second capture/);
    expect(() => evolve(undefined, { ...authorized, amount: 0 })).toThrow(/amount/);
  });
});

const orderIds = ["a", "b", "c"];
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    op: fc.constant("authorize" as const),
    orderId: fc.constantFrom(...orderIds),
    amount: fc.constantFrom(100, 250),
    currency: fc.constant("EUR" as const),
    providerRef: fc.string({ minLength: 1, maxLength: 4 }),
    declined: fc.boolean(),
    at: fc.constant(AT),
  }),
  fc.record({
    op: fc.constantFrom("capture" as const, "void" as const, "refund" as const),
    orderId: fc.constantFrom(...orderIds),
    at: fc.constant(AT),
  }),
);

const edges = new Set(ALLOWED_EDGES.map(([from, to]) => `${from}->${to}`));
const CAPTURED_STATES = new Set<PaymentState>(["CAPTURED", "REFUNDED"]);

describe("payment state machine properties", () => {
  it("captures at most once per order, moves only along allowed edges, and replays change nothing", () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), (commands) => {
        const book = new PaymentBook();
        const events: PaymentEvent[] = [];
        for (const command of commands) {
          const before = structuredClone(book.get(command.orderId));
          const decision = decide(before, command);
          if (decision.kind === "apply") events.push(decision.event);
          const outcome = book.execute(command);
          const after = book.get(command.orderId);

          if (outcome.kind === "applied") {
            expect(edges.has(`${before?.state ?? null}->${after?.state}`)).toBe(true);
            // An applied operation, repeated at once, is a replay of the same payment.
            expect(book.execute(command)).toEqual({ kind: "replay", payment: after });
          } else {
            expect(after).toEqual(before);
          }
          for (const payment of book.all()) {
            expect(payment.captures).toBeLessThanOrEqual(1);
            expect(payment.captures).toBe(CAPTURED_STATES.has(payment.state) ? 1 : 0);
            expect(payment.history.length).toBeLessThanOrEqual(3);
          }
        }
        // The events alone rebuild the same book: what the journal replays on restart.
        const rebuilt = new PaymentBook();
        for (const event of events) rebuilt.apply(event);
        expect(rebuilt.all()).toEqual(book.all());
      }),
      { numRuns: 500 },
    );
  });

  it("evolve either follows an allowed edge or refuses the event", () => {
    const eventArb: fc.Arbitrary<PaymentEvent> = fc.oneof(
      fc.record({
        type: fc.constantFrom("authorized" as const, "declined" as const),
        orderId: fc.constant("a"),
        amount: fc.constant(100),
        currency: fc.constant("EUR" as const),
        providerRef: fc.constant("r"),
        at: fc.constant(AT),
      }),
      fc.record({
        type: fc.constantFrom("captured" as const, "voided" as const, "refunded" as const),
        orderId: fc.constant("a"),
        at: fc.constant(AT),
      }),
    );
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 20 }), (events) => {
        const book = new PaymentBook();
        for (const event of events) {
          const before = book.get("a");
          try {
            const after = book.apply(event);
            expect(edges.has(`${before?.state ?? null}->${after.state}`)).toBe(true);
            expect(after.captures).toBeLessThanOrEqual(1);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidEventError);
            expect(book.get("a")).toBe(before);
          }
        }
      }),
    );
  });
});
