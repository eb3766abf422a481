/** The few inventory API calls the benchmark makes outside the measured load: seed, stock, metrics. */
import { request } from "undici";

export interface Stock {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
  quota: number;
}

export async function seedSku(origin: string, token: string, sku: string, stock: number): Promise<void> {
  const response = await request(`${origin}/admin/skus`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ skus: [{ id: sku, stock }] }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201) throw new Error(`seeding ${sku}: HTTP ${response.statusCode} ${text}`);
}

export async function readStock(origin: string, sku: string): Promise<Stock> {
  const response = await request(`${origin}/stock/${encodeURIComponent(sku)}`);
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
  const response = await request(`${origin}/metrics`);
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${response.statusCode}`);
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
