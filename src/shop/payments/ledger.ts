import { type EventJournal, FileJournal, memoryJournal } from "./journal.ts";
import { type Command, type Outcome, type Payment, PaymentBook } from "./provider.ts";

/**
 * The simulator's payments: the pure book, made durable by the journal, with operations on one order
 * run one at a time. An operation decides against the book, persists its event (fsync), and only then
 * applies it — so the book holds acknowledged state only, and a concurrent retry of the same order
 * waits for the first to finish instead of deciding from a state about to change.
 */
export class PaymentLedger {
  private readonly tails = new Map<string, Promise<void>>();

  private constructor(
    private readonly book: PaymentBook,
    private readonly journal: EventJournal,
  ) {}

  /** A ledger replayed from the journal at `path`, or in memory when there is none. */
  static async open(path: string | undefined, warn: (message: string) => void): Promise<PaymentLedger> {
    const book = new PaymentBook();
    if (!path) return new PaymentLedger(book, memoryJournal);
    const journal = await FileJournal.open(path, { apply: (event) => book.apply(event), warn });
    return new PaymentLedger(book, journal);
  }

  get(orderId: string): Payment | undefined {
    return this.book.get(orderId);
  }

  all(): Payment[] {
    return this.book.all();
  }

  get size(): number {
    return this.book.size;
  }

  /** Why the ledger cannot accept changes, if it cannot (a failed journal write). */
  get failure(): Error | undefined {
    return this.journal.failure;
  }

  /**
   * Runs one command for `orderId`. `command` is built once the order's turn comes, from its current
   * payment, so per-call choices (a provider reference, a decline) are drawn only for a new payment.
   */
  execute(orderId: string, command: (current: Payment | undefined) => Command): Promise<Outcome> {
    return this.serialize(orderId, async () => {
      const decision = this.book.decide(command(this.book.get(orderId)));
      if (decision.kind !== "apply") return decision;
      await this.journal.append(decision.event);
      return { kind: "applied", payment: this.book.apply(decision.event) };
    });
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  private serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
