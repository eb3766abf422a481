import { z } from "zod";
import { type EnvConfig, inventoryEnv, labTokenSchema } from "../config.ts";

/** `chaoscart serve relay`: read with `readEnv(relayEnv)` from ../config.ts. */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const relayEnv = {
  /** The source region's primary: its outbox is read, its cursor confirmed. */
  CHAOSCART_DATABASE_URL: inventoryEnv.CHAOSCART_DATABASE_URL,
  /** The peer region's primary, where the source's orders are applied. */
  CHAOSCART_PEER_DATABASE_URL: inventoryEnv.CHAOSCART_DATABASE_URL,
  CHAOSCART_REGION: inventoryEnv.CHAOSCART_REGION.unwrap(),
  CHAOSCART_PEER_REGION: inventoryEnv.CHAOSCART_REGION.unwrap(),
  CHAOSCART_HOST: inventoryEnv.CHAOSCART_HOST,
  CHAOSCART_PORT: int(0, 65535).default(7105),
  CHAOSCART_LAB_TOKEN: labTokenSchema,
  CHAOSCART_LOG_LEVEL: inventoryEnv.CHAOSCART_LOG_LEVEL,
  /** Outbox entries shipped per transaction at the peer. */
  CHAOSCART_RELAY_BATCH: int(1, 10_000).default(500),
  /**
   * How soon a relay level with its source checks it for news, inside the source database
   * (migrations 012, 013): also how long a change may wait for the read that ships it.
   */
  CHAOSCART_RELAY_POLL_MS: int(1, 1_000).default(2),
  /**
   * While nothing comes, the checks back off, doubling the interval up to this: a relay whose region
   * takes no orders costs its source a few checks a second instead of hundreds.
   */
  CHAOSCART_RELAY_POLL_MAX_MS: int(1, 1_000).default(16),
  /** The longest wait between attempts while the source or the peer is unreachable. */
  CHAOSCART_RELAY_MAX_BACKOFF_MS: int(10, 600_000).default(2_000),
  /**
   * How often the relay reconciles its pair of regions and repairs the source's orders at the peer
   * (reconcile.ts); 0: never (`chaoscart reconcile` still can).
   */
  CHAOSCART_RECONCILE_INTERVAL_MS: int(0, 86_400_000).default(30_000),
  /** How long a difference must last to count as divergent (longer than the replication lag). */
  CHAOSCART_RECONCILE_GRACE_MS: int(0, 600_000).default(2_000),
  /**
   * Outbox retention (outbox-log.ts prune): rows every consumer confirmed are kept this long...
   */
  CHAOSCART_OUTBOX_KEEP_MS: int(0, 604_800_000).default(600_000),
  /**
   * ...and no row longer than this, confirmed or not: a peer away longer catches up by
   * reconciliation (relay.ts catchUp) instead of making its source's outbox grow without end.
   */
  CHAOSCART_OUTBOX_MAX_RETENTION_MS: int(1_000, 604_800_000).default(3_600_000),
  /** How often the relay prunes its source's outbox; 0: never. */
  CHAOSCART_OUTBOX_PRUNE_INTERVAL_MS: int(0, 86_400_000).default(10_000),
  CHAOSCART_BUILT_IN_BUG: inventoryEnv.CHAOSCART_BUILT_IN_BUG,
  /** Not ready while the last read that reached the source's horizon is older than this. */
  CHAOSCART_RELAY_READY_LAG_MS: int(100, 3_600_000).default(5_000),
} as const;

export type RelayConfig = EnvConfig<typeof relayEnv>;
