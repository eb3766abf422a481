/**
 * What a service process does with a promise rejection nobody handled: it crashes (exit 1, with the
 * stack), except for the one known case below, which it logs with the stack and survives.
 *
 * postgres.js looks up the array types on every new connection (`fetch_types`) and never handles that
 * query's rejection (porsager/postgres#1192): a connection reset by a failover or a fault link just
 * after it opened — including the queued write our patch for porsager/postgres#1208 now fails instead
 * of throwing — would crash the whole service. The pool reconnects by itself; the lookup runs again
 * on the next connection. Any other rejection, whatever its code, is a bug and still crashes.
 */

/** The rejection of postgres.js's own array-type lookup: postgres.js tags its query errors with the SQL. */
export function isPostgresTypeLookupFailure(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  const query: unknown = (reason as { query?: unknown }).query;
  return typeof query === "string" && query.includes("pg_catalog.pg_type") && query.includes("typarray");
}

export function handleUnhandledRejection(
  reason: unknown,
  io: { write: (line: string) => void; exit: (code: number) => void },
): void {
  if (isPostgresTypeLookupFailure(reason)) {
    const error = reason as Error & { code?: string };
    io.write(
      JSON.stringify({
        level: 40,
        time: Date.now(),
        msg: "postgres.js type lookup failed on a new connection (porsager/postgres#1192); the pool reconnects",
        code: error.code,
        err: { type: error.name, message: error.message, stack: error.stack },
      }),
    );
    return;
  }
  const stack = reason instanceof Error ? (reason.stack ?? String(reason)) : String(reason);
  io.write(
    JSON.stringify({
      level: 60,
      time: Date.now(),
      msg: "unhandled promise rejection, exiting",
      err: { stack },
    }),
  );
  io.exit(1);
}

export function installUnhandledRejectionHandler(): void {
  process.on("unhandledRejection", (reason) =>
    handleUnhandledRejection(reason, {
      write: (line) => process.stderr.write(`${line}\n`),
      exit: (code) => process.exit(code),
    }),
  );
}
