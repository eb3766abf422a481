/**
 * `timeout`: the connection stalls — nothing passes in this direction — and after `timeoutMs` it is closed;
 * with 0 it stalls until the toxic is removed. Unlike Toxiproxy (which drops what arrives meanwhile) the
 * stalled bytes are held, with backpressure on the sender, and delivered in order when the toxic is removed:
 * removing a toxic never drops data. On the close, what is held is discarded.
 */
import { z } from "zod";
import { ChunkQueue, type Toxic, type ToxicRun, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ timeoutMs: z.number().int().min(0).max(3_600_000).default(0) }).strict();
type Attributes = z.output<typeof attributes>;

class TimeoutRun implements ToxicRun {
  private readonly queue = new ChunkQueue();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    attrs: Attributes,
    private readonly stub: ToxicStub,
  ) {
    if (attrs.timeoutMs > 0) this.timer = setTimeout(this.expire, attrs.timeoutMs);
  }

  get pending(): number {
    return this.queue.bytes;
  }

  write(chunk: Buffer): void {
    if (!this.closed) this.queue.push(chunk);
  }

  end(): void {
    if (!this.closed) this.queue.ended = true;
  }

  flush(): void {
    this.stop();
    if (!this.closed) this.queue.drainTo(this.stub);
  }

  destroy(): void {
    this.stop();
    this.queue.clear();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.closed = true;
    this.queue.clear();
    this.stub.close();
  };

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const timeout: Toxic<typeof attributes> = {
  type: "timeout",
  attributes,
  start: (attrs, stub) => new TimeoutRun(attrs, stub),
};
