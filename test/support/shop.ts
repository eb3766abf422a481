import { randomBytes } from "node:crypto";
import { inventoryEnv, orderEnv, readEnv } from "../../src/shop/config.ts";
import { gatewayEnv } from "../../src/shop/gateway/config.ts";
import { startGatewayService } from "../../src/shop/gateway/service.ts";
import type { RunningService } from "../../src/shop/http/listen.ts";
import { startInventoryService } from "../../src/shop/inventory/service.ts";
import { startOrderService } from "../../src/shop/orders/service.ts";
import { paymentSimEnv } from "../../src/shop/payments/config.ts";
import { startPaymentSimService } from "../../src/shop/payments/service.ts";

export const ADMIN_TOKEN = "shop-test-token";
/** CHAOSCART_SERVICE_TOKEN of the test shop, generated per process: what internal calls carry. */
export const SERVICE_TOKEN = randomBytes(16).toString("hex");
/** Headers for a test calling an internal route (inventory, payment provider, order service) itself. */
export const INTERNAL = { authorization: `Bearer ${SERVICE_TOKEN}` } as const;

export interface TestShop {
  inventory: RunningService;
  payment: RunningService;
  order: RunningService;
  gateway: RunningService;
  seed(skus: { id: string; stock: number; price?: number }[]): Promise<void>;
  setPaymentFaults(knobs: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Inventory, payment simulator, order service and gateway in this process, on free ports, over one database. */
export async function startTestShop(
  databaseUrl: string,
  orderOverrides: Record<string, string> = {},
): Promise<TestShop> {
  const common = {
    CHAOSCART_PORT: "0",
    CHAOSCART_ADMIN_TOKEN: ADMIN_TOKEN,
    CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
    CHAOSCART_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
  };
  const inventory = await startInventoryService(
    readEnv(inventoryEnv, { ...common, CHAOSCART_DATABASE_URL: databaseUrl }),
  );
  const payment = await startPaymentSimService(readEnv(paymentSimEnv, common));
  const order = await startOrderService(
    readEnv(orderEnv, {
      ...common,
      CHAOSCART_DATABASE_URL: databaseUrl,
      CHAOSCART_INVENTORY_URL: inventory.url,
      CHAOSCART_PAYMENT_URL: payment.url,
      CHAOSCART_RECOVERY_INTERVAL_MS: "200",
      // The test provider applies a request at most a few seconds late.
      CHAOSCART_LATE_AUTHORIZATION_WINDOW_MS: "3000",
      ...orderOverrides,
    }),
  );
  const gateway = await startGatewayService(
    readEnv(gatewayEnv, {
      ...common,
      CHAOSCART_REGIONS: `east=${order.url}`,
      CHAOSCART_ORDER_TIMEOUT_MS: "15000",
      CHAOSCART_RATE_LIMIT_RPS: "100000",
      CHAOSCART_RATE_LIMIT_BURST: "100000",
    }),
  );
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  return {
    inventory,
    payment,
    order,
    gateway,
    async seed(skus) {
      const response = await fetch(`${inventory.url}/admin/skus`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ skus }),
      });
      if (!response.ok) throw new Error(`seed failed: ${response.status} ${await response.text()}`);
    },
    async setPaymentFaults(knobs) {
      const response = await fetch(`${payment.url}/admin/faults`, {
        method: "PUT",
        headers: admin,
        body: JSON.stringify(knobs),
      });
      if (!response.ok) throw new Error(`payment faults failed: ${response.status} ${await response.text()}`);
    },
    async close() {
      await gateway.close();
      await order.close();
      await Promise.all([inventory.close(), payment.close()]);
    },
  };
}
