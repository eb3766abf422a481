import type { Command } from "commander";
import { allEnv, startAllServices } from "../shop/all.ts";
import { ConfigError, inventoryEnv, orderEnv, readEnv } from "../shop/config.ts";
import { gatewayEnv } from "../shop/gateway/config.ts";
import { startGatewayService } from "../shop/gateway/service.ts";
import type { RunningService } from "../shop/http/listen.ts";
import { startInventoryService } from "../shop/inventory/service.ts";
import { startOrderService } from "../shop/orders/service.ts";
import { paymentSimEnv } from "../shop/payments/config.ts";
import { startPaymentSimService } from "../shop/payments/service.ts";
import { relayEnv } from "../shop/relay/config.ts";
import { startRelayService } from "../shop/relay/service.ts";
import { installUnhandledRejectionHandler } from "./unhandled-rejection.ts";

const roles: Record<string, () => Promise<RunningService>> = {
  all: () => startAllServices(readEnv(allEnv)),
  gateway: () => startGatewayService(readEnv(gatewayEnv)),
  inventory: () => startInventoryService(readEnv(inventoryEnv)),
  order: () => startOrderService(readEnv(orderEnv)),
  "payment-sim": () => startPaymentSimService(readEnv(paymentSimEnv)),
  relay: () => startRelayService(readEnv(relayEnv)),
};

export function registerServe(program: Command) {
  program
    .command("serve")
    .description("run one shop service role (configured by CHAOSCART_* environment variables)")
    .argument("<role>", `one of: ${Object.keys(roles).join(", ")}`)
    .action(async (role: string) => {
      const start = roles[role];
      if (!start) throw new Error(`unknown role "${role}": expected one of ${Object.keys(roles).join(", ")}`);
      installUnhandledRejectionHandler();
      let service: RunningService;
      try {
        service = await start();
      } catch (error) {
        if (error instanceof ConfigError) {
          console.error(error.message);
          process.exit(2);
        }
        throw error;
      }
      const stop = (signal: NodeJS.Signals) => {
        service.close().then(
          () => process.exit(signal === "SIGINT" ? 130 : 0),
          () => process.exit(1),
        );
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
