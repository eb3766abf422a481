import { expect, it } from "vitest";
import { KeyLookup } from "../../../src/shop/orders/key-lookup.ts";

function recordingLoad(existing: string[], delayMs = 5) {
  const calls: string[][] = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return new Set(keys.filter((key) => existing.includes(key)));
  };
  return { calls, load };
}

it("looks up the keys asked for in one turn with one read, and answers each", async () => {
  const { calls, load } = recordingLoad(["k-3", "k-7"]);
  const lookup = new KeyLookup(load);
  const keys = Array.from({ length: 10 }, (_, i) => `k-${i}`);
  const found = await Promise.all([...keys, "k-3"].map((key) => lookup.has(key)));
  expect(calls).toHaveLength(1);
  expect(calls[0]).toHaveLength(10); // k-3 asked twice, read once
  expect(keys.filter((_, i) => found[i])).toEqual(["k-3", "k-7"]);
  expect(found[10]).toBe(true);
});

it("keys that arrive while a read is out go in the next read, one at a time", async () => {
  const { calls, load } = recordingLoad(["late-2"], 20);
  const lookup = new KeyLookup(load);
  const first = lookup.has("early");
  await new Promise((resolve) => setTimeout(resolve, 5)); // the first read is out now
  const late = [lookup.has("late-1"), lookup.has("late-2")];
  expect(await first).toBe(false);
  expect(await Promise.all(late)).toEqual([false, true]);
  expect(calls).toEqual([["early"], ["late-1", "late-2"]]);
});

it("a failed read fails every waiter of its batch, and the next batch reads again", async () => {
  let fail = true;
  const lookup = new KeyLookup(async (keys) => {
    if (fail) throw new Error("database unreachable");
    return new Set(keys);
  });
  const results = await Promise.allSettled([lookup.has("a"), lookup.has("b")]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  fail = false;
  expect(await lookup.has("a")).toBe(true);
});

it("splits a queue longer than the batch limit", async () => {
  const { calls, load } = recordingLoad([]);
  const lookup = new KeyLookup(load, 4);
  await Promise.all(Array.from({ length: 10 }, (_, i) => lookup.has(`k-${i}`)));
  expect(calls.map((keys) => keys.length)).toEqual([4, 4, 2]);
});
