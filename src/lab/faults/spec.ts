/** Fault specs as data: toxic specs and partitions, validated with zod, errors naming the field. */
import { z } from "zod";
import { TOXIC_TYPES, type TOXICS, type ToxicType, toxicOf } from "./toxics/index.ts";

export const DIRECTIONS = ["upstream", "downstream"] as const;
/** `upstream`: client → server bytes; `downstream`: server → client bytes. */
export type Direction = (typeof DIRECTIONS)[number];

export const PARTITION_DIRECTIONS = ["both", ...DIRECTIONS] as const;
export type PartitionDirection = (typeof PARTITION_DIRECTIONS)[number];

/** A toxic as a caller writes it (attributes typed per toxic type; defaults filled in on parsing). */
export type ToxicSpecInput = {
  [T in ToxicType]: {
    type: T;
    direction: Direction;
    /** Probability (0..1, default 1) that the toxic applies to a connection, decided once per connection. */
    toxicity?: number;
    attributes?: z.input<(typeof TOXICS)[T]["attributes"]>;
  };
}[ToxicType];

/** A validated toxic spec. */
export interface ToxicSpec {
  type: ToxicType;
  direction: Direction;
  toxicity: number;
  attributes: Record<string, unknown>;
}

export class FaultSpecError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. `attributes.latencyMs`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "FaultSpecError";
  }
}

const toxicSpecSchema = z
  .object({
    type: z.enum(TOXIC_TYPES),
    direction: z.enum(DIRECTIONS),
    toxicity: z.number().min(0).max(1).default(1),
    attributes: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const partitionSchema = z.object({ direction: z.enum(PARTITION_DIRECTIONS).default("both") }).strict();

/** Validates a toxic spec; throws `FaultSpecError` naming the first bad field. */
export function parseToxicSpec(input: unknown): ToxicSpec {
  const base = toxicSpecSchema.safeParse(input);
  if (!base.success) throw specError(base.error, "spec");
  const toxic = toxicOf(base.data.type);
  if (!toxic) throw new FaultSpecError("type", `unknown toxic type "${base.data.type}"`);
  const attributes = toxic.attributes.safeParse(base.data.attributes);
  if (!attributes.success) throw specError(attributes.error, "attributes");
  return { ...base.data, attributes: attributes.data as Record<string, unknown> };
}

/** Validates a partition request body (`{ direction?: "both" | "upstream" | "downstream" }`). */
export function parsePartitionSpec(input: unknown): { direction: PartitionDirection } {
  const parsed = partitionSchema.safeParse(input ?? {});
  if (!parsed.success) throw specError(parsed.error, "body");
  return parsed.data;
}

function specError(error: z.ZodError, root: string): FaultSpecError {
  const issue = error.issues[0];
  if (!issue) return new FaultSpecError(root, "invalid");
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const field = root === "spec" ? path.join(".") || root : [root, ...path].join(".");
  return new FaultSpecError(field, issue.message);
}
