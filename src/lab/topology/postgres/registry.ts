/**
 * Live clusters of this process, and the process-level handlers that make sure none outlives it:
 * on normal exit a synchronous kill; on SIGINT/SIGTERM a fast shutdown, then the signal is re-raised.
 * Handlers are installed while at least one cluster is live, once, and removed with the last one.
 */
import { constants } from "node:os";

export interface LiveCluster {
  /** Fast shutdown and cleanup; idempotent. */
  stop(): Promise<void>;
  /** Kill everything and clean up synchronously (for the 'exit' event, where nothing async runs). */
  killSync(): void;
}

type Signal = "SIGINT" | "SIGTERM";

const live = new Set<LiveCluster>();
let installed = false;
let stoppingOnSignal = false;

export function track(cluster: LiveCluster): void {
  live.add(cluster);
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
}

export function untrack(cluster: LiveCluster): void {
  live.delete(cluster);
  if (live.size > 0 || !installed) return;
  installed = false;
  process.off("exit", onExit);
  process.off("SIGINT", onSigint);
  process.off("SIGTERM", onSigterm);
}

export function liveClusterCount(): number {
  return live.size;
}

function onExit(): void {
  for (const cluster of [...live]) {
    try {
      cluster.killSync();
    } catch {
      // keep going: the other clusters still need killing
    }
  }
}

function onSigint(): void {
  void onSignal("SIGINT");
}

function onSigterm(): void {
  void onSignal("SIGTERM");
}

async function onSignal(sig: Signal): Promise<void> {
  if (stoppingOnSignal) {
    // A second signal while shutting down: stop waiting.
    onExit();
    process.exit(128 + constants.signals[sig]);
  }
  stoppingOnSignal = true;
  await Promise.allSettled([...live].map((cluster) => cluster.stop()));
  stoppingOnSignal = false;
  // With the last cluster gone our listeners are removed. If nobody else listens for this signal, die of it
  // as we would have without our handler; otherwise the other listener owns the decision to exit.
  if (process.listenerCount(sig) > 0) return;
  process.kill(process.pid, sig);
  setTimeout(() => process.exit(128 + constants.signals[sig]), 1_000);
}
