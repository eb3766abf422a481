import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileJournal, JournalError } from "../../../src/shop/payments/journal.ts";
import { PaymentBook, type PaymentEvent } from "../../../src/shop/payments/provider.ts";

const AT = "2025-01-01T00:00:00.000Z";
const authorized = (orderId: string): PaymentEvent => ({
  type: "authorized",
  orderId,
  amount: 100,
  currency: "EUR",
  providerRef: `ref-${orderId}`,
  at: AT,
});
const captured = (orderId: string): PaymentEvent => ({ type: "captured", orderId, at: AT });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chaoscart-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(path: string) {
  const book = new PaymentBook();
  const warnings: string[] = [];
  const journal = await FileJournal.open(path, {
    apply: (event) => book.apply(event),
    warn: (message) => warnings.push(message),
  });
  return { book, journal, warnings };
}

describe("payment journal", () => {
  it("creates the file (and its directory) and replays what was appended", async () => {
    const path = join(dir, "nested", "payments.jsonl");
    const first = await load(path);
    await Promise.all([first.journal.append(authorized("a")), first.journal.append(authorized("b"))]);
    await first.journal.append(captured("a"));
    await first.journal.close();

    const second = await load(path);
    expect(second.book.get("a")).toMatchObject({ state: "CAPTURED", captures: 1 });
    expect(second.book.get("b")).toMatchObject({ state: "AUTHORIZED", providerRef: "ref-b" });
    expect(second.warnings).toEqual([]);
    await second.journal.close();
  });

  it("writes concurrent appends together, each line whole", async () => {
    const path = join(dir, "payments.jsonl");
    const { journal } = await load(path);
    await Promise.all(Array.from({ length: 200 }, (_, i) => journal.append(authorized(`o${i}`))));
    await journal.close();
    const lines = (await readFile(path, "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((line) => JSON.parse(line).orderId)).toEqual(
      Array.from({ length: 200 }, (_, i) => `o${i}`),
    );
  });

  it("ignores a torn last line with a warning and cuts it off, so later appends stay readable", async () => {
    const path = join(dir, "payments.jsonl");
    await writeFile(
      path,
      `${JSON.stringify(authorized("a"))}\n${JSON.stringify(captured("a")).slice(0, 20)}`,
    );
    const first = await load(path);
    expect(first.book.get("a")).toMatchObject({ state: "AUTHORIZED" });
    expect(first.warnings).toEqual([expect.stringMatching(/truncated last line 2/)]);
    await first.journal.append(captured("a"));
    await first.journal.close();

    const second = await load(path);
    expect(second.book.get("a")).toMatchObject({ state: "CAPTURED" });
    expect(second.warnings).toEqual([]);
    await second.journal.close();
  });

  it("refuses a corrupt line that is not the torn tail, naming the line", async () => {
    const path = join(dir, "payments.jsonl");
    await writeFile(path, `${JSON.stringify(authorized("a"))}\n{"type":"captured"\n`);
    await appendFile(path, `${JSON.stringify(authorized("b"))}\n`);
    await expect(load(path)).rejects.toThrow(JournalError);
    await expect(load(path)).rejects.toThrow(/line 2: unreadable/);
  });

  it("refuses a journal whose events break the state machine", async () => {
    const path = join(dir, "payments.jsonl");
    await writeFile(
      path,
      `${[authorized("a"), captured("a"), captured("a")].map((e) => JSON.stringify(e)).join("\n")}\n`,
    );
    await expect(load(path)).rejects.toThrow(/line 3: captured for order a, whose payment is CAPTURED/);
  });
});
