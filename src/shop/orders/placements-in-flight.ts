/**
 * Idempotency keys whose order this process is placing right now, for the sold-out gate: a gated
 * request must not be told `sold_out` when its key's order exists or is about to. Its read by key
 * sees committed orders only; this covers the placements still under way in this process — one
 * that started before the read (`has`) or while it was out (`watch(...).overtaken`).
 */
export class PlacementsInFlight {
  private readonly placing = new Map<string, number>();
  private readonly watchers = new Map<string, Set<{ overtaken: boolean }>>();

  /** A placement of `key` starts; call the returned function once it is stored (or failed). */
  start(key: string): () => void {
    this.placing.set(key, (this.placing.get(key) ?? 0) + 1);
    for (const watcher of this.watchers.get(key) ?? []) watcher.overtaken = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.placing.get(key) ?? 1) - 1;
      if (left > 0) this.placing.set(key, left);
      else this.placing.delete(key);
    };
  }

  has(key: string): boolean {
    return this.placing.has(key);
  }

  /** Watch `key` while reading it: `overtaken` turns true if a placement of it starts meanwhile. */
  watch(key: string): { readonly overtaken: boolean; stop(): void } {
    const watcher = { overtaken: false };
    let set = this.watchers.get(key);
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(watcher);
    const watchers = this.watchers;
    return {
      get overtaken() {
        return watcher.overtaken;
      },
      stop() {
        set.delete(watcher);
        if (set.size === 0 && watchers.get(key) === set) watchers.delete(key);
      },
    };
  }

  /** Keys with state kept (placing or watched): bounded by the requests in flight. */
  get size(): number {
    return this.placing.size + this.watchers.size;
  }
}
