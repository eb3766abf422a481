import type { Db } from "../db/pool.ts";

/**
 * Per-bucket digests of a replicated table, for reconciliation between regions (issue "active-active,
 * part 1" §5). Rows are spread over a fixed number of buckets by a hash of their key; each bucket's
 * digest is a hash over its rows' keys and contents, in key order. Two regions compare the digests
 * (a few hundred small strings), and only the buckets that differ are compared row by row.
 *
 * The bucket and the digests are computed by PostgreSQL in both regions (`hashtext`, `md5`), so both
 * sides agree on them whatever the client; the comparison itself is pure.
 */

/** A table that reconciliation knows how to digest: its name, key column and the columns that matter. */
export interface DigestTable {
  table: string;
  key: string;
  /** The columns whose values must agree across regions (leave out local bookkeeping such as leases). */
  columns: readonly string[];
}

/** The orders as replicated: what a peer must agree on (leases and request hashes are local). */
export const ORDERS_DIGEST: DigestTable = {
  table: "orders",
  key: "id",
  columns: ["user_id", "idem_key", "home_region", "state", "cancel_reason", "items", "total", "hlc"],
};

/** The shop's view of each order's payment, as replicated with its order. */
export const PAYMENTS_DIGEST: DigestTable = {
  table: "payment",
  key: "order_id",
  columns: ["state", "amount", "provider_ref"],
};

export type BucketDigests = Map<number, string>;
export type RowDigests = Map<string, string>;

export interface RowDifference {
  /** Keys present on the source side only (missing at the target). */
  missingAtTarget: string[];
  /** Keys present on the target side only (unknown to the source). */
  unknownAtSource: string[];
  /** Keys present on both sides with different contents. */
  differing: string[];
}

/** Buckets whose digests differ, or that only one side has; in bucket order. */
export function differingBuckets(source: BucketDigests, target: BucketDigests): number[] {
  const buckets = new Set([...source.keys(), ...target.keys()]);
  return [...buckets].filter((b) => source.get(b) !== target.get(b)).sort((a, b) => a - b);
}

/** Row by row, within the buckets that differ. */
export function differingRows(source: RowDigests, target: RowDigests): RowDifference {
  const missingAtTarget: string[] = [];
  const differing: string[] = [];
  for (const [key, digest] of source) {
    const other = target.get(key);
    if (other === undefined) missingAtTarget.push(key);
    else if (other !== digest) differing.push(key);
  }
  const unknownAtSource = [...target.keys()].filter((key) => !source.has(key));
  return {
    missingAtTarget: missingAtTarget.sort(),
    unknownAtSource: unknownAtSource.sort(),
    differing: differing.sort(),
  };
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

function rowText(spec: DigestTable): string {
  for (const name of [spec.table, spec.key, ...spec.columns]) {
    if (!IDENT.test(name)) throw new RangeError(`not a plain identifier: ${JSON.stringify(name)}`);
  }
  // jsonb_build_array gives every column one canonical text form (NULL included) in both regions.
  return `jsonb_build_array(${spec.columns.join(", ")})::text`;
}

/** Every bucket's digest of `spec.table` in this database. */
export async function bucketDigests(db: Db, spec: DigestTable, buckets: number): Promise<BucketDigests> {
  const rows = await db.unsafe<{ bucket: number; digest: string }[]>(
    `SELECT bucket, md5(string_agg(${spec.key}::text || '=' || md5(row_text), ',' ORDER BY ${spec.key})) AS digest
     FROM (SELECT ${spec.key}, ${rowText(spec)} AS row_text,
                  (hashtext(${spec.key}::text)::bigint & 2147483647) % $1 AS bucket
           FROM ${spec.table}) t
     GROUP BY bucket`,
    [buckets],
  );
  return new Map(rows.map((r) => [Number(r.bucket), r.digest]));
}

/** The row digests of the given buckets of `spec.table` in this database. */
export async function rowDigests(
  db: Db,
  spec: DigestTable,
  buckets: number,
  which: readonly number[],
): Promise<RowDigests> {
  const rows = await db.unsafe<{ key: string; digest: string }[]>(
    `SELECT ${spec.key}::text AS key, md5(${rowText(spec)}) AS digest FROM ${spec.table}
     WHERE (hashtext(${spec.key}::text)::bigint & 2147483647) % $1 = ANY($2::int[])`,
    [buckets, which as number[]],
  );
  return new Map(rows.map((r) => [r.key, r.digest]));
}

/** The row digests of the given keys of `spec.table` in this database (keys it lacks are absent). */
export async function rowDigestsOf(db: Db, spec: DigestTable, keys: readonly string[]): Promise<RowDigests> {
  const rows = await db.unsafe<{ key: string; digest: string }[]>(
    `SELECT ${spec.key}::text AS key, md5(${rowText(spec)}) AS digest FROM ${spec.table}
     WHERE ${spec.key}::text = ANY($1::text[])`,
    [keys as string[]],
  );
  return new Map(rows.map((r) => [r.key, r.digest]));
}

export interface Comparison {
  bucketsCompared: number;
  bucketsDiffering: number[];
  rows: RowDifference;
}

/** Compares `spec.table` between a source and a target database: digests first, rows only where they differ. */
export async function compareTable(
  source: Db,
  target: Db,
  spec: DigestTable,
  buckets = 256,
): Promise<Comparison> {
  const [a, b] = await Promise.all([
    bucketDigests(source, spec, buckets),
    bucketDigests(target, spec, buckets),
  ]);
  const differing = differingBuckets(a, b);
  if (differing.length === 0) {
    return {
      bucketsCompared: buckets,
      bucketsDiffering: [],
      rows: { missingAtTarget: [], unknownAtSource: [], differing: [] },
    };
  }
  const [rowsA, rowsB] = await Promise.all([
    rowDigests(source, spec, buckets, differing),
    rowDigests(target, spec, buckets, differing),
  ]);
  return { bucketsCompared: buckets, bucketsDiffering: differing, rows: differingRows(rowsA, rowsB) };
}
