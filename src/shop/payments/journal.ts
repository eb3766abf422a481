import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { PaymentEvent } from "./provider.ts";

/**
 * Durability for the simulator: every payment event is appended to a JSON-lines file and fsync'ed
 * before the caller hears about it. A real provider never forgets a capture; without a journal the
 * simulator keeps state in memory only, so it forgets everything on a crash or restart — fine for a
 * unit test, wrong for a chaos run (the lab sets `CHAOSCART_PAYMENT_JOURNAL`).
 *
 * Appends that arrive while a write is in flight are written and fsync'ed together (group commit),
 * so concurrent operations share one fsync instead of queueing for one each.
 *
 * On start the file is replayed. A last line without its newline is a write torn by a crash; it was
 * never fsync'ed, so never acknowledged: it is dropped (with a warning) and cut off the file so new
 * lines start clean. Any other unreadable line is corruption, and start-up refuses it.
 */

export interface EventJournal {
  append(event: PaymentEvent): Promise<void>;
  /** Why the journal stopped accepting writes, if it did. */
  readonly failure: Error | undefined;
  close(): Promise<void>;
}

/** No durability: state lives in memory only. */
export const memoryJournal: EventJournal = {
  append: async () => {},
  failure: undefined,
  close: async () => {},
};

const at = z.string().min(1);
const eventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.enum(["authorized", "declined"]),
    orderId: z.string().min(1),
    amount: z.number().int().positive(),
    currency: z.literal("EUR"),
    providerRef: z.string().min(1),
    at,
  }),
  z.object({ type: z.enum(["captured", "voided", "refunded"]), orderId: z.string().min(1), at }),
]);

export class JournalError extends Error {}

export interface ReplayOptions {
  /** Applies one replayed event; throwing refuses the journal (the error names the line). */
  apply(event: PaymentEvent): void;
  warn(message: string): void;
}

interface PendingLine {
  line: string;
  resolve(): void;
  reject(error: Error): void;
}

export class FileJournal implements EventJournal {
  private pending: PendingLine[] = [];
  private flushing: Promise<void> | undefined;
  private broken: Error | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Opens (or creates) the journal at `path`, replaying its events into `options.apply` first. */
  static async open(path: string, options: ReplayOptions): Promise<FileJournal> {
    let content: Buffer | undefined;
    try {
      content = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const validBytes = content ? replay(path, content, options) : 0;

    if (!content) await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, "a");
    try {
      if (content && validBytes < content.length) {
        await handle.truncate(validBytes);
        await handle.sync();
      }
      if (!content) {
        await handle.sync();
        await syncDirectory(dirname(path));
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new FileJournal(path, handle);
  }

  get failure(): Error | undefined {
    return this.broken;
  }

  append(event: PaymentEvent): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error("payment journal is closed"));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line: `${JSON.stringify(event)}\n`, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.handle.close();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await this.handle.appendFile(batch.map((p) => p.line).join(""));
        await this.handle.sync();
      } catch (error) {
        // What reached the disk is unknown: stop writing, so a torn line can only ever be the last.
        this.broken = new Error(`payment journal ${this.path} failed: ${(error as Error).message}`);
        for (const p of [...batch, ...this.pending.splice(0)]) p.reject(this.broken);
        return;
      }
      for (const p of batch) p.resolve();
    }
  }
}

/** Replays every complete line; returns how many bytes of the file are valid. */
function replay(path: string, content: Buffer, options: ReplayOptions): number {
  let start = 0;
  let lineNumber = 0;
  while (start < content.length) {
    lineNumber++;
    const end = content.indexOf(0x0a, start);
    if (end === -1) {
      options.warn(
        `payment journal ${path}: ignoring a truncated last line ${lineNumber} ` +
          `(${content.length - start} bytes, never acknowledged)`,
      );
      return start;
    }
    const text = content.subarray(start, end).toString("utf8");
    if (text.trim() !== "") {
      let event: PaymentEvent;
      try {
        event = eventSchema.parse(JSON.parse(text));
      } catch (error) {
        throw new JournalError(`payment journal ${path}, line ${lineNumber}: unreadable (${summary(error)})`);
      }
      try {
        options.apply(event);
      } catch (error) {
        throw new JournalError(`payment journal ${path}, line ${lineNumber}: ${(error as Error).message}`);
      }
    }
    start = end + 1;
  }
  return start;
}

function summary(error: unknown): string {
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    return `${issue?.path.join(".") || "event"}: ${issue?.message}`;
  }
  return (error as Error).message;
}

/** Makes a new file's directory entry durable, so the journal itself survives a crash. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
