import { z } from "zod";
import { CHECK_NAMES, CROSS_REGION_CHECK_NAMES } from "../checkers/registry.ts";
import { durationSchema } from "../duration.ts";
import { NemesisSpecError, parseNemesisSpec } from "../nemeses/spec.ts";

/**
 * The experiment file (docs/architecture.md §Lab). Durations are written like `10s`, `500ms`, `2m`, `1h` (or a number of
 * milliseconds; ../duration.ts) and parsed to milliseconds here, so the runner only ever sees numbers.
 */

export const duration = durationSchema;

export { CHECK_NAMES, CROSS_REGION_CHECK_NAMES } from "../checkers/registry.ts";

export const METRICS = [
  "availability",
  "goodput",
  "p50_ms",
  "p99_ms",
  "max_ms",
  "recovery_ms",
  "switchover_ms",
  "error_rate",
  "rate_limited",
  "catalog_db_load_ratio",
  /** Readiness of the service the first fault targets, from the lab's `/readyz` samples (slo/readiness.ts). */
  "unready_after_fault_ms",
  "ready_after_heal_ms",
  /** The order service's writes to a read-only endpoint after its guard refused the first (metrics.ts). */
  "readonly_writes_after_refusal",
  /** Requests the payment provider received per logical payment call (retry amplification). */
  "payment_amplification",
  /**
   * Several regions: from the end of the workload (every fault healed) until every region held the
   * same orders and payments for good; never within the bound is Infinity (convergence.ts).
   */
  "convergence_ms",
  /** Several regions: rows the relays' reconciliation repaired during the run (relay-metrics.ts). */
  "reconcile_rows_repaired",
  /** Several regions: order versions the lab's replication-loss fault dropped or garbled. */
  "replication_versions_lost",
] as const;

const phase = z.enum(["baseline", "fault", "recovery"]);

/** `40%` (a share, see load.ts) or an absolute number. */
const share = z
  .string()
  .regex(/^\d+(\.\d+)?%$/, "expected a number or a percentage like 40%")
  .transform((text) => ({ share: Number(text.slice(0, -1)) / 100 }));

const fault = z
  .object({
    at: duration,
    /** How long the fault lasts before it is healed; without it, until the end of the fault phase's last fault. */
    duration: duration.optional(),
    action: z.string().min(1),
    target: z.string().min(1).optional(),
  })
  .passthrough();

