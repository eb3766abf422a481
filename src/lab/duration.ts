import { z } from "zod";

/**
 * The lab's one duration format: a number of milliseconds, or a string like `500ms`, `10s`, `2m`, `1h`
 * (experiment files, nemesis specs, fault parameters).
 */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds (whole) from a number of ms or a string like `5s`; undefined when it is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== "string") return undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}

const help = (value: unknown) =>
  `expected a duration like 10s, 500ms, 2m or 1h (or a number of milliseconds), got ${JSON.stringify(value)}`;

/** A zod field for a duration, parsed to milliseconds. */
export const durationSchema = z
  .union([z.number(), z.string()], { error: (issue) => help(issue.input) })
  .transform((value, context) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      context.addIssue({ code: "custom", message: help(value) });
      return z.NEVER;
    }
    return ms;
  });
