import { z } from "zod";
import { type EnvConfig, inventoryEnv, orderEnv, readEnv } from "./config.ts";
import { gatewayEnv } from "./gateway/config.ts";
import { startGatewayService } from "./gateway/service.ts";
import { type RunningService, startInventoryService } from "./inventory/service.ts";
import { startOrderService } from "./orders/service.ts";
import { paymentSimEnv } from "./payments/config.ts";
import { startPaymentSimService } from "./payments/service.ts";

/**
 * `chaoscart serve all`: every role in one process, for a small deployment or a laptop. The gateway
 * listens on CHAOSCART_PORT and the others on the next ports (order +1, inventory +2, payment +4);
 * every other CHAOSCART_* variable is passed to each role as if it ran alone.
 */
export const allEnv = {
  CHAOSCART_DATABASE_URL: inventoryEnv.CHAOSCART_DATABASE_URL,
  CHAOSCART_HOST: inventoryEnv.CHAOSCART_HOST,
  CHAOSCART_PORT: z.coerce.number().int().min(1).max(65_530).default(7100),
  CHAOSCART_REGION: inventoryEnv.CHAOSCART_REGION,
} as const;

export async function startAllServices(
  config: EnvConfig<typeof allEnv>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const { CHAOSCART_HOST: host, CHAOSCART_PORT: port, CHAOSCART_REGION: region } = config;
  const url = (offset: number) => `http://${host}:${port + offset}`;
  const started: RunningService[] = [];
  const start = async (run: () => Promise<RunningService>) => {
    const service = await run();
    started.push(service);
    return service;
  };
  try {
    await start(() =>
      startInventoryService(readEnv(inventoryEnv, { ...env, CHAOSCART_PORT: String(port + 2) })),
    );
    await start(() =>
      startPaymentSimService(readEnv(paymentSimEnv, { ...env, CHAOSCART_PORT: String(port + 4) })),
    );
    await start(() =>
      startOrderService(
        readEnv(orderEnv, {
          ...env,
          CHAOSCART_PORT: String(port + 1),
          CHAOSCART_INVENTORY_URL: url(2),
          CHAOSCART_PAYMENT_URL: url(4),
        }),
      ),
    );
    const gateway = await start(() =>
      startGatewayService(
        readEnv(gatewayEnv, {
          ...env,
          CHAOSCART_PORT: String(port),
          CHAOSCART_REGIONS: `${region}=${url(1)}`,
        }),
      ),
    );
    return {
      url: gateway.url,
      async close() {
        for (const service of started.reverse()) await service.close();
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.close().catch(() => {});
    throw error;
  }
}
