import { z } from "zod";

/**
 * The shapes of the identifiers every service accepts from its callers, shared by their request
 * schemas: a SKU and an order id look the same at the gateway, the order service and the inventory.
 */

export const skuSchema = z
  .string()
  .regex(/^[A-Z0-9][A-Z0-9_-]{0,63}$/, "expected 1-64 characters of [A-Z0-9_-]");

/** An order id as a caller gives it (the shop mints snowflake ids, domain/ids.ts; clients may name their own). */
export const orderIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "expected 1-64 characters of [A-Za-z0-9_.:-]");
