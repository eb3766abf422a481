/** One short-lived postgres.js connection for a nemesis action, straight to a node (not through a link). */
import postgres, { type Sql } from "postgres";

export async function withSql<T>(url: string, action: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, {
    max: 1,
    connect_timeout: 5,
    idle_timeout: 1,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "chaoscart-nemesis" },
  });
  try {
    return await action(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Resolves within `ms` or rejects, so a best-effort measurement cannot hold a fault action up. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
