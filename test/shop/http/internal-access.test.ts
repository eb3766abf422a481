import { createServer } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allEnv, startAllServices } from "../../../src/shop/all.ts";
import { orderEnv, readEnv } from "../../../src/shop/config.ts";
import { gatewayEnv } from "../../../src/shop/gateway/config.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { ADMIN_TOKEN, INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

let database: TestDatabase;
let shop: TestShop;

beforeAll(async () => {
  database = await startTestDatabase();
  shop = await startTestShop(database.url);
  await shop.seed([{ id: "ACCESS-1", stock: 5, price: 100 }]);
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

const order = { userId: "u-access", items: [{ sku: "ACCESS-1", qty: 1 }] };

describe("the order service behind the gateway", () => {
  it("answers its routes only to a caller with the service token", async () => {
    const calls: [string, string, unknown?][] = [
      ["POST", "/orders", order],
      ["GET", "/orders/123"],
      ["GET", "/skus/ACCESS-1"],
    ];
    for (const [method, path, body] of calls) {
      const wrong: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${ADMIN_TOKEN}` },
        { authorization: "Bearer wrong" },
      ];
      for (const headers of wrong) {
        const response = await fetch(`${shop.order.url}${path}`, {
          method,
          headers: {
            ...headers,
            "x-user-id": "u-access",
            "idempotency-key": "access-key-1",
            ...(body ? { "content-type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 401 });
      }
    }
    const [row] = await database.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders`;
    expect(row?.n).toBe(0); // nothing was placed
    for (const path of ["/healthz", "/readyz", "/metrics"])
      expect((await fetch(`${shop.order.url}${path}`)).status).toBe(200);
  });

  it("serves the gateway, which holds the token, and a caller that shows it", async () => {
    const viaGateway = await fetch(`${shop.gateway.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "access-key-2" },
      body: JSON.stringify(order),
    });
    expect(viaGateway.status).toBe(201);
    const direct = await fetch(`${shop.order.url}/skus/ACCESS-1`, { headers: INTERNAL });
    expect(direct.status).toBe(200);
  });

  it("every role that serves or makes internal calls refuses to start without the token, naming it", () => {
    const urls = {
      CHAOSCART_INVENTORY_URL: "http://127.0.0.1:1",
      CHAOSCART_PAYMENT_URL: "http://127.0.0.1:2",
    };
    expect(() => readEnv(orderEnv, { CHAOSCART_DATABASE_URL: database.url, ...urls })).toThrow(
      /CHAOSCART_SERVICE_TOKEN: required/,
    );
    expect(() => readEnv(gatewayEnv, {})).toThrow(/CHAOSCART_SERVICE_TOKEN: required/);
  });
});

/** A base port with the four ports `serve all` uses (+0, +1, +2, +4) free on every address. */
async function freeBasePort(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await Promise.all([0, 1, 2, 4].map((offset) => free(base + offset)))).every(Boolean)) return base;
  }
  throw new Error("no free base port");
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );
}

describe("serve all", () => {
  it("exposes only the gateway on a public address; the internal roles stay on the loopback", async () => {
    const port = await freeBasePort();
    const env = {
      CHAOSCART_DATABASE_URL: database.url,
      CHAOSCART_HOST: "0.0.0.0",
      CHAOSCART_PORT: String(port),
      CHAOSCART_ADMIN_TOKEN: ADMIN_TOKEN,
      CHAOSCART_LOG_LEVEL: "silent",
    }; // no CHAOSCART_SERVICE_TOKEN: the roles share a generated one
    const all = await startAllServices(readEnv(allEnv, env), env);
    try {
      expect(new URL(all.urls.gateway).hostname).toBe("0.0.0.0");
      for (const role of ["order", "inventory", "payment"] as const)
        expect(new URL(all.urls[role]).hostname).toBe("127.0.0.1");
      const placed = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "serve-all-key-1" },
        body: JSON.stringify(order),
      });
      expect(placed.status).toBe(201); // the generated token reached every role
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === "IPv4" && !address.internal)?.address;
      if (external) {
        expect(await accepts(external, port)).toBe(true);
        for (const offset of [1, 2, 4]) expect(await accepts(external, port + offset)).toBe(false);
      }
    } finally {
      await all.close();
    }
  });
});
