// Two regions in one lab (issue "active-active, part 1" §1, §3): a gateway per region routing each
// user to the unit's home region over the WAN links, and a relay per direction replicating each
// region's orders to the other, also across a primary failover in the source region.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CROSS_REGION_CHECKS } from "../../../src/lab/checkers/regions.ts";
import { readRegionState } from "../../../src/lab/experiments/region-state.ts";
import { FaultController } from "../../../src/lab/nemeses/controller.ts";
import { createNemesis } from "../../../src/lab/nemeses/factory.ts";
import { pgUrl } from "../../../src/lab/topology/postgres/index.ts";
import { decode } from "../../../src/shop/domain/ids.ts";
import { SERVED_BY_HEADER } from "../../../src/shop/gateway/routes.ts";
import { SlotTable } from "../../../src/shop/gateway/routing.ts";
import { compareTable, ORDERS_DIGEST, PAYMENTS_DIGEST } from "../../../src/shop/relay/digest.ts";
import { launchTestLab, type TestLab } from "../../support/lab.ts";

const REGIONS = ["east", "west"];
const SKU = "REGIONS-1";
let lab: TestLab;
const databases = new Map<string, Sql>();
const faults = new FaultController();

beforeAll(async () => {
  lab = await launchTestLab("regions", { regions: REGIONS });
  for (const region of lab.topology.regions) {
    const seeded = await fetch(`${region.services.inventory.url}/admin/skus`, {
      method: "POST",
      headers: { authorization: `Bearer ${lab.topology.token}`, "content-type": "application/json" },
      body: JSON.stringify({ skus: [{ id: SKU, stock: 100_000, price: 700 }] }),
    });
    expect(seeded.ok).toBe(true);
    // Through the region's write link, which a failover repoints: always its current primary.
    const link = lab.topology.links.get(`${region.name}/order->primary`);
    databases.set(
      region.name,
      postgres(pgUrl(link?.port ?? 0, "chaoscart", region.cluster.password), { max: 2, onnotice: () => {} }),
    );
  }
}, 180_000);

afterAll(async () => {
  await faults.stopAll().catch(() => {});
  await Promise.allSettled([...databases.values()].map((db) => db.end({ timeout: 1 })));
  await lab?.stop();
}, 60_000);

const db = (region: string) => databases.get(region) as Sql;
const gatewayOf = (region: string) => {
  const gateway = lab.topology.regions.find((r) => r.name === region)?.gateway;
  if (!gateway) throw new Error(`no gateway in ${region}`);
  return gateway.url;
};

const routing = SlotTable.even(REGIONS);
let users = 0;
/** A fresh user whose unit is homed in `region`. */
function userHomedIn(region: string): string {
  for (;;) {
    const user = `regions-user-${++users}`;
    if (routing.regionForUser(user) === region) return user;
  }
}

