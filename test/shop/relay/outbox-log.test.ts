import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Db } from "../../../src/shop/db/pool.ts";
import {
  LOG_START,
  type OutboxEntry,
  OutboxLog,
  type OutboxPosition,
} from "../../../src/shop/relay/outbox-log.ts";
import { holdTransaction, startTestDatabase, type TestDatabase, tableScans } from "../../support/postgres.ts";

/**
 * The outbox read as a log in commit-safe order (issue "active-active, part 1" §3): a transaction
 * that wrote its row first but commits last must be read, once, and not be skipped by a cursor
 * that already passed later rows.
 */

let database: TestDatabase;
let log: OutboxLog;
/** A session declared outbox-free (migration 010), as the inventory service's are. */
let inventorySession: Db;

beforeAll(async () => {
  database = await startTestDatabase();
  log = new OutboxLog(database.sql);
  inventorySession = createPool(database.url, { max: 1, applicationName: "chaoscart-inventory" });
});

afterAll(async () => {
  await inventorySession?.end();
  await database?.stop();
});

/** The relay's default checks: after 2 ms, backing off to 16 ms while nothing comes. */
const POLL = { firstMs: 2, maxMs: 16 };

let n = 0;
function insertEvent(sql: Sql, tag: string) {
  return sql`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
             VALUES ('order', ${`log-${++n}`}, 'Test', ${sql.json({ tag })}, '0')`;
}

/** Reads everything readable now, from `from`, in small pages; returns the entries and the new position. */
async function drain(from: OutboxPosition): Promise<{ entries: OutboxEntry[]; at: OutboxPosition }> {
  const entries: OutboxEntry[] = [];
  let at = from;
  for (;;) {
    const page = await log.read(at, 2);
    if (page.entries.length === 0) return { entries, at };
    entries.push(...page.entries);
    const last = page.entries.at(-1) as OutboxEntry;
    at = { txid: last.txid, id: last.id };
  }
}

const tags = (entries: OutboxEntry[]) => entries.map((e) => (e.payload as { tag: string }).tag);

