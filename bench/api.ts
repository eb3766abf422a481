/** The few API calls the benchmarks make outside the measured load: seed, stock, metrics, provider payments. */
import { randomBytes } from "node:crypto";
import { request } from "undici";

/** CHAOSCART_SERVICE_TOKEN of the services a benchmark launches: it calls internal routes itself. */
export const SERVICE_TOKEN = randomBytes(16).toString("hex");
export const INTERNAL = { authorization: `Bearer ${SERVICE_TOKEN}` } as const;

import type { ProviderPayment } from "../src/lab/checkers/money.ts";

export interface Stock {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
  quota: number;
}

export async function seedSku(
  origin: string,
  token: string,
  sku: string,
  stock: number,
  buckets?: number,
): Promise<void> {
  const response = await request(`${origin}/admin/skus`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ skus: [{ id: sku, stock, ...(buckets ? { buckets } : {}) }] }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201) throw new Error(`seeding ${sku}: HTTP ${response.statusCode} ${text}`);
}

/** Seeds several SKUs at once, with prices (minor units) where given. */
export async function seedSkus(
  origin: string,
  token: string,
  skus: { id: string; stock: number; price?: number }[],
): Promise<void> {
  const response = await request(`${origin}/admin/skus`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ skus }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201 && response.statusCode !== 200) {
    throw new Error(`seeding ${skus.map((s) => s.id).join(", ")}: HTTP ${response.statusCode} ${text}`);
  }
}

/** The payment provider simulator's own records (GET /admin/payments), for the money invariant. */
export async function providerPayments(origin: string, token: string): Promise<ProviderPayment[]> {
  const response = await request(`${origin}/admin/payments`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await response.body.text();
  if (response.statusCode !== 200)
    throw new Error(`GET /admin/payments: HTTP ${response.statusCode} ${text}`);
  return (JSON.parse(text) as { payments: ProviderPayment[] }).payments;
}

export async function readStock(origin: string, sku: string): Promise<Stock> {
  const response = await request(`${origin}/stock/${encodeURIComponent(sku)}`, { headers: INTERNAL });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET /stock/${sku}: HTTP ${response.statusCode} ${text}`);
  return JSON.parse(text) as Stock;
}

/** Sums and counts of the engine's batch histograms (cumulative since the service started). */
export interface BatchCounters {
  batches: number;
  batchedRequests: number;
  batchSeconds: number;
}

export async function readBatchCounters(origin: string): Promise<BatchCounters> {
  return parseBatchCounters(await scrapeMetrics(origin));
}

export function parseBatchCounters(text: string): BatchCounters {
  const value = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, "m").exec(text);
    return match?.[1] ? Number(match[1]) : 0;
  };
  return {
    batches: value("chaoscart_inventory_batch_size_count"),
    batchedRequests: value("chaoscart_inventory_batch_size_sum"),
    batchSeconds: value("chaoscart_inventory_batch_seconds_sum"),
  };
}

/**
 * A service's /metrics text. One scrape per reading: collecting resets prom-client's event-loop delay
 * histogram, so two scrapes in a row would leave the second with an empty window.
 */
export async function scrapeMetrics(origin: string): Promise<string> {
  const response = await request(`${origin}/metrics`);
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${origin}/metrics: HTTP ${response.statusCode}`);
  return text;
}

/**
 * Sum and count of one Prometheus histogram (or summary) per value of one label, from a service's
 * /metrics text: e.g. the order service's saga steps by `from` state.
 */
export function parseHistogram(
  text: string,
  name: string,
  byLabel: string,
): Record<string, { sum: number; count: number }> {
  const out: Record<string, { sum: number; count: number }> = {};
  const line = new RegExp(`^${name}_(sum|count)\\{([^}]*)\\} ([0-9.eE+-]+)$`, "gm");
  for (const match of text.matchAll(line)) {
    const [, kind, labels = "", value] = match;
    const key = new RegExp(`(?:^|,)${byLabel}="([^"]*)"`).exec(labels)?.[1] ?? "";
    const entry = out[key] ?? { sum: 0, count: 0 };
    if (kind === "sum") entry.sum += Number(value);
    else entry.count += Number(value);
    out[key] = entry;
  }
  return out;
}

/** Mean per label value between two readings, in ms (for histograms in seconds), and how many observations. */
export function histogramDelta(
  before: Record<string, { sum: number; count: number }>,
  after: Record<string, { sum: number; count: number }>,
): Record<string, { meanMs: number; count: number }> {
  const out: Record<string, { meanMs: number; count: number }> = {};
  for (const [key, a] of Object.entries(after)) {
    const b = before[key] ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count > 0) out[key] = { meanMs: ((a.sum - b.sum) * 1000) / count, count };
  }
  return out;
}

/** Sum of one Prometheus counter over the series whose labels include `label="value"`. */
export function parseCounter(text: string, name: string, label: string, value: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} ([0-9.eE+-]+)$`, "gm"))) {
    if (new RegExp(`(?:^|,)${label}="${value}"`).test(match[1] ?? "")) sum += Number(match[2]);
  }
  return sum;
}

/** The first sample of a gauge (with or without labels), NaN when absent. */
export function parseGauge(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, "m").exec(text);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}
