import type { Sql } from "postgres";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SLOT_COUNT, slotOf } from "../../../src/shop/domain/slots.ts";
import { seedSlots } from "../../../src/shop/orders/slots.ts";
import { OrderStore } from "../../../src/shop/orders/store.ts";
import { compareTable, ORDERS_DIGEST, PAYMENTS_DIGEST } from "../../../src/shop/relay/digest.ts";
import {
  appliedPosition,
  applyOrderCopies,
  type OrderCopy,
  readOrderCopies,
} from "../../../src/shop/relay/order-copies.ts";
import { OutboxLog } from "../../../src/shop/relay/outbox-log.ts";
import { type LagStages, Relay, type RelayTelemetry } from "../../../src/shop/relay/relay.ts";
import {
  holdTransaction,
  lockWaiters,
  startTwoRegionDatabases,
  type TwoRegionDatabases,
} from "../../support/postgres.ts";

/**
 * Replication between two regions (issue "active-active, part 1" §3, §4): each "region" is a
 * database of one test cluster, with the shop schema; a Relay per direction ships one to the other.
 */

let regions: TwoRegionDatabases;
let east: Sql;
let west: Sql;
let eastStore: OrderStore;
let westStore: OrderStore;

beforeAll(async () => {
  regions = await startTwoRegionDatabases();
  ({ east, west } = regions);
  for (const db of [east, west]) await seedSlots(db, ["east", "west"], DEFAULT_SLOT_COUNT);
  eastStore = new OrderStore(east, { owner: "east-1", leaseMs: 60_000, region: "east" });
  westStore = new OrderStore(west, { owner: "west-1", leaseMs: 60_000, region: "west" });
});

afterAll(() => regions?.stop());

const relay = (from: "east" | "west", batchSize = 500, telemetry?: RelayTelemetry) =>
  new Relay({
    source: from === "east" ? { region: "east", db: east } : { region: "west", db: west },
    peer: from === "east" ? { region: "west", db: west } : { region: "east", db: east },
    batchSize,
    pollMs: 2,
    maxBackoffMs: 100,
    ...(telemetry ? { telemetry } : {}),
  });

/** Ships until the source's log has nothing more below its horizon; returns the batches' outcomes summed. */
async function drain(r: Relay) {
  const total = { entries: 0, inserted: 0, replaced: 0, kept: 0, conflicts: 0, keyCollisions: 0 };
  for (;;) {
    const shipped = await r.shipOnce();
    if (shipped.entries === 0) return total;
    for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += shipped[key];
  }
}

let sequence = 0;
let clock = 1_000;
const hlc = () => `${String(++clock).padStart(15, "0")}.000000`;

/** A user whose unit `region` owns (slot i → ["east", "west"][i mod 2] at the start). */
function userHomedIn(region: string): string {
  for (;;) {
    const user = `user-${++sequence}`;
    if (["east", "west"][slotOf(user) % 2] === region) return user;
  }
}

async function place(store: OrderStore, region: string) {
  const userId = userHomedIn(region);
  const id = `${region}-order-${sequence}`;
  const { order } = await store.placeOrGet(
    {
      id,
      userId,
      idemKey: `${userId}:key`,
      fingerprint: "f",
      homeRegion: region,
      slot: slotOf(userId),
      items: [{ sku: "A", qty: 1, price: 100 }],
      total: 100,
      hlc: hlc(),
    },
    { event: "OrderPlaced", payload: {}, hlc: hlc() },
  );
  return order.id;
}

async function confirm(store: OrderStore, id: string) {
  await store.advance(id, "PENDING", "RESERVED", { event: "Reserved", payload: {}, hlc: hlc() });
  await store.advance(
    id,
    "RESERVED",
    "PAID",
    { event: "Paid", payload: {}, hlc: hlc() },
    {
      state: "CAPTURED",
      amount: 100,
      providerRef: `ref-${id}`,
    },
  );
  await store.advance(id, "PAID", "CONFIRMED", { event: "Confirmed", payload: {}, hlc: hlc() });
}

