import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../../src/shop/db/group-commit.ts";

/** The batching rules of group commit, without a database: `send` is a function the test controls. */

interface Held {
  items: string[];
  answer(results?: string[]): void;
  fail(error: Error): void;
}

function harness(maxInFlight: number, maxBatch = 10) {
  const sent: Held[] = [];
  const group = new GroupCommit<string, string>({
    maxInFlight,
    maxBatch,
    key: (item) => item.split(":")[0] as string,
    send: (items) =>
      new Promise<string[]>((resolve, reject) => {
        sent.push({
          items,
          answer: (results) => resolve(results ?? items.map((item) => `done ${item}`)),
          fail: reject,
        });
      }),
  });
  return { group, sent };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("group commit", () => {
  it("sends a lone item at once, without waiting for company", async () => {
    const { group, sent } = harness(2);
    const result = group.submit("a");
    expect(sent.map((s) => s.items)).toEqual([["a"]]);
    sent[0]?.answer();
    expect(await result).toBe("done a");
  });

  it("queues items only while maxInFlight batches are out, and sends them as one batch when one ends", async () => {
    const { group, sent } = harness(1);
    const first = group.submit("a");
    const queued = ["b", "c", "d"].map((item) => group.submit(item));
    expect(sent.map((s) => s.items)).toEqual([["a"]]);
    expect(group.waiting).toBe(3);
    sent[0]?.answer();
    await first;
    await tick();
    expect(sent.map((s) => s.items)).toEqual([["a"], ["b", "c", "d"]]);
    sent[1]?.answer();
    expect(await Promise.all(queued)).toEqual(["done b", "done c", "done d"]);
    expect(group.sent).toEqual({ batches: 2, items: 4 });
  });

  it("never puts two items with the same key in one batch, and caps a batch at maxBatch", async () => {
    const { group, sent } = harness(1, 2);
    group.submit("x:1");
    const rest = ["x:2", "y:1", "x:3", "z:1"].map((item) => group.submit(item));
    sent[0]?.answer();
    await tick();
    expect(sent[1]?.items).toEqual(["x:2", "y:1"]);
    sent[1]?.answer();
    await tick();
    expect(sent[2]?.items).toEqual(["x:3", "z:1"]);
    sent[2]?.answer();
    await Promise.all(rest);
  });

  it("holds an item whose key is in flight until that batch ends, even with room for another batch", async () => {
    const { group, sent } = harness(2);
    const first = group.submit("x:1");
    const second = group.submit("x:2");
    const other = group.submit("y:1");
    expect(sent.map((s) => s.items)).toEqual([["x:1"], ["y:1"]]);
    sent[1]?.answer();
    await other;
    await tick();
    expect(sent).toHaveLength(2);
    sent[0]?.answer();
    await first;
    await tick();
    expect(sent[2]?.items).toEqual(["x:2"]);
    sent[2]?.answer();
    expect(await second).toBe("done x:2");
  });

  it("fails every item of a failed batch with its error, and goes on with the next", async () => {
    const { group, sent } = harness(1);
    const first = group.submit("a");
    const b = group.submit("b");
    const c = group.submit("c");
    sent[0]?.answer();
    await first;
    await tick();
    sent[1]?.fail(new Error("connection reset"));
    await expect(b).rejects.toThrow("connection reset");
    await expect(c).rejects.toThrow("connection reset");
    const d = group.submit("d");
    sent[2]?.answer();
    expect(await d).toBe("done d");
  });

  it("fails a batch whose send answers the wrong number of results", async () => {
    const { group, sent } = harness(1);
    group.submit("a");
    const pair = [group.submit("b"), group.submit("c")];
    sent[0]?.answer();
    await tick();
    sent[1]?.answer(["only one"]);
    for (const item of pair) await expect(item).rejects.toThrow(/1 results for 2 items/);
  });
});
