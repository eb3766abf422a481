import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { Pool } from "undici";
import { checkInventoryLedger } from "../checkers/inventory-ledger.ts";
import { readInventoryState } from "../experiments/final-state.ts";
import { startTopology } from "../topology/launcher.ts";
import type { ReplicationMode } from "../topology/postgres/index.ts";

/**
 * The short demo of the inventory path: the lab's topology (PostgreSQL primary + streaming replica and
 * the shop's services, launched as `verify` launches them), a hot-SKU flash sale against the inventory
 * service alone, then the invariants.
 */

export interface FlashSaleOptions {
  replication: ReplicationMode;
  skus: number;
  stockPerSku: number;
  buyers: number;
  concurrency: number;
  keep: boolean;
  log: (line: string) => void;
}

export interface InvariantResult {
  name: string;
  /** "not checked" when the run cannot see the property (e.g. outcomes unknown): never counted as held. */
  status: "held" | "broken" | "not checked";
  detail: string;
}

const verdict = (held: boolean): InvariantResult["status"] => (held ? "held" : "broken");

export interface FlashSaleResult {
  granted: number;
  rejected: number;
  unknown: number;
  sold: number;
  elapsedMs: number;
  invariants: InvariantResult[];
  workDir: string;
}

const REGION = "east";

export async function runFlashSale(options: FlashSaleOptions): Promise<FlashSaleResult> {
  const { log } = options;
  const workDir = mkdtempSync(path.join(tmpdir(), "chaoscart-sale-"));
  chmodSync(workDir, 0o755); // PostgreSQL runs as an unprivileged user and must reach its data dir inside
  log(`starting PostgreSQL primary + streaming replica (${options.replication} replication) in ${workDir}`);
  // The lab's launcher, without fault links (the demo injects nothing). The demo then plays the order
  // service: it calls the inventory's internal routes with the services' token.
  const topology = await startTopology({
    regions: [REGION],
    replication: options.replication,
    links: false,
    workDir,
    keep: options.keep,
    serviceEnv: { CHAOSCART_LOG_LEVEL: "warn" },
    log: (line) => log(`  ${line}`),
  });
  try {
    const region = topology.regions[0];
    if (!region) throw new Error("the topology has no region");
    const { cluster } = region;
    const service = region.services.inventory;
    const token = topology.token;
    const internal = { authorization: `Bearer ${topology.serviceToken}` };
    log(
      `PostgreSQL ${cluster.version} from ${cluster.binDir}: primary :${cluster.primary.port}, replica :${cluster.replica?.port}`,
    );
    log(`inventory service ready at ${service.url} (pid ${service.pid})`);

    const skus = Array.from({ length: options.skus }, (_, i) => `FLASH-SALE-${i + 1}`);
    const seed = await fetch(`${service.url}/admin/skus`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ skus: skus.map((id) => ({ id, stock: options.stockPerSku })) }),
    });
    if (!seed.ok) throw new Error(`seeding failed: ${seed.status} ${await seed.text()}`);
    log(
      `seeded ${skus.length} SKU(s) with ${options.stockPerSku} units each; ${options.buyers} buyers arrive`,
    );

    const outcomes = await buy(service.url, internal, skus, options);
    const granted = [...outcomes].filter(([, o]) => o === "granted").map(([id]) => id);
    log(
      `sale over in ${outcomes.elapsedMs.toFixed(0)} ms; committing ${granted.length} granted reservations`,
    );
    const pool = new Pool(service.url, { connections: 16 });
    await Promise.all(
      granted.map(async (orderId) => {
        const response = await pool.request({
          method: "POST",
          path: `/reservations/${orderId}/commit`,
          headers: internal,
        });
        await response.body.dump();
        if (response.statusCode !== 200)
          throw new Error(`commit of ${orderId} failed: ${response.statusCode}`);
      }),
    );
    await pool.close();

    await cluster.waitForReplicaCatchUp(10_000);
    const invariants = await checkInvariants(cluster.primary.url, cluster.replica?.url, outcomes, options);
    const count = (kind: Outcome) => [...outcomes.values()].filter((o) => o === kind).length;
    return {
      granted: granted.length,
      rejected: count("rejected"),
      unknown: count("unknown"),
      sold: granted.length,
      elapsedMs: outcomes.elapsedMs,
      invariants,
      workDir,
    };
  } finally {
    await topology.stop();
  }
}

