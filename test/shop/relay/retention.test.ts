import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareTable, ORDERS_DIGEST } from "../../../src/shop/relay/digest.ts";
import { appliedPosition } from "../../../src/shop/relay/order-copies.ts";
import { OutboxLog } from "../../../src/shop/relay/outbox-log.ts";
import { Relay } from "../../../src/shop/relay/relay.ts";
import { startTwoRegionDatabases, type TwoRegionDatabases } from "../../support/postgres.ts";

/**
 * Bounded outbox retention (issue "active-active, part 1" §3: a peer down for minutes, with the
 * retained change stream bounded): the source prunes what every peer confirmed, and past the bound
 * also what a peer did not; that peer learns of the gap and catches up by reconciliation.
 */

let regions: TwoRegionDatabases;
let east: Sql;
let west: Sql;
let caughtUp = 0;

beforeAll(async () => {
  regions = await startTwoRegionDatabases();
  ({ east, west } = regions);
});

afterAll(() => regions?.stop());

const relay = () =>
  new Relay({
    source: { region: "east", db: east },
    peer: { region: "west", db: west },
    batchSize: 100,
    pollMs: 2,
    maxBackoffMs: 100,
    telemetry: { shipped: () => {}, failed: () => {}, caughtUp: () => void caughtUp++ },
  });

let sequence = 0;

/** Orders placed in east, each with its outbox row (what the order service writes). */
async function placeInEast(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `retention-${++sequence}`;
    await east.begin(async (tx) => {
      await tx`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
               VALUES (${id}, ${`user-${id}`}, ${`user-${id}:key`}, 'f', 'east', 'PENDING', '[]', 0,
                       ${`${String(sequence).padStart(15, "0")}.000000`})`;
      await tx`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
               VALUES ('order', ${id}, 'OrderPlaced', '{}', '000000000000001.000000')`;
    });
    ids.push(id);
  }
  return ids;
}

async function drain(r: Relay) {
  for (;;) if ((await r.shipOnce()).entries === 0) return;
}

const outboxRows = async () => Number((await east`SELECT count(*)::int AS n FROM outbox`)[0]?.n);
const HOUR = 3_600_000;

describe("outbox retention", () => {
  it("prunes only rows every consumer confirmed, once older than the keep time", async () => {
    await placeInEast(5);
    await drain(relay());
    const unshipped = await placeInEast(3);
    const log = new OutboxLog(east);
    expect(await log.prune({ keepMs: HOUR, maxRetentionMs: 2 * HOUR, limit: 1000 })).toMatchObject({
      pruned: 0,
    });
    const result = await log.prune({ keepMs: 0, maxRetentionMs: HOUR, limit: 1000 });
    expect(result).toMatchObject({ pruned: 5, unconfirmed: 0 });
    expect(await outboxRows()).toBe(unshipped.length);
    // Nothing the peer needs was pruned: it carries on from the log, no catch-up.
    await drain(relay());
    expect(caughtUp).toBe(0);
    expect((await compareTable(east, west, ORDERS_DIGEST, 16)).bucketsDiffering).toEqual([]);
  });

  it("prunes past the bound what a peer did not confirm; that peer catches up by reconciliation", async () => {
    await drain(relay());
    const missed = await placeInEast(4); // west's relay is "down": nobody ships these
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const pruned = await new OutboxLog(east).prune({ keepMs: 0, maxRetentionMs: 1_000, limit: 1000 });
    // Everything went: the first test's rows west had confirmed, and the four it had not.
    expect(pruned).toMatchObject({ pruned: 7, unconfirmed: 4 });
    expect(await west`SELECT id FROM orders WHERE id = ANY(${missed})`).toEqual([]);

    const back = relay(); // west's relay is back
    await drain(back);
    expect(caughtUp).toBe(1);
    expect(
      (await west`SELECT id FROM orders WHERE id = ANY(${missed}) ORDER BY id`).map((r) => r.id),
    ).toEqual([...missed].sort());
    expect(await appliedPosition(west, "east")).toEqual(pruned.prunedTo);
    // And the log carries on from there.
    const after = await placeInEast(2);
    await drain(back);
    expect(caughtUp).toBe(1);
    expect((await west`SELECT count(*)::int AS n FROM orders WHERE id = ANY(${after})`)[0]?.n).toBe(2);
    expect((await compareTable(east, west, ORDERS_DIGEST, 16)).bucketsDiffering).toEqual([]);
  });
});