let keys = 0;
async function order(gateway: string, userId: string) {
  const response = await fetch(`${gateway}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `regions-key-${++keys}` },
    body: JSON.stringify({ userId, items: [{ sku: SKU, qty: 1 }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { id?: string; state?: string };
  return { status: response.status, servedBy: response.headers.get(SERVED_BY_HEADER), id: body.id };
}

async function converged() {
  const [orders, payments] = await Promise.all([
    compareTable(db("east"), db("west"), ORDERS_DIGEST, 16),
    compareTable(db("east"), db("west"), PAYMENTS_DIGEST, 16),
  ]);
  return { orders: orders.rows, payments: payments.rows };
}
const NO_DIFFERENCE = { missingAtTarget: [], unknownAtSource: [], differing: [] };

describe("two regions", () => {
  it("any gateway routes a user to the unit's home region, across the WAN, and says which served", async () => {
    for (const gateway of REGIONS) {
      for (const home of REGIONS) {
        const placed = await order(gatewayOf(gateway), userHomedIn(home));
        expect(placed.status, `${gateway} gateway, user homed in ${home}`).toBeOneOf([201, 202]);
        expect(placed.servedBy).toBe(home);
        expect(REGIONS[decode(placed.id as string).region]).toBe(home);
      }
    }
  });

  it("replicates each region's orders and payments to the other; the regions converge", async () => {
    const placed = [];
    for (let i = 0; i < 10; i++)
      placed.push(
        await order(gatewayOf(REGIONS[i % 2] as string), userHomedIn(REGIONS[(i >> 1) % 2] as string)),
      );
    const ids = placed.map((p) => p.id as string);
    await expect
      .poll(
        async () => (await db("west")`SELECT count(*)::int AS n FROM orders WHERE id = ANY(${ids})`)[0]?.n,
        { timeout: 15_000 },
      )
      .toBe(ids.length);
    await expect
      .poll(converged, { timeout: 15_000, interval: 250 })
      .toEqual({ orders: NO_DIFFERENCE, payments: NO_DIFFERENCE });
    const metrics = await (
      await fetch(`${lab.topology.services().get("east/relay-west")?.url}/metrics`)
    ).text();
    expect(metrics).toMatch(/chaoscart_relay_lag_seconds_count\{[^}]*source="east"[^}]*\} [1-9]/);
  });

  it("a primary failover in the source region mid-replication neither loses nor repeats an order (last: not reversible)", async () => {
    const acknowledged: string[] = [];
    let placing = true;
    const east = gatewayOf("east");
    const stream = (async () => {
      while (placing) {
        const placed = await order(east, userHomedIn("east")).catch(() => undefined);
        if (placed && (placed.status === 201 || placed.status === 202) && placed.id)
          acknowledged.push(placed.id);
      }
    })();
    await new Promise((r) => setTimeout(r, 1_500));
    const failover = faults.add(createNemesis(lab.topology, { action: "primary-failover", target: "east" }));
    const event = await failover.start();
    expect(event.detail.links).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ link: "east/relay->primary" }),
        expect.objectContaining({ link: "west/relay->east-primary" }),
      ]),
    );
    await new Promise((r) => setTimeout(r, 3_000));
    placing = false;
    await stream;
    expect(acknowledged.length).toBeGreaterThan(5);
    await expect
      .poll(
        async () =>
          (await db("west")`SELECT count(*)::int AS n FROM orders WHERE id = ANY(${acknowledged})`)[0]?.n,
        { timeout: 30_000 },
      )
      .toBe(acknowledged.length);
    await expect
      .poll(converged, { timeout: 30_000, interval: 500 })
      .toEqual({ orders: NO_DIFFERENCE, payments: NO_DIFFERENCE });
    for (const region of REGIONS) {
      const [logged] = await db(region)`SELECT count(*)::int AS n FROM conflict_log`;
      expect(logged?.n, `conflicts logged in ${region}`).toBe(0);
    }
  });

  it("passes every cross-region check once the regions settled", async () => {
    // Every saga ends (terminal), then both regions hold the same final versions.
    await expect
      .poll(
        async () =>
          (
            await db(
              "east",
            )`SELECT count(*)::int AS n FROM orders WHERE state NOT IN ('CONFIRMED', 'CANCELLED')`
          )[0]?.n,
        { timeout: 30_000 },
      )
      .toBe(0);
    await expect
      .poll(converged, { timeout: 30_000, interval: 500 })
      .toEqual({ orders: NO_DIFFERENCE, payments: NO_DIFFERENCE });
    const states = await Promise.all(
      lab.topology.regions.map((r) =>
        readRegionState(r.name, db(r.name), {
          url: r.services["payment-sim"].url,
          token: lab.topology.token,
        }),
      ),
    );
    for (const [name, check] of Object.entries(CROSS_REGION_CHECKS)) {
      expect(check(states), name).toEqual({ valid: true, problems: [] });
    }
  });
});
