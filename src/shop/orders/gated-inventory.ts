import type { InventoryClient, ReserveResult, SettleResult } from "../inventory/client.ts";
import { meansSoldOut, type SoldOutGate } from "./sold-out-gate.ts";

/** What the saga needs of the inventory. */
export type InventoryPort = Pick<InventoryClient, "reserve" | "commit" | "release">;

/**
 * The inventory as the saga sees it, teaching the sold-out gate on the way: every reserve's answer
 * (a "sold out" gates its SKU, unless stock came back while the call was out), every release that
 * put stock back (opens its SKUs at once). The saga itself knows nothing of the gate.
 */
export class GatedInventory implements InventoryPort {
  constructor(
    private readonly inventory: InventoryPort,
    private readonly gate: SoldOutGate,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async reserve(orderId: string, sku: string, qty: number, requestId?: string): Promise<ReserveResult> {
    const ticket = this.gate.reserving(sku, this.now());
    let soldOut = false;
    try {
      const result = await this.inventory.reserve(orderId, sku, qty, requestId);
      soldOut = result.kind === "rejected" && meansSoldOut(result.reason, qty);
      return result;
    } finally {
      this.gate.answered(ticket, soldOut, this.now());
    }
  }

  commit(orderId: string, requestId?: string): Promise<SettleResult> {
    return this.inventory.commit(orderId, requestId);
  }

  async release(orderId: string, requestId?: string): Promise<SettleResult> {
    const result = await this.inventory.release(orderId, requestId);
    if (result.kind === "done" && result.returned?.length) this.gate.returned(result.returned);
    return result;
  }
}
