import type { Command } from "commander";
import { allEnv, startAllServices } from "../shop/all.ts";
import { ConfigError, inventoryEnv, orderEnv, readEnv } from "../shop/config.ts";
import { gatewayEnv } from "../shop/gateway/config.ts";
import { startGatewayService } from "../shop/gateway/service.ts";
import { type RunningService, startInventoryService } from "../shop/inventory/service.ts";
import { startOrderService } from "../shop/orders/service.ts";
import { paymentSimEnv } from "../shop/payments/config.ts";
import { startPaymentSimService } from "../shop/payments/service.ts";

const roles: Record<string, () => Promise<RunningService>> = {
  all: () => startAllServices(readEnv(allEnv)),
  gateway: () => startGatewayService(readEnv(gatewayEnv)),
  inventory: () => startInventoryService(readEnv(inventoryEnv)),
  order: () => startOrderService(readEnv(orderEnv)),
  "payment-sim": () => startPaymentSimService(readEnv(paymentSimEnv)),
};

/**
 * postgres.js starts a type lookup on every new connection and never handles its rejection
 * (porsager/postgres#1192): a connection reset by a failover or a fault link would crash the whole
 * service. Connection errors are the pools' business (they reconnect); anything else still crashes.
 */
const CONNECTION_ERRORS = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

function survivePoolConnectionErrors() {
  process.on("unhandledRejection", (reason) => {
    const code = (reason as { code?: string } | undefined)?.code ?? "";
    if (CONNECTION_ERRORS.has(code)) {
      console.error(JSON.stringify({ level: 40, time: Date.now(), msg: "database connection lost", code }));
      return;
    }
    console.error(reason);
    process.exit(1);
  });
}

export function registerServe(program: Command) {
  program
    .command("serve")
    .description("run one shop service role (configured by CHAOSCART_* environment variables)")
    .argument("<role>", `one of: ${Object.keys(roles).join(", ")}`)
    .action(async (role: string) => {
      const start = roles[role];
      if (!start) throw new Error(`unknown role "${role}": expected one of ${Object.keys(roles).join(", ")}`);
      survivePoolConnectionErrors();
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
