import type { FastifyBaseLogger } from "fastify";
import type { BuiltInBug } from "../built-in-bugs.ts";
import type { SwitchablePool } from "./switchable-pool.ts";

/** The write endpoint is read-only (a replica, or a primary demoted by a failover): writes must fail fast. */
export class ReadOnlyEndpointError extends Error {
  readonly statusCode = 503;
  readonly code = "read_only_endpoint";
}

const READ_ONLY_SQL_TRANSACTION = "25006";

/**
 * Guards a service's write endpoint (docs/architecture.md §Reads; BACKGROUND incident 1: writes sent to a read-only
 * backup cascaded for 47 minutes). At start-up a read-only endpoint keeps the service unready with
 * an error naming the setting. At run time the first `read_only_sql_transaction` error flips the
 * guard, swaps the pool (re-resolving the primary) and re-checks until writes are possible again;
 * meanwhile writes are refused at once instead of piling up.
 */
export class WriteGuard {
  private writable = false;
  private reason = "write endpoint not checked yet";
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;
  private readonly becameWritable: (() => Promise<void>)[] = [];
  /**
   * Read-only episodes and the writes sent in them, for `/metrics` (the lab's readonly-misconfig
   * hypotheses): `first` counts the `read_only_sql_transaction` errors that turned the guard
   * read-only; `afterRefusal` the writes sent through `write()` while it already refused writes
   * that then reached the read-only endpoint (writes in flight at the first refusal do not count).
   */
  readonly readOnlyErrors = { first: 0, afterRefusal: 0 };

  constructor(
    private readonly pool: SwitchablePool,
    private readonly setting: string,
    private readonly log: FastifyBaseLogger,
    private readonly recheckMs = 1_000,
    private readonly builtInBug?: BuiltInBug,
  ) {}

  get isWritable(): boolean {
    return this.writable;
  }

  /** Runs once each time the endpoint becomes writable (e.g. migrations before the first write). */
  onWritable(action: () => Promise<void>): void {
    this.becameWritable.push(action);
  }

  /** Checks the endpoint now; true when it accepts writes. */
  check(): Promise<boolean> {
    this.checking ??= this.probe().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /** Re-checks in the background while the endpoint is not writable. */
  start(): void {
    this.timer ??= setInterval(() => {
      if (!this.writable) void this.check();
    }, this.recheckMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** For readiness probes and write paths: throws with the reason when writes cannot succeed. */
  assertWritable(): void {
    if (!this.writable) throw new ReadOnlyEndpointError(this.reason);
  }

  /** For write paths: refuses at once while the endpoint is known read-only. */
  refuseIfReadOnly(): void {
    // Built-in bug "ignore-readonly": writes go on to an endpoint the guard knows is read-only.
    if (this.builtInBug === "ignore-readonly") return;
    this.assertWritable();
  }

  /** Sends one write: refused at once while the endpoint is known read-only, counted if it reaches one anyway. */
  async write<T>(send: () => Promise<T>): Promise<T> {
    this.refuseIfReadOnly();
    const sentWhileRefusing = !this.writable;
    try {
      return await send();
    } catch (error) {
      if (sentWhileRefusing && (error as { code?: string })?.code === READ_ONLY_SQL_TRANSACTION)
        this.readOnlyErrors.afterRefusal++;
      throw error;
    }
  }

  /** Feeds a server error to the guard; returns the error to report when it showed a read-only endpoint. */
  noteError(error: unknown): ReadOnlyEndpointError | undefined {
    if (error instanceof ReadOnlyEndpointError) return error;
    if ((error as { code?: string })?.code !== READ_ONLY_SQL_TRANSACTION) return undefined;
    if (this.writable) {
      this.readOnlyErrors.first++;
      this.writable = false;
      this.reason = `${this.setting} turned read-only at run time (a failover?); re-resolving the primary`;
      this.log.error({ resilience_stage: "read_only_endpoint", setting: this.setting }, this.reason);
      void this.pool.replace().then(() => this.check());
    }
    return new ReadOnlyEndpointError(this.reason);
  }

  private async probe(): Promise<boolean> {
    try {
      const [row] = await this.pool.sql<{ inRecovery: boolean; readOnly: string }[]>`
        SELECT pg_is_in_recovery() AS "inRecovery", current_setting('transaction_read_only') AS "readOnly"`;
      if (row?.inRecovery || row?.readOnly === "on") {
        const why = row.inRecovery ? "pg_is_in_recovery() = true" : "transaction_read_only = on";
        this.setUnwritable(`${this.setting} points at a read-only server (${why}): refusing to serve writes`);
        return false;
      }
      if (!this.writable) {
        for (const action of this.becameWritable) await action();
        this.writable = true;
        this.log.info({ setting: this.setting }, "write endpoint accepts writes");
      }
      return true;
    } catch (error) {
      this.setUnwritable(`${this.setting} unreachable: ${(error as Error).message}`);
      return false;
    }
  }

  private setUnwritable(reason: string) {
    if (this.writable || reason !== this.reason) this.log.error({ setting: this.setting }, reason);
    this.writable = false;
    this.reason = reason;
  }
}
