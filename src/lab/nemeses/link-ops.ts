/**
 * Link operations the nemeses share, on top of FaultLink's API. FaultLink removes a toxic by id, but
 * ends a partition or a down state only through `heal()`, which removes every fault on the link; and it
 * cuts open connections only through `down()`. So "heal just this" and "reset the connections" are
 * emulated: heal everything, then put back the faults that others own. Toxics put back get new ids;
 * `currentToxicId` maps an owner's id to the current one.
 */
import type { Direction, FaultLink, PartitionDirection, ToxicSpecInput } from "../faults/index.ts";

export type ToxicDirection = Direction | "both";

/** A toxic spec whose direction may be `both` (one toxic per direction). */
export type ToxicRequest = Omit<ToxicSpecInput, "direction"> & { direction: ToxicDirection };

const replaced = new WeakMap<FaultLink, Map<string, string>>();

/** The id a toxic has now, after any re-adds. */
export function currentToxicId(link: FaultLink, id: string): string {
  const ids = replaced.get(link);
  let current = id;
  for (let hops = 0; ids?.has(current) && hops < 1_000; hops++) current = ids.get(current) as string;
  return current;
}

/** Adds the toxic (one per direction for `both`); returns the ids. */
export function addToxics(link: FaultLink, request: ToxicRequest): string[] {
  const directions: Direction[] =
    request.direction === "both" ? ["upstream", "downstream"] : [request.direction];
  const ids: string[] = [];
  try {
    for (const direction of directions) {
      ids.push(link.addToxic({ ...request, direction } as ToxicSpecInput));
    }
  } catch (error) {
    for (const id of ids) link.removeToxic(id);
    throw error;
  }
  return ids;
}

/** Removes toxics by their original ids; reports those that were already gone (healed by someone else). */
export function removeToxics(link: FaultLink, ids: string[]): { removed: string[]; missing: string[] } {
  const removed: string[] = [];
  const missing: string[] = [];
  for (const id of ids) (link.removeToxic(currentToxicId(link, id)) ? removed : missing).push(id);
  return { removed, missing };
}

/**
 * Ends the link's partition and/or down state and keeps its other faults. The toxics are briefly
 * removed (delivering what they hold) and added again, which restarts their state (e.g. limit_data's
 * byte count).
 */
export async function healOnly(
  link: FaultLink,
  what: { partition?: boolean; down?: boolean },
): Promise<void> {
  const before = link.status();
  const keepPartition: PartitionDirection | undefined = what.partition
    ? undefined
    : before.partition?.direction;
  const keepDown = !what.down && before.down !== null;
  await link.heal();
  const ids = replaced.get(link) ?? new Map<string, string>();
  replaced.set(link, ids);
  if (keepPartition) link.partition({ direction: keepPartition });
  for (const toxic of before.toxics) {
    const { type, direction, toxicity, attributes } = toxic;
    const id = link.addToxic({ type, direction, toxicity, attributes } as ToxicSpecInput);
    ids.set(toxic.id, id);
  }
  if (keepDown) await link.down();
}

/**
 * Resets every open connection of the link so its clients reconnect, to the link's current upstream
 * (FaultLink.setUpstream leaves open connections where they were). Emulated with down + heal; the
 * link's partition and toxics stay. A link that is down has no connections to reset.
 */
export async function resetConnections(link: FaultLink): Promise<{ reset: number }> {
  const status = link.status();
  if (status.down) return { reset: 0 };
  await link.down();
  await healOnly(link, { down: true });
  return { reset: status.stats.connections.open };
}

export function linkDetail(link: FaultLink): { link: string; upstream: string } {
  const { host, port } = link.upstream;
  return { link: link.name, upstream: `${host}:${port}` };
}