describe("outbox log", () => {
  it("reads a row whose transaction commits after a later row's, exactly once", async () => {
    const start = await drain(LOG_START);
    // A writes its row first and stays open; B and C write after it and commit at once.
    const a = await holdTransaction(database.sql, (tx) => insertEvent(tx, "A"));
    await insertEvent(database.sql, "B");
    await insertEvent(database.sql, "C");

    const whileOpen = await drain(start.at);
    // Nothing at or above A's transaction is final yet: B and C wait with it.
    expect(tags(whileOpen.entries)).toEqual([]);

    await a.commit();
    const after = await drain(whileOpen.at);
    expect(tags(after.entries)).toEqual(["A", "B", "C"]);
    expect(tags((await drain(after.at)).entries)).toEqual([]);
  });

  it("is not held back by an open transaction of a session that never writes the outbox", async () => {
    const start = await drain(LOG_START);
    await database.sql`INSERT INTO sku (id, name) VALUES ('LOG-HOLD', 'held') ON CONFLICT DO NOTHING`;
    // An inventory transaction holds a stock row (and so an xid) while orders write their events.
    const holder = await holdTransaction(
      inventorySession,
      (tx) => tx`UPDATE sku SET attrs = '{"held": true}' WHERE id = 'LOG-HOLD'`,
    );
    await insertEvent(database.sql, "E");
    await insertEvent(database.sql, "F");
    try {
      expect(tags((await drain(start.at)).entries)).toEqual(["E", "F"]);
    } finally {
      await holder.commit();
    }
  });

  it("refuses an outbox write from a session declared outbox-free", async () => {
    await expect(insertEvent(inventorySession as unknown as Sql, "G")).rejects.toThrow(
      /declared outbox-free/,
    );
  });

  describe("waiting for news (what an idle relay does instead of reading)", () => {
    it("answers false when nothing follows the position, and true once a committed row does", async () => {
      const { at } = await drain(LOG_START);
      expect(await log.waitForNews(at, 50, POLL)).toBe(false);
      const waiting = log.waitForNews(at, 10_000, POLL);
      await insertEvent(database.sql, "N");
      expect(await waiting).toBe(true);
      expect(tags((await drain(at)).entries)).toEqual(["N"]);
    });

    it("does not wake for a row a read could not return yet: uncommitted, or above the horizon", async () => {
      const { at } = await drain(LOG_START);
      const older = await holdTransaction(database.sql, (tx) => insertEvent(tx, "O"));
      await insertEvent(database.sql, "P"); // committed, but behind the older writer still open
      try {
        expect(await log.waitForNews(at, 100, POLL)).toBe(false);
        expect(tags((await drain(at)).entries)).toEqual([]);
      } finally {
        await older.commit();
      }
      expect(await log.waitForNews(at, 100, POLL)).toBe(true);
      expect(tags((await drain(at)).entries)).toEqual(["O", "P"]);
    });

    it("wakes when the log was pruned past the position, so the reader finds its gap", async () => {
      const { at } = await drain(LOG_START);
      const beyond = { txid: at.txid, id: String(BigInt(at.id) + 1n) };
      await database.sql`
        INSERT INTO outbox_pruned (txid, id) VALUES (${beyond.txid}::xid8, ${beyond.id}::bigint)
        ON CONFLICT (singleton) DO UPDATE SET txid = EXCLUDED.txid, id = EXCLUDED.id`;
      try {
        expect(await log.waitForNews(at, 100, POLL)).toBe(true);
        expect(await log.waitForNews(beyond, 50, POLL)).toBe(false);
      } finally {
        await database.sql`DELETE FROM outbox_pruned`;
      }
    });

    /** Index probes of the outbox made by one wait of `ms` after `at`, run in a session of its own. */
    async function probesOfOneWait(at: OutboxPosition, ms: number, poll: typeof POLL) {
      const waiter = await database.sql.reserve();
      try {
        const before = (await tableScans(waiter, ["outbox"])).outbox;
        const news = await new OutboxLog(waiter as unknown as Db).waitForNews(at, ms, poll);
        const after = (await tableScans(waiter, ["outbox"])).outbox;
        return { news, probes: (after?.idx ?? 0) - (before?.idx ?? 0) };
      } finally {
        waiter.release();
      }
    }

    it("backs off while nothing comes: checks after 1, 2, 4, 8 ms, then every 16 ms", async () => {
      const { at } = await drain(LOG_START);
      const { news, probes } = await probesOfOneWait(at, 300, { firstMs: 1, maxMs: 16 });
      expect(news).toBe(false);
      // 1 + 4 checks in the first 15 ms, then at most 285 / 16: 23 at most (every 1 ms: about 300).
      expect(probes).toBeLessThanOrEqual(24);
    });

    it("checks at the first interval again while a committed row waits on an older writer", async () => {
      const { at } = await drain(LOG_START);
      const writer = await holdTransaction(database.sql, (tx) => insertEvent(tx, "Q"));
      await insertEvent(database.sql, "R"); // committed, above the horizon while Q's writer is open
      try {
        const { news, probes } = await probesOfOneWait(at, 300, { firstMs: 1, maxMs: 16 });
        expect(news).toBe(false);
        // Each check finds R, then finds it above the horizon: two probes, every 1 ms (and
        // pg_sleep's overshoot); backing off as if nothing were there, 48 at most.
        expect(probes).toBeGreaterThan(100);
      } finally {
        await writer.commit();
      }
      expect(tags((await drain(at)).entries)).toEqual(["Q", "R"]);
    });
  });

  it("keeps each consumer's confirmed position, and never moves it backwards", async () => {
    await insertEvent(database.sql, "D");
    const { entries, at } = await drain(LOG_START);
    expect(entries.length).toBeGreaterThan(0);
    await log.confirm("west", at);
    const first = entries[0] as OutboxEntry;
    await log.confirm("west", { txid: first.txid, id: first.id }); // a late, older confirmation
    expect(await log.position("west")).toEqual(at);
    expect(await log.position("north")).toEqual(LOG_START);
  });

  // Last: it leaves thousands of rows, which the tests above would drain two at a time.
  it("waits with index probes, never a scan of the log, however long the log is", async () => {
    await database.sql`
      INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
      SELECT 'order', 'long-' || g, 'Test', '{}', '0' FROM generate_series(1, 3000) g`;
    await database.sql`ANALYZE outbox`;
    const [last] = await database.sql<OutboxPosition[]>`
      SELECT txid::text AS txid, id::text AS id FROM outbox o ORDER BY o.txid DESC, o.id DESC LIMIT 1`;
    const waiter = await database.sql.reserve();
    try {
      const before = (await tableScans(waiter, ["outbox"])).outbox;
      expect(
        await new OutboxLog(waiter as unknown as Db).waitForNews(last as OutboxPosition, 100, {
          firstMs: 2,
          maxMs: 2,
        }),
      ).toBe(false);
      const after = (await tableScans(waiter, ["outbox"])).outbox;
      expect((after?.idx ?? 0) - (before?.idx ?? 0)).toBeGreaterThan(10); // one probe per check, every 2 ms
      expect((after?.seq ?? 0) - (before?.seq ?? 0)).toBe(0);
    } finally {
      waiter.release();
    }
  });
});
