import postgres, { type Sql } from "postgres";

export interface PoolOptions {
  max?: number;
  /** Seconds to wait for a connection before failing the query. */
  connectTimeoutSeconds?: number;
  applicationName?: string;
}

export type Db = Sql;

export function createPool(url: string, options: PoolOptions = {}): Db {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "chaoscart" },
  });
}
