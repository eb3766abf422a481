import type { Sql } from "postgres";
import { decode } from "../../shop/domain/ids.ts";
import type { RegionOrder, RegionState } from "../checkers/regions.ts";

/**
 * What one region holds once a multi-region run settled, for the cross-region checks
 * (checkers/regions.ts): its orders (its own and its copies of the peers'), its conflict log, and
 * what its payment provider holds.
 */
export async function readRegionState(
  name: string,
  sql: Sql,
  provider: { url: string; token: string },
): Promise<RegionState> {
  const [orders, conflicts, response] = await Promise.all([
    sql<RegionOrder[]>`
      SELECT o.id, o.user_id AS "userId", o.idem_key AS "idemKey", o.home_region AS "homeRegion", o.state,
             o.cancel_reason AS "cancelReason", o.total::int AS total, p.state AS payment,
             coalesce(o.version_hlc, o.hlc) AS "versionHlc", coalesce(o.version_region, o.home_region) AS "versionRegion"
      FROM orders o LEFT JOIN payment p ON p.order_id = o.id ORDER BY o.id`,
    sql<
      { kind: string; orderId: string }[]
    >`SELECT kind, order_id AS "orderId" FROM conflict_log ORDER BY id`,
    fetch(`${provider.url}/admin/payments`, {
      headers: { authorization: `Bearer ${provider.token}` },
      signal: AbortSignal.timeout(15_000),
    }),
  ]);
  if (!response.ok) throw new Error(`${name}: GET /admin/payments answered ${response.status}`);
  const body = (await response.json()) as { payments?: { orderId: string; state: string; amount: number }[] };
  if (!Array.isArray(body.payments))
    throw new Error(`${name}: GET /admin/payments: no payments list in the answer`);
  const payments = body.payments.map(({ orderId, state, amount }) => ({ orderId, state, amount }));
  return { name, orders: [...orders], conflicts: [...conflicts], provider: payments };
}

/**
 * A region's state limited to one run, as the single-region final state is (final-state.ts): orders
 * minted since it started (ids carry their time) or named by its history or keys, their conflicts,
 * and the provider's records of such orders. On a lab shared by several runs (and the capacity
 * ramp), each run is judged on its own orders.
 */
export function scopeToRun(
  state: RegionState,
  run: { since: Date; keys: readonly string[]; orderIds: readonly string[] },
): RegionState {
  const since = run.since.getTime();
  const keys = new Set(run.keys);
  const named = new Set(run.orderIds);
  const ofRun = (id: string) => named.has(id) || mintedSince(id, since);
  const orders = state.orders.filter((o) => ofRun(o.id) || keys.has(o.idemKey));
  const ids = new Set(orders.map((o) => o.id));
  return {
    name: state.name,
    orders,
    conflicts: state.conflicts.filter((c) => ids.has(c.orderId)),
    provider: state.provider.filter((p) => ids.has(p.orderId) || ofRun(p.orderId)),
  };
}

/** An id that is not the shop's kind is kept (never hidden). */
function mintedSince(orderId: string, since: number): boolean {
  try {
    return decode(orderId).timestampMs >= since;
  } catch {
    return true;
  }
}
