import { decode, MAX_REGION } from "../domain/ids.ts";
import { DEFAULT_SLOT_COUNT, slotOf } from "../domain/slots.ts";

/**
 * Unit routing (docs/architecture.md §Regions), pure: users hash into a fixed number of slots and a versioned
 * slot → home region table says where each slot's writes go. Failover moves a dead region's slots
 * with a new table version; a gateway accepts a table only when its version is newer than the one
 * it holds, so a delayed or replayed update can never undo a later one.
 */

export { DEFAULT_SLOT_COUNT, fnv1a32, slotOf } from "../domain/slots.ts";

export interface SlotTableSummary {
  version: number;
  slotCount: number;
  /** Slots per region, for every region of the deployment (0 once a region's slots moved away). */
  slotsPerRegion: Record<string, number>;
}

/** Immutable slot → home region table. */
export class SlotTable {
  readonly version: number;
  readonly slots: readonly string[];

  constructor(version: number, slots: readonly string[]) {
    if (!Number.isInteger(version) || version < 1)
      throw new RangeError(`version must be ≥ 1, got ${version}`);
    if (slots.length === 0) throw new RangeError("a slot table needs at least one slot");
    this.version = version;
    this.slots = Object.freeze([...slots]);
  }

  /** Spreads `slotCount` slots evenly over `regions` (slot i → regions[i mod n]). */
  static even(regions: readonly string[], slotCount: number = DEFAULT_SLOT_COUNT, version = 1): SlotTable {
    if (regions.length === 0) throw new RangeError("a slot table needs at least one region");
    if (!Number.isInteger(slotCount) || slotCount < 1) {
      throw new RangeError(`slot count must be a positive integer, got ${slotCount}`);
    }
    return new SlotTable(
      version,
      Array.from({ length: slotCount }, (_, slot) => regions[slot % regions.length] as string),
    );
  }

  get slotCount(): number {
    return this.slots.length;
  }

  regionOfSlot(slot: number): string {
    const region = this.slots[slot];
    if (region === undefined) throw new RangeError(`slot ${slot} is outside 0..${this.slots.length - 1}`);
    return region;
  }

  regionForUser(userId: string): string {
    return this.regionOfSlot(slotOf(userId, this.slots.length));
  }

  /** A new table, one version later, in which every slot homed in `from` is homed in `to`. */
  withRegionMoved(from: string, to: string): SlotTable {
    return new SlotTable(
      this.version + 1,
      this.slots.map((region) => (region === from ? to : region)),
    );
  }

  /** A new table, one version later, in which `slots` are homed in `to` (a unit move). */
  withSlotsMoved(slots: readonly number[], to: string): SlotTable {
    const moving = new Set(slots);
    for (const slot of moving) this.regionOfSlot(slot); // throws for a slot outside the table
    return new SlotTable(
      this.version + 1,
      this.slots.map((region, slot) => (moving.has(slot) ? to : region)),
    );
  }

  /** The same slots under another version number (e.g. the one a failover controller assigned). */
  withVersion(version: number): SlotTable {
    return new SlotTable(version, this.slots);
  }

  summary(regions: readonly string[]): SlotTableSummary {
    const slotsPerRegion: Record<string, number> = {};
    for (const region of regions) slotsPerRegion[region] = 0;
    for (const region of this.slots) slotsPerRegion[region] = (slotsPerRegion[region] ?? 0) + 1;
    return { version: this.version, slotCount: this.slots.length, slotsPerRegion };
  }
}

/**
 * The home region of an order: its snowflake id carries the region code, which is the region's
 * index in the deployment's region list. Undefined when the id names a region this deployment does
 * not have; throws a RangeError when `orderId` is not a snowflake id at all.
 */
export function regionForOrderId(orderId: string, regions: readonly string[]): string | undefined {
  return regions[decode(orderId).region];
}

/** A gateway's current routing: the deployment's regions (in code order) and the newest table it accepted. */
export class SlotRouter {
  readonly regions: readonly string[];
  private current: SlotTable;

  constructor(regions: readonly string[], slotCount: number = DEFAULT_SLOT_COUNT) {
    if (regions.length === 0) throw new RangeError("at least one region is required");
    if (regions.length > MAX_REGION + 1)
      throw new RangeError(`at most ${MAX_REGION + 1} regions are supported`);
    if (new Set(regions).size !== regions.length)
      throw new RangeError(`duplicate region in ${regions.join(", ")}`);
    this.regions = Object.freeze([...regions]);
    this.current = SlotTable.even(this.regions, slotCount);
  }

  get table(): SlotTable {
    return this.current;
  }

  regionForUser(userId: string): string {
    return this.current.regionForUser(userId);
  }

  regionForOrderId(orderId: string): string | undefined {
    return regionForOrderId(orderId, this.regions);
  }

  /**
   * Installs `next` if its version is greater than the current one; returns whether it did. A table
   * of another size or naming an unknown region is a programming error and throws.
   */
  update(next: SlotTable): boolean {
    if (next.slotCount !== this.current.slotCount) {
      throw new RangeError(`table has ${next.slotCount} slots, expected ${this.current.slotCount}`);
    }
    const unknown = next.slots.find((region) => !this.regions.includes(region));
    if (unknown !== undefined) throw new RangeError(`table names unknown region ${unknown}`);
    if (next.version <= this.current.version) return false;
    this.current = next;
    return true;
  }

  summary(): SlotTableSummary & { regions: readonly string[] } {
    return { ...this.current.summary(this.regions), regions: this.regions };
  }
}
