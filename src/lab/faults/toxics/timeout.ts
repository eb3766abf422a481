/**
 * `timeout`: the connection stalls — nothing passes in this direction — and after `timeoutMs` it is closed;
 * with 0 it stalls until the toxic is removed. Unlike Toxiproxy (which drops what arrives meanwhile) the
 * stalled bytes are held, with backpressure on the sender, and delivered in order when the toxic is removed:
 * removing a toxic never drops data. On the close, what is held is discarded.
 */
import { z } from "zod";
import { HoldingRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ timeoutMs: z.number().int().min(0).max(3_600_000).default(0) }).strict();
type Attributes = z.output<typeof attributes>;

class TimeoutRun extends HoldingRun {
  private closed = false;

  constructor(attrs: Attributes, stub: ToxicStub) {
    super(stub);
    if (attrs.timeoutMs > 0) this.wakeAfter(attrs.timeoutMs, this.expire);
  }

  /** Nothing goes while the toxic is in place; once closed, what arrives is discarded. */
  protected release(): void {
    if (this.closed) this.queue.clear();
  }

  private readonly expire = (): void => {
    this.closed = true;
    this.queue.clear();
    this.stub.close();
  };
}

export const timeout: Toxic<typeof attributes> = {
  type: "timeout",
  attributes,
  start: (attrs, stub) => new TimeoutRun(attrs, stub),
};
