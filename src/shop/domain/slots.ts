/**
 * Units (docs/architecture.md §Regions): users hash into a fixed number of slots, and each slot has
 * one home region at a time. Pure, so every process (gateway, order service, lab) computes a user's
 * slot the same way.
 */

export const DEFAULT_SLOT_COUNT = 1024;

const utf8 = new TextEncoder();

/**
 * FNV-1a, 32-bit, over the UTF-8 bytes of `text`: stable across processes, versions and languages,
 * so the lab (or any other client) can compute a user's slot the same way.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function slotOf(userId: string, slotCount: number = DEFAULT_SLOT_COUNT): number {
  return fnv1a32(userId) % slotCount;
}