async function converged() {
  const orders = await compareTable(east, west, ORDERS_DIGEST, 16);
  const payments = await compareTable(east, west, PAYMENTS_DIGEST, 16);
  return { orders: orders.rows, payments: payments.rows };
}

const NO_DIFFERENCE = { missingAtTarget: [], unknownAtSource: [], differing: [] };

describe("relay between two regions", () => {
  it("ships every order and payment of each region to the other, and the regions converge", async () => {
    const eastIds = [await place(eastStore, "east"), await place(eastStore, "east")];
    const westIds = [await place(westStore, "west")];
    await confirm(eastStore, eastIds[0] as string);
    await confirm(westStore, westIds[0] as string);
    const toWest = await drain(relay("east", 2));
    const toEast = await drain(relay("west"));
    expect(toWest.inserted).toBe(2);
    expect(toEast.inserted).toBe(1);
    expect(await converged()).toEqual({ orders: NO_DIFFERENCE, payments: NO_DIFFERENCE });
    const [copy] =
      await west`SELECT state, home_region, lease_until FROM orders WHERE id = ${eastIds[0] as string}`;
    expect(copy).toEqual({ state: "CONFIRMED", home_region: "east", lease_until: null });
  });

  it("repeats nothing when restarted, even if the source never heard that the peer applied", async () => {
    const id = await place(eastStore, "east");
    const first = relay("east");
    expect((await drain(first)).inserted).toBe(1);
    // The confirmation at the source is lost (a crash right after the peer committed).
    await east`UPDATE outbox_cursor SET txid = '0', id = 0 WHERE consumer = 'relay:west'`;
    const restarted = relay("east");
    expect(await drain(restarted)).toMatchObject({ entries: 0 });
    // And a replayed batch (the peer's position lost too) changes nothing: versions are idempotent.
    await west`DELETE FROM replication_applied WHERE source_region = 'east'`;
    const replay = await drain(relay("east"));
    expect(replay).toMatchObject({ inserted: 0, replaced: 0, conflicts: 0 });
    expect(replay.kept).toBeGreaterThan(0);
    const [row] = await west`SELECT state FROM orders WHERE id = ${id}`;
    expect(row?.state).toBe("PENDING");
  });

  it("ships a transaction that committed after later ones, once (the horizon holds the cursor back)", async () => {
    await drain(relay("east"));
    const held = await east.reserve();
    await held`BEGIN`;
    await held`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
               VALUES ('east-held', 'u-held', 'u-held:key', 'f', 'east', 'PENDING', '[]', 0, ${hlc()})`;
    await held`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
               VALUES ('order', 'east-held', 'OrderPlaced', '{}', ${hlc()})`;
    const later = await place(eastStore, "east");
    const r = relay("east");
    const before = await drain(r);
    expect(before.inserted).toBe(0);
    await held`COMMIT`;
    held.release();
    const after = await drain(r);
    expect(after.inserted).toBe(2);
    const rows = await west`SELECT id FROM orders WHERE id IN ('east-held', ${later}) ORDER BY id`;
    expect(rows.map((r) => r.id).sort()).toEqual(["east-held", later].sort());
  });

  it("measures the lag from a change's commit at the source, not from its transaction's start", async () => {
    await drain(relay("east"));
    const writer = await holdTransaction(east, async (tx) => {
      await tx`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
               VALUES ('east-slow', 'u-slow', 'u-slow:key', 'f', 'east', 'PENDING', '[]', 0, ${hlc()})`;
      await tx`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
               VALUES ('order', 'east-slow', 'OrderPlaced', '{}', ${hlc()})`;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the writer's transaction stays open
    await writer.commit();
    const shipped: { lag: readonly number[]; stages: LagStages }[] = [];
    const measured = relay("east", 500, {
      shipped: (_, __, lag, stages) => shipped.push({ lag, stages }),
      failed: () => {},
    });
    expect((await drain(measured)).inserted).toBe(1);
    const [batch] = shipped;
    expect(batch?.stages.commit).toHaveLength(1);
    expect(batch?.stages.commit[0]).toBeGreaterThanOrEqual(1);
    // Counted from the transaction's start, the lag would include the second it stayed open.
    expect(batch?.lag[0]).toBeLessThan(1);
    expect(batch?.stages.sourceWait[0]).toBeLessThan(1);
  });

  it("resolves two regions' versions of one order the same way in both, and logs the conflict in each", async () => {
    const id = await place(eastStore, "east");
    await drain(relay("east"));
    // A stale owner in the west cancels the order by timeout while the east, its home, captures and confirms it.
    await west`UPDATE orders SET state = 'CANCELLED', cancel_reason = 'timeout',
                 version_hlc = ${hlc()}, version_region = 'west' WHERE id = ${id}`;
    await west`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc) VALUES ('order', ${id}, 'Cancelled', '{}', ${hlc()})`;
    await confirm(eastStore, id);
    await drain(relay("west"));
    await drain(relay("east"));
    const states = await Promise.all(
      [east, west].map((db) => db`SELECT state, cancel_reason FROM orders WHERE id = ${id}`),
    );
    expect(states.map((rows) => rows[0])).toEqual([
      { state: "CONFIRMED", cancel_reason: null },
      { state: "CONFIRMED", cancel_reason: null },
    ]);
    for (const db of [east, west]) {
      const log =
        await db`SELECT kind, kept->>'state' AS kept, discarded->>'state' AS discarded FROM conflict_log WHERE order_id = ${id}`;
      expect(log).toEqual([{ kind: "concurrent-versions", kept: "CONFIRMED", discarded: "CANCELLED" }]);
    }
    expect(await converged()).toEqual({ orders: NO_DIFFERENCE, payments: NO_DIFFERENCE });
  });

  it("keeps the greatest version of an order whatever the order and grouping its versions arrive in", async () => {
    const versions = (id: string): OrderCopy[] => {
      const placed: OrderCopy = {
        id,
        userId: `user-${id}`,
        idemKey: `user-${id}:key`,
        homeRegion: "east",
        state: "PENDING",
        cancelReason: null,
        items: [{ sku: "A", qty: 1, price: 100 }],
        total: 100,
        hlc: "000000000000100.000000",
        versionHlc: "000000000000100.000000",
        versionRegion: "east",
        createdAt: new Date(0),
        payment: null,
      };
      return [
        placed,
        { ...placed, state: "PAID", versionHlc: "000000000000101.000000", payment: pay("AUTHORIZED") },
        // Captured, then a stale owner's cancellation by timeout with a later clock: precedence wins.
        { ...placed, state: "CONFIRMED", versionHlc: "000000000000102.000000", payment: pay("CAPTURED") },
        {
          ...placed,
          state: "CANCELLED",
          cancelReason: "reservation_expired",
          versionHlc: "000000000000103.000000",
          versionRegion: "west",
        },
      ];
    };
    const pay = (state: "AUTHORIZED" | "CAPTURED") => ({ state, amount: 100, providerRef: "ref" });
    const deliveries = [
      [[0, 1, 2, 3]],
      [[3], [2], [1], [0]],
      [
        [3, 1],
        [0, 2, 2],
      ],
      [[2, 0], [3], [1, 3]],
    ];
    let txid = 1;
    for (const [n, batches] of deliveries.entries()) {
      const id = `any-order-${n}`;
      const copies = versions(id);
      for (const batch of batches)
        await applyOrderCopies(west, {
          source: "east-any-order",
          copies: batch.map((i) => copies[i] as OrderCopy),
          position: { txid: String(txid++), id: "1" },
          sourceAt: new Date(),
          resolvedBy: "test",
        });
      const [row] = await west`
        SELECT o.state, o.cancel_reason, p.state AS payment FROM orders o
        LEFT JOIN payment p ON p.order_id = o.id WHERE o.id = ${id}`;
      expect(row, `delivery ${JSON.stringify(batches)}`).toEqual({
        state: "CONFIRMED",
        cancel_reason: null,
        payment: "CAPTURED",
      });
    }
  });

  it("logs a cross-region idempotency-key collision instead of applying it", async () => {
    const key = "user-collide:key";
    for (const [db, region] of [
      [east, "east"],
      [west, "west"],
    ] as const) {
      await db`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
               VALUES (${`${region}-collide`}, 'user-collide', ${key}, 'f', ${region}, 'PENDING', '[]', 0, ${hlc()})`;
      await db`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
               VALUES ('order', ${`${region}-collide`}, 'OrderPlaced', '{}', ${hlc()})`;
    }
    expect((await drain(relay("east"))).keyCollisions).toBe(1);
    const [logged] =
      await west`SELECT kind, kept->>'id' AS kept, discarded->>'id' AS discarded FROM conflict_log WHERE order_id = 'east-collide'`;
    expect(logged).toEqual({ kind: "key-collision", kept: "west-collide", discarded: "east-collide" });
  });

  it("never lets a region's recovery loop drive a copy of a peer's in-flight order", async () => {
    const id = await place(eastStore, "east");
    await east`UPDATE orders SET lease_until = now() - interval '1 hour' WHERE id = ${id}`;
    await drain(relay("east"));
    expect(await westStore.claimStale(1_000)).not.toContain(id);
    expect(await eastStore.claimStale(1_000)).toContain(id);
  });

  it("applies a batch only where the batch before it left the peer (what lets batches be in flight together)", async () => {
    const [copy] = await readOrderCopies(east, [await place(eastStore, "east")]);
    const batch = (position: string, after?: string) => ({
      source: "gate-test",
      copies: copy ? [copy] : [],
      position: { txid: position, id: "1" },
      ...(after === undefined ? {} : { after: { txid: after, id: "1" } }),
      sourceAt: new Date(),
      resolvedBy: "test",
    });
    expect((await applyOrderCopies(west, batch("10", "0"))).applied).toBe(false); // the peer has applied nothing yet...
    expect((await applyOrderCopies(west, { ...batch("10"), after: { txid: "0", id: "0" } })).applied).toBe(
      true,
    );
    // ...and now stands at 10: a batch sent behind one that never landed (it expects 11) writes nothing.
    const orphan = await applyOrderCopies(west, batch("12", "11"));
    expect(orphan).toMatchObject({ applied: false, inserted: 0, replaced: 0, kept: 0 });
    expect(await appliedPosition(west, "gate-test")).toEqual({ txid: "10", id: "1" });
    expect((await applyOrderCopies(west, batch("11", "10"))).applied).toBe(true);
  });

  it("ships with batches in flight together, in order, to the source's last position", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await place(eastStore, "east"));
    for (const id of ids.slice(0, 6)) await confirm(eastStore, id);
    const background = relay("east", 3);
    background.start();
    const [last] = await east<{ txid: string; id: string }[]>`
      SELECT txid::text AS txid, id::text AS id FROM outbox ORDER BY txid DESC, id DESC LIMIT 1`;
    await expect.poll(() => appliedPosition(west, "east"), { timeout: 10_000 }).toEqual(last);
    // Confirmed at the source once the relay ran out of work (not after every batch), while it runs.
    const cursor = new OutboxLog(east);
    await expect.poll(() => cursor.position("relay:west"), { timeout: 5_000 }).toEqual(last);
    await background.stop();
    // (Earlier tests left rows of their own in each region: compare this test's orders.)
    expect(await readOrderCopies(west, ids)).toEqual(await readOrderCopies(east, ids));
  });

  it("reads and sends new changes while a batch is held up at the peer, not a round trip later", async () => {
    const background = relay("east");
    background.start();
    const first = await place(eastStore, "east");
    await expect
      .poll(async () => (await west`SELECT 1 FROM orders WHERE id = ${first}`).length, { timeout: 5_000 })
      .toBe(1);
    // The peer holds the next batch: its apply waits for the table of the relay's position. (A
    // table lock takes no transaction id: the two "regions" share one cluster here, and a row lock's
    // transaction would hold back the source's safe horizon too.)
    const holder = await west.reserve();
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE replication_applied IN EXCLUSIVE MODE`;
      const held = await place(eastStore, "east");
      await expect.poll(() => lockWaiters(west, "jsonb_to_recordset"), { timeout: 5_000 }).toBe(1);
      // A change written now is read (and sent behind the held batch) at once: the relay does not
      // wait for the held batch to come back before it reads again.
      const writtenAt = Date.now();
      const behind = await place(eastStore, "east");
      await expect.poll(() => (background.lastCaughtUpAt ?? 0) > writtenAt, { timeout: 2_000 }).toBe(true);
      expect((await west`SELECT id FROM orders WHERE id IN (${held}, ${behind})`).length).toBe(0);
      await holder`ROLLBACK`;
      await expect
        .poll(async () => (await west`SELECT 1 FROM orders WHERE id IN (${held}, ${behind})`).length, {
          timeout: 5_000,
        })
        .toBe(2);
    } finally {
      await holder`ROLLBACK`.catch(() => {});
      holder.release();
      await background.stop();
    }
  });

  it("never skips a batch that failed at the peer, even with the batch behind it already sent", async () => {
    // A version the peer refuses (its CHECK on the state, which the source lacks for this test):
    // the batch carrying it fails at the peer every time, the batches behind it are in flight.
    await east`ALTER TABLE orders DROP CONSTRAINT orders_state_check`;
    const bad = `refused-${++sequence}`;
    try {
      await east`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
                 VALUES (${bad}, ${`user-${bad}`}, ${`user-${bad}:key`}, 'f', 'east', 'REFUSED', '[]', 0, ${hlc()})`;
      await east`INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
                 VALUES ('order', ${bad}, 'OrderPlaced', '{}', ${hlc()})`;
      const behind: string[] = [];
      for (let i = 0; i < 3; i++) behind.push(await place(eastStore, "east"));
      const background = relay("east", 1);
      background.start();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await west`SELECT id FROM orders WHERE id = ANY(${behind})`).toEqual([]);
      // Repaired at the source: the refused batch lands, then everything behind it.
      await east`UPDATE orders SET state = 'CANCELLED', cancel_reason = 'sold_out' WHERE id = ${bad}`;
      await expect
        .poll(async () => (await west`SELECT id FROM orders WHERE id = ANY(${[bad, ...behind]})`).length, {
          timeout: 10_000,
        })
        .toBe(4);
      await background.stop();
    } finally {
      await east`UPDATE orders SET state = 'CANCELLED', cancel_reason = 'sold_out' WHERE id = ${bad}`;
      await east`ALTER TABLE orders ADD CONSTRAINT orders_state_check
                 CHECK (state IN ('PENDING', 'RESERVED', 'PAID', 'CONFIRMED', 'CANCELLED'))`;
    }
  });

  it("keeps shipping in the background and resumes after the peer was unreachable", async () => {
    const failing = new Relay({
      source: { region: "east", db: east },
      peer: {
        region: "west",
        db: postgres("postgres://nobody@127.0.0.1:1/none", { max: 1, connect_timeout: 1 }),
      },
      batchSize: 10,
      pollMs: 2,
      maxBackoffMs: 100,
    });
    await expect(failing.shipOnce()).rejects.toThrow();
    const background = relay("east");
    background.start();
    const id = await place(eastStore, "east");
    await expect
      .poll(async () => (await west`SELECT 1 FROM orders WHERE id = ${id}`).length, { timeout: 5_000 })
      .toBe(1);
    await background.stop();
  });
});
