import type { FastifyBaseLogger } from "fastify";
import { expect, it } from "vitest";
import { SoldOutGate } from "../../../src/shop/orders/sold-out-gate.ts";
import { SoldOutPoller } from "../../../src/shop/orders/sold-out-poller.ts";

const log = { debug() {} } as unknown as FastifyBaseLogger;
const TTL = 1_000;

function setup(answer: (skus: readonly string[]) => Map<string, number>) {
  let clock = 0;
  const gate = new SoldOutGate({ ttlMs: TTL });
  const asked: string[][] = [];
  const polls: string[] = [];
  const poller = new SoldOutPoller({
    gate,
    available: async (skus) => {
      asked.push([...skus]);
      return answer(skus);
    },
    intervalMs: 100,
    timeoutMs: 100,
    log,
    onPoll: (result) => polls.push(result),
    now: () => clock,
  });
  const close = (sku: string) => gate.answered(gate.reserving(sku, clock), true, clock);
  return { gate, poller, asked, polls, close, tick: (ms: number) => (clock += ms) };
}

it("asks nothing while nothing is gated", async () => {
  const { poller, asked } = setup(() => new Map());
  await poller.pollOnce();
  expect(asked).toEqual([]);
});

it("opens the gated SKUs with stock on sale, and keeps those with none gated a TTL from the poll", async () => {
  const { gate, poller, asked, polls, close, tick } = setup(
    () =>
      new Map([
        ["EMPTY", 0],
        ["BACK", 2],
      ]),
  );
  close("EMPTY");
  close("BACK");
  close("GONE"); // not in the answer (not stocked here): left to its TTL
  tick(900);
  await poller.pollOnce();
  expect(asked).toEqual([["EMPTY", "BACK", "GONE"]]);
  expect(polls).toEqual(["ok"]);
  expect(gate.gated(["BACK"], 900)).toBeUndefined();
  tick(500); // past the first mark's TTL, within the poll's
  expect(gate.gated(["EMPTY"], 1_400)).toBe("EMPTY");
  expect(gate.gated(["GONE"], 1_400)).toBeUndefined();
});

it("a failed poll changes nothing: the marks run out on their TTL", async () => {
  const { gate, poller, polls, close, tick } = setup(() => {
    throw new Error("inventory unreachable");
  });
  close("EMPTY");
  tick(900);
  await poller.pollOnce();
  expect(polls).toEqual(["failed"]);
  expect(gate.gated(["EMPTY"], 999)).toBe("EMPTY");
  expect(gate.gated(["EMPTY"], 1_000)).toBeUndefined();
});
