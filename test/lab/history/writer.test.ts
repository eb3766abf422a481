import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HistoryOp } from "../../../src/lab/history/op.ts";
import { HISTORY_FILE, HistoryWriter, parseHistory, readHistory } from "../../../src/lab/history/writer.ts";

function clientOp(id: number, type: "invoke" | "ok", time: number): HistoryOp {
  return {
    type,
    id,
    process: "client",
    kind: "order",
    time,
    wall: 1_700_000_000_000 + time,
    value:
      type === "invoke"
        ? { idempotencyKey: `key-${id}`, userId: "u-1", items: [{ sku: "A", qty: 1 }] }
        : { state: "CONFIRMED" },
    ...(type === "ok" ? { latencyMs: 3.5 } : {}),
    phase: "baseline",
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chaoscart-history-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("HistoryWriter", () => {
  it("keeps ops in memory at once, writes them periodically, and loses none on close", async () => {
    const writer = new HistoryWriter({ dir: join(dir, "run-1"), flushIntervalMs: 20 });
    expect(writer.path).toBe(join(dir, "run-1", HISTORY_FILE));
    writer.append(clientOp(1, "invoke", 1));
    const nemesis: HistoryOp = {
      type: "start",
      process: "nemesis",
      nemesis: "kill",
      time: 2,
      wall: 2,
      detail: { target: "east/inventory" },
    };
    writer.append(nemesis);
    expect(writer.ops()).toHaveLength(2);
    expect(writer.clientOps()).toHaveLength(1);
    await sleep(100);
    expect((await readFile(writer.path, "utf8")).trim().split("\n")).toHaveLength(2); // the timer flushed
    for (let id = 2; id <= 5000; id++) writer.append(clientOp(id, id % 2 === 0 ? "invoke" : "ok", id));
    await writer.close();
    await writer.close(); // idempotent
    const loaded = await readHistory(writer.path);
    expect(loaded).toEqual(writer.ops());
    expect(loaded).toHaveLength(5001);
    expect(() => writer.append(clientOp(9, "invoke", 9))).toThrow(/closed/);
  });

  it("fails at once on a directory it cannot create", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    expect(() => new HistoryWriter({ dir: join(file, "run") })).toThrow(/ENOTDIR|EEXIST/);
  });

  it("appends to an existing history file", async () => {
    const first = await HistoryWriter.open(dir);
    first.append(clientOp(1, "invoke", 1));
    await first.close();
    const second = await HistoryWriter.open(dir);
    second.append(clientOp(1, "ok", 2));
    await second.close();
    expect((await readHistory(join(dir, HISTORY_FILE))).map((op) => op.type)).toEqual(["invoke", "ok"]);
  });
});

describe("readHistory", () => {
  it("names the line of a malformed entry", async () => {
    const path = join(dir, HISTORY_FILE);
    const good = JSON.stringify(clientOp(1, "invoke", 1));
    await writeFile(path, `${good}\n\n${good}\n{"type":"ok","id":1,\n`);
    await expect(readHistory(path)).rejects.toThrow(`${path}:4: malformed history line`);
  });

  it("rejects lines that are JSON but not ops, and skips blank lines", () => {
    const good = JSON.stringify(clientOp(1, "invoke", 1));
    expect(parseHistory(`\n${good}\n\n`)).toHaveLength(1);
    expect(() => parseHistory(`${good}\n[1,2]`)).toThrow(
      "history:2: malformed history line (not a JSON object)",
    );
    expect(() => parseHistory(JSON.stringify({ ...clientOp(1, "ok", 1), kind: "delete" }))).toThrow(
      "history:1: malformed history line (unknown kind delete)",
    );
    expect(() => parseHistory(JSON.stringify({ process: "other", time: 1 }))).toThrow(
      /unknown process "other"/,
    );
    expect(() => parseHistory(JSON.stringify({ ...clientOp(1, "ok", 1), time: "soon" }))).toThrow(
      /time is not a number/,
    );
  });
});
