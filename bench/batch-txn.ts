/**
 * Diagnostic for the coalescing engine's serial step: the cost of one `reserveBatch` transaction by batch
 * size, called directly on the store (no HTTP, no engine), next to an empty durable commit, then the plans
 * of a 256-request batch's statements. Not part of `npm run bench`. Run with
 *   node --import tsx bench/batch-txn.ts [--replication sync|async|none] [--sizes 1,8,32,128,256]
 */
import { Command, Option } from "commander";
import { startPgCluster } from "../src/lab/topology/postgres/index.ts";
import { migrate } from "../src/shop/db/migrate.ts";
import { createPool } from "../src/shop/db/pool.ts";
import { InventoryStore } from "../src/shop/inventory/store.ts";

class Rollback extends Error {}

const program = new Command("batch-txn")
  .addOption(new Option("--replication <mode>").choices(["sync", "async", "none"]).default("sync"))
  .option("--sizes <list>", "batch sizes", "1,8,32,128,256")
  .option("--rounds <n>", "batches per size", "40")
  .parse(process.argv);
const opts = program.opts<{ replication: "sync" | "async" | "none"; sizes: string; rounds: string }>();
const sizes = opts.sizes.split(",").map(Number);
const rounds = Number(opts.rounds);

const cluster = await startPgCluster({
  replica: opts.replication !== "none",
  replication: opts.replication === "sync" ? "sync" : "async",
});
process.once("SIGINT", () => void cluster.stop().finally(() => process.exit(130)));
const db = createPool(cluster.primary.url, { max: 4 });
try {
  await migrate(db);
  const store = new InventoryStore(db, "east");
  await store.seed([{ id: "DIAG-1", stock: 100_000_000 }]);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

  const empty: number[] = [];
  const oneRow: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await db.begin(async (tx) => {
      await tx`SELECT txid_current()`; // forces an xid, so the commit is a real durable one
    });
    empty.push(performance.now() - t);
    t = performance.now();
    await db`UPDATE stock SET version = version + 1 WHERE sku_id = 'DIAG-1'`;
    oneRow.push(performance.now() - t);
  }
  console.log(`replication ${opts.replication}, PostgreSQL ${cluster.version}`);
  console.log(`durable commit, empty txn (BEGIN; txid; COMMIT): median ${median(empty).toFixed(2)} ms`);
  console.log(`durable commit, one-statement UPDATE:             median ${median(oneRow).toFixed(2)} ms`);
  console.log("batch size  median ms  per request µs  requests/s if serial");
  let order = 0;
  for (const size of sizes) {
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const batch = Array.from({ length: size }, () => ({ orderId: `diag-${order++}`, qty: 1 }));
      const t = performance.now();
      await store.reserveBatch("DIAG-1", 0, batch, 86_400_000);
      times.push(performance.now() - t);
    }
    const m = median(times);
    console.log(
      `${String(size).padStart(10)}  ${m.toFixed(2).padStart(9)}  ${((m * 1000) / size).toFixed(0).padStart(14)}` +
        `  ${((size * 1000) / m).toFixed(0).padStart(20)}`,
    );
  }
  // What grows with batch size and with the SKU's reservation count. The prior-reservation lookup timed as the
  // driver runs it: a named prepared statement, so PostgreSQL switches to a generic plan after five executions
  // (the id array is then a parameter, not a constant it can hash), next to a per-id primary-key probe.
  const [{ rows } = { rows: 0 }] = await db<{ rows: number }[]>`
    SELECT count(*)::int AS rows FROM reservation WHERE sku_id = 'DIAG-1'`;
  console.log(
    `\nprior-reservation lookup for 256 order ids, SKU holding ${rows} reservations (median of 12 runs after 8 small ones):`,
  );
  const lookups: [string, (ids: string[]) => Promise<unknown>][] = [
    [
      "as the store does it: sku_id = $1 AND order_id = ANY($2)",
      (ids) => db`SELECT order_id, qty, state FROM reservation
                  WHERE sku_id = ${"DIAG-1"} AND order_id = ANY(${ids}::text[])`,
    ],
    [
      "primary-key probe per id: unnest($2) CROSS JOIN LATERAL (… LIMIT 1)",
      (ids) => db`SELECT r.order_id, r.qty, r.state FROM unnest(${ids}::text[]) AS o(id)
                  CROSS JOIN LATERAL (SELECT order_id, qty, state FROM reservation
                    WHERE order_id = o.id AND sku_id = ${"DIAG-1"} LIMIT 1) r`,
    ],
  ];
  for (const [title, lookup] of lookups) {
    // Small batches first, as a service sees them at low load: they set the plan cache's cost baseline.
    for (let r = 0; r < 8; r++) await lookup(Array.from({ length: 8 }, (_, i) => `diag-${i * 13 + r}`));
    const times: number[] = [];
    for (let r = 0; r < 12; r++) {
      const ids = Array.from({ length: 256 }, (_, i) => `diag-${(i * 61 + r) % Math.max(1, order)}`);
      const t = performance.now();
      await lookup(ids);
      times.push(performance.now() - t);
    }
    console.log(`  ${median(times).toFixed(2).padStart(8)} ms  ${title}`);
  }

  const fresh = Array.from({ length: 256 }, (_, i) => `diag-new-${i}`);
  const ones = fresh.map(() => 1);
  let plan: Record<string, unknown>[] = [];
  await db
    .begin(async (tx) => {
      plan =
        await tx`EXPLAIN (ANALYZE, BUFFERS) INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
                 SELECT o, ${"DIAG-1"}, 'east', q, 'HELD', now() + interval '1 day'
                 FROM unnest(${fresh}::text[], ${ones}::int[]) AS g(o, q) ON CONFLICT DO NOTHING RETURNING order_id`;
      throw new Rollback(); // nothing explained is kept
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  console.log("\n256-row reservation insert (rolled back):");
  for (const row of plan) console.log(`  ${String(Object.values(row)[0])}`);
} finally {
  await db.end({ timeout: 1 });
  await cluster.stop();
}
