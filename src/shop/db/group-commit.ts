/**
 * Group commit: callers submit one item each and the items reach the database in batches, one
 * statement and one commit per batch (issue "flash-sale speed" §3; the inventory's lanes do the same
 * per SKU). A commit's cost is mostly fixed (a round trip, executor start, a WAL flush and the
 * synchronous standby's confirmation), so sharing it among many callers is where the saving is.
 *
 * Batching never makes a caller wait for company: while fewer than `maxInFlight` batches are in
 * flight an item is sent at once, alone. Only when that many are already out do items queue, and
 * the queue leaves as one batch (up to `maxBatch` items) the moment one in flight ends: the window
 * adapts to the database's own commit latency. Two items with the same key are never in flight
 * together (the later one waits for the batch carrying the first to end): one statement never
 * changes the same row twice, and two batches never wait on each other's row locks (which, taken in
 * opposite orders, would deadlock).
 *
 * `send` answers one result per item, in order; when it fails, every item of its batch fails with
 * the same error (the caller cannot tell which of them committed, exactly as with one statement).
 */

export interface GroupCommitOptions<Item, Result> {
  maxInFlight: number;
  maxBatch: number;
  key(item: Item): string;
  send(items: Item[]): Promise<Result[]>;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export class GroupCommit<Item, Result> {
  private readonly queue: Waiting<Item, Result>[] = [];
  private inFlight = 0;
  /** Keys of the items in flight. */
  private readonly busy = new Set<string>();
  /** Batches sent, and items in them (for the batch-size metric). */
  readonly sent = { batches: 0, items: 0 };

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1)
      throw new RangeError(`maxInFlight: expected an integer ≥ 1 (got ${options.maxInFlight})`);
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1)
      throw new RangeError(`maxBatch: expected an integer ≥ 1 (got ${options.maxBatch})`);
  }

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.inFlight < this.options.maxInFlight) this.flush();
    });
  }

  /** Items waiting for a batch to end. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Sends a batch of what is waiting; false when nothing could go (every waiting key is in flight). */
  private flush(): boolean {
    const batch = this.takeBatch();
    if (batch.length === 0) return false;
    const keys = batch.map((w) => this.options.key(w.item));
    for (const key of keys) this.busy.add(key);
    this.inFlight += 1;
    this.sent.batches += 1;
    this.sent.items += batch.length;
    let sending: Promise<Result[]>;
    try {
      sending = this.options.send(batch.map((w) => w.item));
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending
      .then(
        (results) => {
          if (results.length !== batch.length)
            throw new Error(`group commit: ${results.length} results for ${batch.length} items`);
          batch.forEach((w, i) => {
            w.resolve(results[i] as Result);
          });
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      )
      .catch((error: unknown) => {
        for (const w of batch) w.reject(error);
      })
      .finally(() => {
        this.inFlight -= 1;
        for (const key of keys) this.busy.delete(key);
        while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight && this.flush()) {}
      });
    return true;
  }

  /** Up to maxBatch waiting items, oldest first, at most one per key, none whose key is in flight. */
  private takeBatch(): Waiting<Item, Result>[] {
    const batch: Waiting<Item, Result>[] = [];
    const keys = new Set<string>(this.busy);
    for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch; ) {
      const waiting = this.queue[i] as Waiting<Item, Result>;
      const key = this.options.key(waiting.item);
      if (keys.has(key)) {
        i += 1;
        continue;
      }
      keys.add(key);
      batch.push(waiting);
      this.queue.splice(i, 1);
    }
    return batch;
  }
}
