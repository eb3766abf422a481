import { type Command, InvalidArgumentError, Option } from "commander";
import { runFlashSale } from "../lab/demo/flash-sale.ts";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function registerFlashSale(program: Command) {
  program
    .command("flash-sale")
    .description(
      "launch PostgreSQL (primary + replica) and the inventory service, run a hot-SKU flash sale, check invariants",
    )
    .addOption(
      new Option("--replication <mode>", "replica confirms commits (sync) or not (async)")
        .choices(["sync", "async"])
        .default("sync"),
    )
    .option("--skus <n>", "hot SKUs on sale", positiveInt, 1)
    .option("--stock <n>", "units per SKU", positiveInt, 500)
    .option("--buyers <n>", "buyers, one reserve each", positiveInt, 5000)
    .option("--concurrency <n>", "concurrent clients", positiveInt, 64)
    .option("--keep", "keep the work directory (PostgreSQL data, logs)", false)
    .action(async (opts) => {
      const started = Date.now();
      const result = await runFlashSale({
        replication: opts.replication,
        skus: opts.skus,
        stockPerSku: opts.stock,
        buyers: opts.buyers,
        concurrency: opts.concurrency,
        keep: opts.keep,
        log: (line) => console.log(line),
      });
      const rate = ((result.granted + result.rejected) / (result.elapsedMs / 1000)).toFixed(0);
      console.log("");
      console.log(`granted   ${result.granted}`);
      console.log(`rejected  ${result.rejected}   (sold out)`);
      console.log(`unknown   ${result.unknown}`);
      console.log(`answered  ${rate} reserves/s over ${(result.elapsedMs / 1000).toFixed(2)} s`);
      console.log("");
      for (const inv of result.invariants)
        console.log(`${inv.status.toUpperCase().padEnd(11)}  ${inv.name}: ${inv.detail}`);
      const ok = result.invariants.every((i) => i.status !== "broken");
      console.log("");
      console.log(
        `${ok ? "no invariant broken" : "INVARIANTS BROKEN"} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      if (opts.keep) console.log(`work directory kept: ${result.workDir}`);
      process.exitCode = ok ? 0 : 1;
    });
}
