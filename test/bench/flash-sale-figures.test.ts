import { describe, expect, it } from "vitest";
import { classFigures, classify, refusals } from "../../bench/flash-sale-figures.ts";
import type { ClientOp } from "../../src/lab/history/op.ts";

let id = 0;
function order(
  type: ClientOp["type"],
  time: number,
  value: ClientOp["value"] = {},
  latencyMs?: number,
): ClientOp {
  return {
    type,
    id: type === "invoke" ? ++id : id,
    process: "client",
    kind: "order",
    time,
    wall: time,
    value,
    ...(latencyMs === undefined ? {} : { latencyMs }),
  };
}

describe("flash-sale figures", () => {
  it("classes what a buyer heard", () => {
    expect(classify(order("ok", 0, { state: "CONFIRMED", status: 201 }))).toBe("confirmed");
    expect(classify(order("ok", 0, { state: "CANCELLED", cancelReason: "sold_out", status: 201 }))).toBe(
      "sold_out",
    );
    expect(classify(order("fail", 0, { status: 409, error: "409 sold_out" }))).toBe("sold_out");
    expect(
      classify(order("ok", 0, { state: "CANCELLED", cancelReason: "payment_declined", status: 201 })),
    ).toBe("other");
    expect(classify(order("fail", 0, { status: 429, error: "429 overloaded" }))).toBe("rejected_429");
    expect(classify(order("info", 0, { error: "timeout after 2000 ms" }))).toBe("no_answer");
  });

  it("counts answers per second over the span from the first intended send to the last answer", () => {
    const ops = [
      order("invoke", 0),
      order("ok", 500, { state: "CONFIRMED", status: 201 }, 500),
      order("invoke", 1000),
      order("fail", 4000, { status: 429 }, 3000),
    ];
    const { spanMs, classes } = classFigures(ops);
    expect(spanMs).toBe(4000);
    expect(classes.confirmed).toMatchObject({ answers: 1, perSecond: 0.25 });
    // HdrHistogram at 3 significant digits: within 0.1 %.
    expect(classes.confirmed.p50Ms).toBeCloseTo(500, 0);
    expect(classes.rejected_429.answers).toBe(1);
    expect(Math.abs((classes.rejected_429.p99Ms ?? 0) - 3000)).toBeLessThan(3);
    expect(classes.sold_out).toMatchObject({ answers: 0, p50Ms: null });
  });

  it("tells the gateway's refusals from the order service's", () => {
    const ops = [
      order("invoke", 0),
      order("fail", 1, { status: 429, error: "rate_limited" }),
      order("invoke", 2),
      order("fail", 3, { status: 429, error: "overloaded" }),
      order("invoke", 4),
      order("fail", 5, { status: 429, error: "overloaded" }),
      order("invoke", 6),
      order("fail", 7, { status: 409, error: "sold_out" }),
    ];
    expect(refusals(ops)).toEqual({ gateway: 1, orderService: 2, unknown: 0 });
  });

  it("ends the span at the last answer, not at a buyer's timeout, and never before the last send", () => {
    const ops = [
      order("invoke", 0),
      order("ok", 1000, { state: "CONFIRMED", status: 201 }, 1000),
      order("invoke", 2000),
      order("fail", 2200, { status: 429 }, 200),
      order("invoke", 3000),
      order("info", 13_000, { error: "timeout after 10000 ms" }, 10_000),
    ];
    const { spanMs, classes } = classFigures(ops);
    expect(spanMs).toBe(3000);
    expect(classes.confirmed.perSecond).toBeCloseTo(1 / 3, 6);
    expect(classes.no_answer.answers).toBe(1);
  });
});
