/**
 * The toxic contract, after Toxiproxy's `toxics/toxic.go`: a toxic is configured once (its attributes,
 * validated by its zod schema) and started once per connection and direction; the per-connection state
 * lives in the returned run, and the plumbing (next stage, the sockets) lives in the stub the link hands
 * it. Whether a toxic applies to a connection at all (toxicity) is decided by the link, never here.
 */
import type { z } from "zod";

/** The plumbing a toxic sees: Toxiproxy's stub, reduced to what a toxic may do to its connection. */
export interface ToxicStub {
  /** Passes a chunk on to the next stage (the next toxic, or the destination socket), in order. */
  push(chunk: Buffer): void;
  /** Passes end-of-stream (the sender's FIN) on to the next stage, after every chunk pushed before it. */
  end(): void;
  /**
   * Closes the connection: end-of-stream goes down the rest of the chain from here (what later stages
   * hold is still delivered), then both sockets are closed (FIN). Input after this is discarded.
   */
  close(): void;
  /** Resets the connection now: both sockets get an RST. */
  reset(): void;
}

/** One toxic running on one connection in one direction. */
export interface ToxicRun {
  /** A chunk from the previous stage. */
  write(chunk: Buffer): void;
  /** The previous stage ended (FIN). */
  end(): void;
  /** Bytes held inside; the link stops reading the sender while the chain holds too much. */
  readonly pending: number;
  /**
   * The toxic is being removed: hand everything held (chunks, then a held end) to the stub in order, now,
   * and stop every timer. Removing a toxic never drops data.
   */
  flush(): void;
  /** The connection is gone: stop every timer and let go of what is held. */
  destroy(): void;
}

export interface Toxic<S extends z.ZodType = z.ZodType> {
  /** The type name in specs (`latency`, `reset_peer`, ...). */
  readonly type: string;
  /** The attributes' schema; what it outputs is what `start` gets. */
  readonly attributes: S;
  start(attributes: z.output<S>, stub: ToxicStub): ToxicRun;
}

/** A toxic that changes nothing on its own; the simple toxics override what they need. */
export class PassThroughRun implements ToxicRun {
  pending = 0;
  constructor(protected readonly stub: ToxicStub) {}
  write(chunk: Buffer): void {
    this.stub.push(chunk);
  }
  end(): void {
    this.stub.end();
  }
  flush(): void {}
  destroy(): void {}
}

/**
 * A toxic that holds what it is given and lets it out by its own rule (Toxiproxy's `Pipe` loop, as
 * callbacks): the held chunks and end, one timer, and the flush/destroy every such toxic needs. A
 * subclass only says what `release` lets out now, and when to wake up for the rest (`wakeAfter`).
 */
export abstract class HoldingRun implements ToxicRun {
  protected readonly queue = new ChunkQueue();
  private timer: NodeJS.Timeout | undefined;

  constructor(protected readonly stub: ToxicStub) {}

  get pending(): number {
    return this.queue.bytes;
  }

  write(chunk: Buffer): void {
    this.queue.push(chunk);
    if (this.timer === undefined) this.release();
  }

  end(): void {
    this.queue.ended = true;
    if (this.timer === undefined) this.release();
  }

  flush(): void {
    this.stopTimer();
    this.queue.drainTo(this.stub);
  }

  destroy(): void {
    this.stopTimer();
    this.queue.clear();
  }

  /** Hands the stub what the rule lets out now; not called while a wake-up is due. */
  protected abstract release(): void;

  /** Runs `then` (default: `release`) after `ms`: the one wake-up, until it fires or the run ends. */
  protected wakeAfter(ms: number, then: () => void = () => this.release()): void {
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      then();
    }, ms);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * A toxic that lets chunks out in pieces, each after the previous one's spacing, on a virtual clock
 * (`nextAt`) so that late timers lose no throughput; the clock restarts from now when the run is idle.
 * The end goes once everything before it has.
 */
export abstract class PacedRun extends HoldingRun {
  /** When the next piece may go. */
  private nextAt = 0;

  /** How many bytes of `chunk` (its length at most) go out as the next piece. */
  protected abstract pieceSize(chunk: Buffer): number;
  /** How long after `piece` the next one may go, in ms. */
  protected abstract spacingMs(piece: Buffer): number;

  override write(chunk: Buffer): void {
    if (this.queue.size === 0 && !this.queue.ended) this.nextAt = Math.max(this.nextAt, now());
    super.write(chunk);
  }

  protected release(): void {
    const t = now();
    for (let chunk = this.queue.peek(); chunk !== undefined; chunk = this.queue.peek()) {
      if (this.nextAt > t) {
        this.wakeAfter(Math.ceil(this.nextAt - t));
        return;
      }
      const size = this.pieceSize(chunk);
      if (size < chunk.length) this.queue.replaceHead(chunk.subarray(size));
      else this.queue.shift();
      const piece = size < chunk.length ? chunk.subarray(0, size) : chunk;
      this.nextAt += this.spacingMs(piece);
      this.stub.push(piece);
    }
    if (this.queue.ended) {
      this.queue.ended = false;
      this.stub.end();
    }
  }
}

/** A FIFO of held chunks and at most one held end, counting the bytes it holds. */
export class ChunkQueue {
  private items: Buffer[] = [];
  private head = 0;
  bytes = 0;
  ended = false;

  get size(): number {
    return this.items.length - this.head;
  }

  push(chunk: Buffer): void {
    this.items.push(chunk);
    this.bytes += chunk.length;
  }

  peek(): Buffer | undefined {
    return this.items[this.head];
  }

  shift(): Buffer | undefined {
    const chunk = this.items[this.head];
    if (chunk === undefined) return undefined;
    this.items[this.head] = EMPTY;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.bytes -= chunk.length;
    return chunk;
  }

  /** Replaces the head with its unsent remainder (a toxic that sends a chunk in pieces). */
  replaceHead(rest: Buffer): void {
    const chunk = this.items[this.head];
    if (chunk === undefined) return;
    this.bytes -= chunk.length - rest.length;
    this.items[this.head] = rest;
  }

  /** Pushes every held chunk, then the held end, to the stub. */
  drainTo(stub: ToxicStub): void {
    for (let chunk = this.shift(); chunk !== undefined; chunk = this.shift()) stub.push(chunk);
    if (this.ended) {
      this.ended = false;
      stub.end();
    }
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.ended = false;
  }
}

const EMPTY = Buffer.alloc(0);

/** Milliseconds on a monotonic clock. */
export const now = (): number => performance.now();
