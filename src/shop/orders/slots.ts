import type { TransactionSql } from "postgres";
import type { Db } from "../db/pool.ts";

/**
 * Slot ownership as stored in a region's database (migration 006): the authority on which region
 * may place orders for a unit. Seeded once per database from the deployment's region list; changed
 * only by `moveSlots` at the current owner, and by the relay applying a move made elsewhere.
 */

export interface SlotOwnership {
  slot: number;
  region: string;
  epoch: number;
}

/** The placing region does not own the user's slot (any more, or not yet): nothing was written. */
export class NotSlotOwnerError extends Error {
  constructor(
    readonly slot: number,
    readonly owner: SlotOwnership | undefined,
  ) {
    super(
      owner
        ? `slot ${slot} is owned by region ${owner.region} (epoch ${owner.epoch}): this region places no order for it`
        : `slot ${slot} has no owner in this region's database`,
    );
  }
}

/**
 * Gives every slot that has no owner yet its even-spread home (slot i → regions[i mod n]) at epoch
 * 1. Idempotent, and the same in every region given the same list, so regions seeded apart agree.
 */
export async function seedSlots(db: Db, regions: readonly string[], slotCount: number): Promise<void> {
  if (regions.length === 0) throw new RangeError("a deployment has at least one region");
  await db`
    INSERT INTO slot_owner (slot, region, epoch)
    SELECT s, (${regions as string[]}::text[])[s % ${regions.length} + 1], 1
    FROM generate_series(0, ${slotCount - 1}) AS s
    ON CONFLICT (slot) DO NOTHING`;
}

export async function slotOwner(db: Db, slot: number): Promise<SlotOwnership | undefined> {
  const [row] = await db<SlotOwnership[]>`
    SELECT slot, region, epoch::int AS epoch FROM slot_owner WHERE slot = ${slot}`;
  return row;
}

export interface SlotMove {
  moved: SlotOwnership[];
  /** Slots this region did not own: only their owner can move them. */
  notOwned: number[];
}

/**
 * Hands `slots` that `from` owns to `to`, one epoch later, with an outbox event per slot for the
 * relay. Run at the owner: the update waits for its placements in flight (they hold the slot's row
 * in share mode) and fences every later one.
 */
export async function moveSlots(
  db: Db,
  from: string,
  to: string,
  slots: readonly number[],
): Promise<SlotMove> {
  const wanted = [...new Set(slots)].sort((a, b) => a - b);
  const moved = await db.begin(async (tx: TransactionSql) => {
    const rows = await tx<SlotOwnership[]>`
      UPDATE slot_owner SET region = ${to}, epoch = epoch + 1, changed_at = now()
      WHERE slot = ANY(${wanted}::int[]) AND region = ${from}
      RETURNING slot, region, epoch::int AS epoch`;
    if (rows.length > 0) {
      await tx`
        INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
        SELECT 'slot', m.slot::text, 'SlotMoved', jsonb_build_object('region', m.region, 'epoch', m.epoch), ''
        FROM unnest(${rows.map((r) => r.slot)}::int[], ${rows.map((r) => r.region)}::text[], ${rows.map((r) => r.epoch)}::bigint[])
          AS m(slot, region, epoch)`;
    }
    return rows;
  });
  const done = new Set(moved.map((m) => m.slot));
  return { moved: [...moved].sort((a, b) => a.slot - b.slot), notOwned: wanted.filter((s) => !done.has(s)) };
}

/** Every slot's ownership as this region has it. */
export function readAllSlots(db: Db): Promise<SlotOwnership[]> {
  return db<SlotOwnership[]>`SELECT slot, region, epoch::int AS epoch FROM slot_owner ORDER BY slot`;
}
