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
