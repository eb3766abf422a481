// Seeding waits for the catalog to know the run's fresh SKUs by asking it (GET /skus/:id through the
// gateway), not for a fixed time; a catalog that never learns them is a clear error. The catalog here
// is a plain HTTP server that learns the ids after a few reads.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { untilCatalogKnows } from "../../../src/lab/experiments/seeding.ts";

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** A catalog that answers 404 for an id until it has been asked `learnAfter` times. */
async function catalog(learnAfter: number): Promise<{ url: string; reads: Map<string, number> }> {
  const reads = new Map<string, number>();
  server = createServer((request, response) => {
    const id = decodeURIComponent((request.url ?? "").replace("/skus/", ""));
    const n = (reads.get(id) ?? 0) + 1;
    reads.set(id, n);
    response.statusCode = n > learnAfter ? 200 : 404;
    response.end(JSON.stringify({ id }));
  });
  await new Promise<void>((listening) => server?.listen(0, "127.0.0.1", listening));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reads };
}

it("returns once every seeded SKU is found, and stops asking for those found", async () => {
  const { url, reads } = await catalog(3);
  await untilCatalogKnows(url, ["A-1", "A-2"]);
  expect(Object.fromEntries(reads)).toEqual({ "A-1": 4, "A-2": 4 });
});

it("fails naming the SKUs the catalog still does not know after the limit", async () => {
  const { url } = await catalog(Number.POSITIVE_INFINITY);
  await expect(untilCatalogKnows(url, ["B-1"], 300)).rejects.toThrow(
    /did not know 1 seeded SKU\(s\) after 0.3 s \(B-1\)/,
  );
});
