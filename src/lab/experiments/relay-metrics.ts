/**
 * What the relays did during a run on several regions, from their `/metrics`: order versions the
 * lab's `replication-loss` fault dropped or garbled on the way, and rows their periodic
 * reconciliation found divergent and repaired. The figures show that the fault took effect and
 * what repaired it; the cross-region checks judge the outcome.
 */

export interface RelayCounters {
  lost: number;
  divergent: number;
  repaired: number;
}

/** Sums the counters of every relay; null when one cannot be read (a relay restarted resets them). */
export async function scrapeRelays(urls: readonly string[]): Promise<RelayCounters | null> {
  try {
    const texts = await Promise.all(
      urls.map(async (url) => {
        const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
        if (!response.ok) throw new Error(`${url} answered ${response.status}`);
        return response.text();
      }),
    );
    const sum = (prefix: string, label?: string) =>
      texts
        .flatMap((text) => text.split("\n"))
        .filter((line) => line.startsWith(prefix) && (!label || line.includes(label)))
        .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
    return {
      lost: sum("chaoscart_relay_injected_faults_total{"),
      divergent: sum("chaoscart_reconcile_rows_total{", 'outcome="divergent"'),
      repaired: sum("chaoscart_reconcile_rows_total{", 'outcome="repaired"'),
    };
  } catch {
    return null;
  }
}

/** The run's share: the difference of two scrapes, or nulls when either is missing or went back. */
export function relayMeasurements(
  before: RelayCounters | null,
  after: RelayCounters | null,
): Record<string, number | null> {
  const delta = (key: keyof RelayCounters) => {
    if (!before || !after) return null;
    const value = after[key] - before[key];
    return value >= 0 ? value : null;
  };
  return {
    replication_versions_lost: delta("lost"),
    reconcile_rows_divergent: delta("divergent"),
    reconcile_rows_repaired: delta("repaired"),
  };
}
