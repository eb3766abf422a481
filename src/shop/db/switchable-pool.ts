import type { Sql } from "postgres";

/**
 * A postgres.js pool that can be swapped for a fresh one while callers keep their reference.
 * After a failover the old pool's connections still lead to the demoted server; a fresh pool
 * re-resolves the write endpoint (with a multi-host URL and `target_session_attrs=read-write`,
 * postgres.js connects only to the host that now accepts writes).
 */
export interface SwitchablePool {
  readonly sql: Sql;
  /** Starts a new pool and lets the old one finish what it is doing. */
  replace(): Promise<void>;
  end(): Promise<void>;
}

export function createSwitchablePool(create: () => Sql): SwitchablePool {
  let current = create();
  // Forward calls (tagged templates) and property reads (begin, unsafe, json, …) to the current pool.
  const sql = new Proxy(function pool() {} as unknown as Sql, {
    apply: (_target, thisArg, args) =>
      Reflect.apply(current as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, property) => {
      const value = Reflect.get(current, property);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
  return {
    sql,
    async replace() {
      const old = current;
      current = create();
      await old.end({ timeout: 5 });
    },
    end: () => current.end({ timeout: 5 }),
  };
}
