import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type EnvConfig, inventoryEnv, orderEnv, readEnv, serviceTokenSchema } from "./config.ts";
import { gatewayEnv } from "./gateway/config.ts";
import { startGatewayService } from "./gateway/service.ts";
import type { RunningService } from "./http/listen.ts";
import { startInventoryService } from "./inventory/service.ts";
import { startOrderService } from "./orders/service.ts";
import { paymentSimEnv } from "./payments/config.ts";
import { startPaymentSimService } from "./payments/service.ts";

/**
 * `chaoscart serve all`: every role in one process, for a small deployment or a laptop. The gateway
 * listens on CHAOSCART_HOST:CHAOSCART_PORT; the internal roles always on the loopback, on the next
 * ports (order +1, inventory +2, payment +4), so exposing the gateway exposes nothing else. Every
 * other CHAOSCART_* variable is passed to each role as if it ran alone. Without
 * CHAOSCART_SERVICE_TOKEN the roles share a random one: they are the only ones who need it.
 */
export const allEnv = {
  CHAOSCART_DATABASE_URL: inventoryEnv.CHAOSCART_DATABASE_URL,
  CHAOSCART_HOST: inventoryEnv.CHAOSCART_HOST,
  CHAOSCART_PORT: z.coerce.number().int().min(1).max(65_530).default(7100),
  CHAOSCART_REGION: inventoryEnv.CHAOSCART_REGION,
  CHAOSCART_SERVICE_TOKEN: serviceTokenSchema.optional(),
} as const;

const INTERNAL_HOST = "127.0.0.1";

export interface AllServices extends RunningService {
  /** Each role's address: the gateway where asked, the others on the loopback. */
  urls: { gateway: string; order: string; inventory: string; payment: string };
}

export async function startAllServices(
  config: EnvConfig<typeof allEnv>,
  processEnv: NodeJS.ProcessEnv = process.env,
): Promise<AllServices> {
  const { CHAOSCART_HOST: host, CHAOSCART_PORT: port, CHAOSCART_REGION: region } = config;
  const env: NodeJS.ProcessEnv = {
    ...processEnv,
    CHAOSCART_SERVICE_TOKEN: config.CHAOSCART_SERVICE_TOKEN ?? randomBytes(32).toString("hex"),
  };
  const internalEnv = (offset: number) => ({
    ...env,
    CHAOSCART_HOST: INTERNAL_HOST,
    CHAOSCART_PORT: String(port + offset),
  });
  const url = (offset: number) => `http://${INTERNAL_HOST}:${port + offset}`;
  const started: RunningService[] = [];
  const start = async (run: () => Promise<RunningService>) => {
    const service = await run();
    started.push(service);
    return service;
  };
  try {
    const inventory = await start(() => startInventoryService(readEnv(inventoryEnv, internalEnv(2))));
    const payment = await start(() => startPaymentSimService(readEnv(paymentSimEnv, internalEnv(4))));
    const order = await start(() =>
      startOrderService(
        readEnv(orderEnv, {
          ...internalEnv(1),
          CHAOSCART_INVENTORY_URL: url(2),
          CHAOSCART_PAYMENT_URL: url(4),
        }),
      ),
    );
    const gateway = await start(() =>
      startGatewayService(
        readEnv(gatewayEnv, {
          ...env,
          CHAOSCART_HOST: host,
          CHAOSCART_PORT: String(port),
          CHAOSCART_REGIONS: `${region}=${url(1)}`,
        }),
      ),
    );
    return {
      url: gateway.url,
      urls: { gateway: gateway.url, order: order.url, inventory: inventory.url, payment: payment.url },
      async close() {
        for (const service of started.reverse()) await service.close();
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.close().catch(() => {});
    throw error;
  }
}
