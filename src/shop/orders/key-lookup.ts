/**
 * Which idempotency keys have an order, for the sold-out gate, coalesced: the keys asked for in one
 * turn of the event loop, and those that arrive while a read is out, are looked up in one statement.
 * A burst of gated buyers then costs a few index reads, not one read (and one pool slot) each.
 */
export class KeyLookup {
  private queue: { key: string; resolve(found: boolean): void; reject(error: unknown): void }[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    /** The keys of `keys` that have an order. */
    private readonly load: (keys: string[]) => Promise<Set<string>>,
    private readonly batchMax = 500,
  ) {}

  has(key: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (this.inFlight || this.scheduled) return; // the read in flight flushes this one when it ends
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    });
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.batchMax);
    this.inFlight = this.load([...new Set(batch.map((waiter) => waiter.key))])
      .then(
        (found) => {
          for (const waiter of batch) waiter.resolve(found.has(waiter.key));
        },
        (error: unknown) => {
          for (const waiter of batch) waiter.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        this.flush();
      });
  }
}
