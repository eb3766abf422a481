import { z } from "zod";
import { adminTokenSchema, type EnvConfig, labTokenSchema, serviceTokenSchema } from "../config.ts";

/** `chaoscart serve payment-sim`: read with `readEnv(paymentSimEnv)` from ../config.ts. */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const probability = z.coerce.number().min(0).max(1);

export const paymentSimEnv = {
  CHAOSCART_HOST: z.string().default("127.0.0.1"),
  CHAOSCART_PORT: int(0, 65535).default(7104),
  /** Guards /admin/* (payments listing, fault knobs); without it those answer 403. */
  CHAOSCART_ADMIN_TOKEN: adminTokenSchema,
  CHAOSCART_LAB_TOKEN: labTokenSchema,
  /** Guards /payments/* (the order service's calls). */
  CHAOSCART_SERVICE_TOKEN: serviceTokenSchema,
  CHAOSCART_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** JSON-lines journal, fsync'ed per change and replayed on start. Unset: memory only (forgets on restart). */
  CHAOSCART_PAYMENT_JOURNAL: z.string().min(1).optional(),
  /** Initial fault knobs; the lab changes them at run time with PUT /admin/faults. */
  CHAOSCART_PAYMENT_LATENCY_MS: int(0, 60_000).default(0),
  CHAOSCART_PAYMENT_ERROR_RATE: probability.default(0),
  CHAOSCART_PAYMENT_DECLINE_RATE: probability.default(0),
  /** Seed for the fault and decline draws, so a lab run can be repeated; unset: Math.random. */
  CHAOSCART_PAYMENT_SEED: int(0, 2 ** 32 - 1).optional(),
} as const;

export type PaymentSimConfig = EnvConfig<typeof paymentSimEnv>;
