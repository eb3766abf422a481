import path from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import postgres from "postgres";
import { DEFAULT_LAB_DIR } from "../lab/control/state-file.ts";
import { loadTopologyFile } from "../lab/deployment/topology-file.ts";
import { type ReconcileReport, reconcile } from "../shop/relay/reconcile.ts";
import { formatTable } from "./table.ts";

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got ${value}`);
  return n;
};

/**
 * `chaoscart reconcile`: compares the replicated tables of every pair of regions of a deployment
 * (a `lab up` directory or a topology file) by digests, lists the rows that stay different, and with
 * `--repair` repairs each from its home region. Exit code 1 while any divergent row is left.
 */
export function registerReconcile(program: Command) {
  program
    .command("reconcile")
    .description(
      "compare the regions' replicated orders and payments by digests; --repair fixes divergent rows from their home region",
    )
    .option("--repair", "repair divergent rows from the order's home region", false)
    .addOption(new Option("--buckets <n>", "digest buckets per table").default(256).argParser(positiveInt))
    .addOption(
      new Option("--grace <ms>", "how long a difference must last to count (longer than replication lag)")
        .default(2_000)
        .argParser(positiveInt),
    )
    .addOption(
      new Option("--target <dir-or-file>", "a lab directory or a topology file").default(DEFAULT_LAB_DIR),
    )
    .action(async (opts: { repair: boolean; buckets: number; grace: number; target: string }) => {
      const { file, topology } = loadTopologyFile(path.resolve(opts.target));
      if (topology.regions.length < 2)
        throw new Error(`${file}: reconcile needs at least two regions (found ${topology.regions.length})`);
      const regions = topology.regions.map((r) => ({
        name: r.name,
        db: postgres(r.database, { max: 2, onnotice: () => {}, connect_timeout: 5 }),
      }));
      const reports: ReconcileReport[] = [];
      try {
        for (const [i, a] of regions.entries()) {
          for (const b of regions.slice(i + 1)) {
            console.log(`comparing ${a.name} and ${b.name} (${opts.buckets} buckets per table)…`);
            reports.push(
              await reconcile(a, b, { buckets: opts.buckets, graceMs: opts.grace, repair: opts.repair }),
            );
          }
        }
      } finally {
        await Promise.allSettled(regions.map((r) => r.db.end({ timeout: 2 })));
      }
      console.log(
        formatTable(
          ["regions", "buckets compared", "buckets differing", "rows differing", "rows repaired", "took"],
          reports.map((r) => [
            r.regions.join(" ↔ "),
            r.bucketsCompared,
            r.bucketsDiffering,
            r.rowsDiffering,
            r.rowsRepaired,
            `${r.tookMs} ms`,
          ]),
        ),
      );
      const divergent = reports.flatMap((r) => r.divergent);
      if (divergent.length > 0) {
        console.log("");
        console.log(
          formatTable(
            ["table", "key", "missing in", "home region"],
            divergent.slice(0, 50).map((d) => [d.table, d.key, d.missingIn, d.homeRegion ?? "?"]),
          ),
        );
        if (divergent.length > 50) console.log(`… and ${divergent.length - 50} more`);
      }
      for (const report of reports)
        for (const u of report.unrepaired) console.log(`not repaired: ${u.key}: ${u.reason}`);
      const left = reports.reduce((sum, r) => sum + (opts.repair ? r.unrepaired.length : r.rowsDiffering), 0);
      if (left > 0) process.exitCode = 1;
    });
}
