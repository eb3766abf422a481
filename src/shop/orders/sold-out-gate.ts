/**
 * The order service's memory of sold-out SKUs (README "The sold-out gate"): what lets it answer a
 * buyer of a sold-out SKU `409 sold_out` without writing an order. Pure state, no I/O, no timers:
 * the caller feeds it the inventory's answers and the moments stock comes back, and passes the
 * clock (monotonic milliseconds).
 *
 * The staleness it promises: a SKU is gated at `t` only if the inventory said "none left" at some
 * moment after `t - ttlMs` (a mark counts from when its reserve or poll was *sent*, before the
 * inventory read anything). A gate is opened at once by a return this process sees (its own
 * release) or by a poll that finds stock; the TTL bounds it when neither comes (poll failing).
 */

/**
 * Whether a reserve refusal says the SKU had nothing left: `sold_out` (the inventory's own flag, set
 * when a batch left 0), or too little for a single unit. "Too little for 3" says nothing of 1.
 */
export function meansSoldOut(reason: string, qty: number): boolean {
  return reason === "sold_out" || (reason === "insufficient_stock" && qty === 1);
}

export interface SoldOutGateOptions {
  /** How long one "none left" from the inventory keeps a SKU gated, counted from its request's send. */
  ttlMs: number;
  /**
   * Built-in bug "sticky-sold-out-gate" (lab regression guard): a gated SKU never opens again (no
   * return, poll or TTL opens it).
   */
  sticky?: boolean;
}

/** Taken just before a reserve call for `sku` is sent; handed back with its answer. */
export interface ReserveTicket {
  readonly sku: string;
  readonly returns: number;
  readonly sentAt: number;
}

/**
 * Per SKU, while a reserve for it is in flight or it is gated; dropped otherwise, so the gate's
 * memory is bounded by the SKUs in use, not by every SKU ever asked for.
 */
interface SkuState {
  /** Reserve calls sent and not answered yet. */
  pending: number;
  /** Gated until then (0: open). */
  gatedUntil: number;
  /**
   * Bumped whenever stock is seen to come back: a "sold out" from a call sent before that may have
   * been decided before the return, and must not close the gate after it.
   */
  returns: number;
}

export class SoldOutGate {
  private readonly skus = new Map<string, SkuState>();

  constructor(private readonly options: SoldOutGateOptions) {}

  /** Before a reserve call for `sku` is sent. Every ticket must be handed back to `answered`. */
  reserving(sku: string, now: number): ReserveTicket {
    let state = this.skus.get(sku);
    if (!state) {
      state = { pending: 0, gatedUntil: 0, returns: 0 };
      this.skus.set(sku, state);
    }
    state.pending++;
    return { sku, returns: state.returns, sentAt: now };
  }

  /**
   * The reserve's answer arrived (or it failed: `soldOut` false). A "sold out" gates the SKU unless
   * stock was seen coming back since the call was sent.
   */
  answered(ticket: ReserveTicket, soldOut: boolean, now: number): void {
    const state = this.skus.get(ticket.sku);
    if (!state) return;
    state.pending--;
    if (soldOut && state.returns === ticket.returns) {
      state.gatedUntil = Math.max(state.gatedUntil, this.expiry(ticket.sentAt));
    }
    this.dropIfIdle(ticket.sku, state, now);
  }

  /** Stock of these SKUs came back (a release this process made, a poll that found some): open. */
  returned(skus: Iterable<string>): void {
    if (this.options.sticky) return;
    for (const sku of skus) {
      const state = this.skus.get(sku);
      if (!state) continue;
      state.returns++;
      state.gatedUntil = 0;
      if (state.pending === 0) this.skus.delete(sku);
    }
  }

  /**
   * A poll sent at `sentAt` read "none left" for these SKUs: those still gated stay gated a TTL from
   * the poll's send. It never gates a SKU that is open: a return may have opened it after the read.
   */
  confirmed(skus: Iterable<string>, sentAt: number): void {
    for (const sku of skus) {
      const state = this.skus.get(sku);
      if (state && state.gatedUntil > sentAt)
        state.gatedUntil = Math.max(state.gatedUntil, this.expiry(sentAt));
    }
  }

  /** The first of these SKUs that is gated at `now`, if any. */
  gated(skus: Iterable<string>, now: number): string | undefined {
    for (const sku of skus) {
      const state = this.skus.get(sku);
      if (!state) continue;
      if (state.gatedUntil > now) return sku;
      this.dropIfIdle(sku, state, now);
    }
    return undefined;
  }

  /** Every SKU gated at `now` (what a poll asks about); forgets the expired ones. */
  gatedSkus(now: number): string[] {
    const gated: string[] = [];
    for (const [sku, state] of this.skus) {
      if (state.gatedUntil > now) gated.push(sku);
      else this.dropIfIdle(sku, state, now);
    }
    return gated;
  }

  /** SKUs with state kept (in flight or gated): the gate's memory. */
  get size(): number {
    return this.skus.size;
  }

  private expiry(from: number): number {
    return this.options.sticky ? Number.POSITIVE_INFINITY : from + this.options.ttlMs;
  }

  private dropIfIdle(sku: string, state: SkuState, now: number): void {
    if (state.pending === 0 && state.gatedUntil <= now) this.skus.delete(sku);
  }
}
