import { randomBytes } from "node:crypto";
import { createApp } from "../http/app.ts";
import { registerLabEndpoints } from "../http/lab-endpoints.ts";
import { listen, type RunningService } from "../http/listen.ts";
import type { PaymentSimConfig } from "./config.ts";
import { FaultPlanner, type Random, seededRandom } from "./faults.ts";
import { PaymentLedger } from "./ledger.ts";
import { paymentMetrics } from "./metrics.ts";
import { registerPaymentRoutes } from "./routes.ts";

export interface PaymentSimOptions {
  /** Random source for fault and decline draws; default: seeded by CHAOSCART_PAYMENT_SEED, else Math.random. */
  random?: Random;
}

/** Composes the payment provider simulator: journal-backed ledger, fault knobs, HTTP routes. */
export async function startPaymentSimService(
  config: PaymentSimConfig,
  options: PaymentSimOptions = {},
): Promise<RunningService> {
  let ledger: PaymentLedger | undefined;
  const app = createApp({
    service: "payment-sim",
    logLevel: config.CHAOSCART_LOG_LEVEL,
    ready: async () => {
      if (!ledger) throw new Error("payment journal not loaded yet");
      if (ledger.failure) throw ledger.failure;
    },
  });
  const journalPath = config.CHAOSCART_PAYMENT_JOURNAL;
  try {
    ledger = await PaymentLedger.open(journalPath, (message) => app.log.warn(message));
  } catch (error) {
    await app.close();
    throw new Error(`cannot load the payment journal: ${(error as Error).message}`);
  }
  const opened = ledger;
  const random =
    options.random ??
    (config.CHAOSCART_PAYMENT_SEED === undefined ? Math.random : seededRandom(config.CHAOSCART_PAYMENT_SEED));
  const faults = new FaultPlanner(
    {
      latencyMs: config.CHAOSCART_PAYMENT_LATENCY_MS,
      errorRate: config.CHAOSCART_PAYMENT_ERROR_RATE,
      declineRate: config.CHAOSCART_PAYMENT_DECLINE_RATE,
    },
    random,
  );
  const metrics = paymentMetrics(app.metrics, { payments: () => opened.all(), knobs: () => faults.knobs });
  registerPaymentRoutes(app, {
    ledger: opened,
    faults,
    metrics,
    adminToken: config.CHAOSCART_ADMIN_TOKEN,
    serviceToken: config.CHAOSCART_SERVICE_TOKEN,
    newProviderRef: () => `psim_${randomBytes(12).toString("hex")}`,
  });
  app.addHook("onClose", async () => {
    await opened.close();
  });
  const labToken = config.CHAOSCART_LAB_TOKEN;
  if (labToken) registerLabEndpoints(app, { token: labToken });
  const running = await listen(app, config.CHAOSCART_HOST, config.CHAOSCART_PORT);
  app.log.info(
    { port: running.port, journal: journalPath ?? null, payments: opened.size, faults: faults.knobs },
    journalPath
      ? "payment simulator listening"
      : "payment simulator listening (in memory: forgets on restart)",
  );
  return running;
}