type Outcome = "granted" | "rejected" | "unknown";
type Outcomes = Map<string, Outcome> & { elapsedMs: number };

async function buy(
  url: string,
  internal: Record<string, string>,
  skus: string[],
  options: FlashSaleOptions,
): Promise<Outcomes> {
  const outcomes = Object.assign(new Map<string, Outcome>(), { elapsedMs: 0 });
  const pool = new Pool(url, { connections: options.concurrency });
  const started = performance.now();
  let next = 0;
  let reported = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.buyers) {
        const n = next++;
        const orderId = `sale-${n}`;
        const sku = skus[n % skus.length];
        try {
          const response = await pool.request({
            method: "POST",
            path: "/reservations",
            headers: { ...internal, "content-type": "application/json" },
            body: JSON.stringify({ orderId, sku, qty: 1 }),
            headersTimeout: 10_000,
          });
          await response.body.dump();
          const status = response.statusCode;
          outcomes.set(
            orderId,
            status === 201 || status === 200 ? "granted" : status === 409 ? "rejected" : "unknown",
          );
        } catch {
          outcomes.set(orderId, "unknown");
        }
        if (outcomes.size - reported >= Math.max(1, Math.floor(options.buyers / 4))) {
          reported = outcomes.size;
          options.log(`  ${outcomes.size}/${options.buyers} buyers answered`);
        }
      }
    }),
  );
  outcomes.elapsedMs = performance.now() - started;
  await pool.close();
  return outcomes;
}

async function checkInvariants(
  primaryUrl: string,
  replicaUrl: string | undefined,
  outcomes: Outcomes,
  options: FlashSaleOptions,
): Promise<InvariantResult[]> {
  const primary = postgres(primaryUrl, { max: 2, onnotice: () => {} });
  const replica = replicaUrl ? postgres(replicaUrl, { max: 1, onnotice: () => {} }) : undefined;
  try {
    const state = await readInventoryState(primary, REGION);
    const results: InvariantResult[] = [];
    const totalStock = options.skus * options.stockPerSku;
    const sold = state.stock.reduce((sum, s) => sum + s.sold, 0);
    const seenGranted = [...outcomes].filter(([, o]) => o === "granted").map(([id]) => id);
    const stored = new Set(state.reservations.map((r) => r.orderId));

    results.push({
      name: "no oversell",
      status: verdict(sold <= totalStock && state.stock.every((s) => s.sold <= s.quota)),
      detail: `sold ${sold} of ${totalStock}`,
    });
    const ledger = checkInventoryLedger(state);
    results.push({
      name: "conservation (stock counters and ledger agree)",
      status: verdict(ledger.valid),
      detail: ledger.valid ? "available + reserved + sold = quota for every SKU" : ledger.problems.join("; "),
    });
    const lost = seenGranted.filter((id) => !stored.has(id));
    results.push({
      name: "no lost acknowledged reservation",
      status: verdict(lost.length === 0),
      detail:
        lost.length === 0
          ? `${seenGranted.length} acknowledged, all stored`
          : `missing: ${lost.slice(0, 5).join(", ")}`,
    });
    const phantom = [...stored].filter(
      (id) => outcomes.get(id) !== "granted" && outcomes.get(id) !== "unknown",
    );
    results.push({
      name: "no phantom reservation",
      status: verdict(phantom.length === 0),
      detail:
        phantom.length === 0
          ? "every stored reservation was granted to a client"
          : phantom.slice(0, 5).join(", "),
    });
    const expectedSold = Math.min(totalStock, options.buyers);
    const unknown = [...outcomes.values()].filter((o) => o === "unknown").length;
    results.push({
      name: "sold out exactly (no undersell without faults)",
      status: unknown > 0 ? "not checked" : verdict(sold === expectedSold),
      detail:
        unknown > 0 ? `not checked: ${unknown} outcomes unknown` : `sold ${sold}, expected ${expectedSold}`,
    });
    if (replica) {
      const [row] = await replica<{ sold: number }[]>`SELECT coalesce(sum(sold), 0)::int AS sold FROM stock`;
      results.push({
        name: "replica converged",
        status: verdict(row?.sold === sold),
        detail: `replica reports sold ${row?.sold}, primary ${sold}`,
      });
    }
    return results;
  } finally {
    await primary.end({ timeout: 2 });
    await replica?.end({ timeout: 2 });
  }
}
