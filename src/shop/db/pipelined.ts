import type { PendingQuery, ReservedSql, Row } from "postgres";
import type { Db } from "./pool.ts";

/** SQLSTATE of chaoscart_assert (migration 009): a condition a pipelined transaction checks in SQL. */
export const ASSERTION_FAILED = "CC001";

/**
 * Sends `statements`, in this order, then COMMIT, without waiting in between; resolves to the
 * statements' results once COMMIT answered.
 */
export type CommitWith = <T extends readonly PendingQuery<Row[]>[]>(
  statements: [...T],
) => Promise<{ [K in keyof T]: Awaited<T[K]> }>;

/**
 * A transaction in as few round trips as its logic needs. postgres.js's `begin` waits for BEGIN
 * before sending the first statement and sends COMMIT only once the last one answered: two round
 * trips (each a wake-up of the database backend and of this process) that carry nothing. Here BEGIN
 * goes out with the body's first statements, and `commitWith` sends the last ones with COMMIT.
 * Statements on the connection run in the order sent: a failing one aborts the transaction, the
 * ones behind it fail, and a COMMIT behind it rolls back. So a condition the commit depends on must
 * be checked in SQL, in a statement ahead of it (chaoscart_assert), not by the body once it
 * answered. A body that does not call `commitWith` commits when it returns.
 *
 * postgres.js sends a query when it is first awaited (or `.execute()`d), not when it is written:
 * `commitWith` executes its statements itself, so they go out before the COMMIT whatever order the
 * caller's expression evaluates them in.
 */
export async function pipelinedTransaction<T>(
  db: Db,
  body: (tx: ReservedSql, commitWith: CommitWith) => Promise<T>,
): Promise<T> {
  const tx = await db.reserve();
  let committed: Promise<unknown> | undefined;
  const commitWith: CommitWith = (statements) => {
    if (committed) throw new Error("commitWith called twice in one transaction");
    for (const statement of statements) statement.execute();
    const commit = tx`COMMIT`.execute();
    committed = Promise.all([...statements, commit]);
    // The body hears a failed statement through the promise returned here and may throw before
    // awaiting `committed`; the transaction's own outcome is awaited below only on success.
    committed.catch(() => {});
    return Promise.all(statements) as never;
  };
  try {
    const begun = tx`BEGIN`.execute();
    begun.catch(() => {}); // a failed BEGIN fails the statements behind it, which the body awaits
    const result = await body(tx, commitWith);
    await begun;
    await (committed ?? tx`COMMIT`);
    return result;
  } catch (error) {
    // Whatever was sent, end the transaction before the connection goes back to the pool.
    await tx`ROLLBACK`.catch(() => {});
    throw error;
  } finally {
    tx.release();
  }
}