export const experimentSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "expected lower-case letters, digits and dashes"),
    description: z.string().min(1),
    hypothesisStatement: z.string().optional(),
    topology: z
      .object({
        /** One region, or two run as one system (active-active: each region sells its own stock). */
        regions: z
          .array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/))
          .min(1)
          .max(2)
          .refine((names) => new Set(names).size === names.length, "expected distinct region names")
          .default(["east"]),
        replicas: z.literal(1).default(1),
        replication: z.enum(["sync", "async"]).default("sync"),
      })
      .strict()
      .default({ regions: ["east"], replicas: 1, replication: "sync" }),
    workload: z
      .object({
        /** Arrivals per second, or `N%`: orders at N % of the capacity verify measured (load.ts). */
        rate: z.union([z.number().positive().max(5_000), share]),
        duration,
        warmup: duration.default(2_000),
        users: z.number().int().positive().default(5_000),
        hotSkus: z.number().int().min(1).max(100).default(3),
        coldSkus: z.number().int().min(0).max(10_000).default(20),
        /** Units per hot SKU, or `N%` of the units the run will order of each hot SKU (load.ts). */
        stockPerSku: z.union([z.number().int().positive(), share]).default(300),
        /** Rows each hot SKU's stock is split into in each region (the inventory's stock buckets). */
        stockBuckets: z.number().int().min(1).max(64).default(1),
        /** Share of orders with two distinct items instead of one. */
        multiItemShare: z.number().min(0).max(1).default(0.1),
        arrival: z.enum(["constant", "poisson"]).default("poisson"),
        timeout: duration.default(2_000),
        mix: z
          .object({
            order: z.number().min(0).default(0.8),
            orderRead: z.number().min(0).default(0.1),
            catalogRead: z.number().min(0).default(0.1),
            unknownSku: z.number().min(0).max(1).default(0.02),
          })
          .strict()
          .default({ order: 0.8, orderRead: 0.1, catalogRead: 0.1, unknownSku: 0.02 }),
      })
      .strict(),
    faults: z.array(fault).default([]),
    hypothesis: z
      .array(
        z
          .object({
            metric: z.enum(METRICS),
            phase: phase.optional(),
            min: z.number().optional(),
            max: z.number().optional(),
            /**
             * At most this multiple of the same metric in the same run's baseline phase: for latency,
             * whose absolute figures depend on the machine.
             */
            maxRatioToBaseline: z.number().positive().optional(),
            /**
             * With maxRatioToBaseline: a rise of at most this many units over the baseline passes
             * whatever the ratio (the run-to-run jitter of a small figure, e.g. a p99 of 50 ms).
             */
            tolerance: z.number().positive().optional(),
          })
          .strict()
          .refine(
            (h) => h.min !== undefined || h.max !== undefined || h.maxRatioToBaseline !== undefined,
            "give min, max or maxRatioToBaseline",
          )
          .refine(
            (h) => h.maxRatioToBaseline === undefined || (h.phase !== undefined && h.phase !== "baseline"),
            "maxRatioToBaseline needs a phase other than baseline",
          )
          .refine(
            (h) => h.tolerance === undefined || h.maxRatioToBaseline !== undefined,
            "tolerance needs maxRatioToBaseline",
          ),
      )
      .default([]),
    /** Default: every check, the cross-region ones included with several regions. */
    checks: z.array(z.enum([...CHECK_NAMES, ...CROSS_REGION_CHECK_NAMES])).optional(),
    abort: z
      .array(
        z
          .object({ metric: z.literal("error_rate"), above: z.number().min(0).max(1), for: duration })
          .strict(),
      )
      .default([]),
    /** After the workload: time for sagas, sweepers and replication to settle before the final state is read. */
    settle: duration.default(5_000),
  })
  .strict()
  .superRefine((experiment, context) => {
    const regions = experiment.topology.regions.length;
    for (const [i, name] of (experiment.checks ?? []).entries()) {
      if (regions === 1 && (CROSS_REGION_CHECK_NAMES as readonly string[]).includes(name))
        context.addIssue({
          code: "custom",
          path: ["checks", i],
          message: `${name} needs several regions (topology.regions)`,
        });
    }
    for (const [i, f] of experiment.faults.entries()) {
      const { at: _at, ...spec } = f;
      if (f.action === "overload") {
        const factor = (f as { factor?: unknown }).factor;
        if (typeof factor !== "number" || factor <= 1 || factor > 50) {
          context.addIssue({
            code: "custom",
            path: ["faults", i, "factor"],
            message: "expected a number in (1, 50]",
          });
        }
        if (f.duration === undefined) {
          context.addIssue({
            code: "custom",
            path: ["faults", i, "duration"],
            message: "an overload needs a duration",
          });
        }
      } else {
        try {
          parseNemesisSpec(spec);
        } catch (error) {
          if (!(error instanceof NemesisSpecError)) throw error;
          context.addIssue({
            code: "custom",
            path: ["faults", i, ...error.field.split(".").filter(Boolean)],
            message: error.reason,
          });
        }
      }
      if (f.at >= experiment.workload.duration) {
        context.addIssue({
          code: "custom",
          path: ["faults", i, "at"],
          message: `the fault starts at ${f.at} ms, after the workload ends (${experiment.workload.duration} ms)`,
        });
      }
    }
  })
  .transform(({ checks, ...experiment }) => ({
    ...experiment,
    checks:
      checks ??
      (experiment.topology.regions.length > 1
        ? [...CHECK_NAMES, ...CROSS_REGION_CHECK_NAMES]
        : [...CHECK_NAMES]),
  }));

export type Experiment = z.output<typeof experimentSchema>;
export type FaultStep = Experiment["faults"][number];
export type Hypothesis = Experiment["hypothesis"][number];
