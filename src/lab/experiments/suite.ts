import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type LoadedExperiment, loadExperiment } from "./loader.ts";

export const BUILT_IN_DIR = fileURLToPath(new URL("../../../experiments/", import.meta.url));

/** A representative subset that runs in about three minutes: steady state, a crash, a degraded dependency. */
export const QUICK = ["baseline", "inventory-crash", "payment-degraded"];

/** The built-in experiments in file order (irreversible ones, like a failover, come last). */
export function builtInSuite(dir = BUILT_IN_DIR): LoadedExperiment[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".yaml") || file.endsWith(".yml"))
    .sort()
    .map((file) => loadExperiment(path.join(dir, file)));
}
