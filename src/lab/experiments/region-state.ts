import type { Sql } from "postgres";
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
