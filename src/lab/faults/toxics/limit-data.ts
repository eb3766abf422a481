/** `limit_data`: passes the first `bytes` bytes (counted from when the toxic starts), then closes the connection. */
import { z } from "zod";
import { PassThroughRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();
type Attributes = z.output<typeof attributes>;

class LimitDataRun extends PassThroughRun {
  private remaining: number;
  private closed = false;

  constructor(attrs: Attributes, stub: ToxicStub) {
    super(stub);
    this.remaining = attrs.bytes;
  }

  override write(chunk: Buffer): void {
    if (this.closed) return;
    if (chunk.length < this.remaining) {
      this.remaining -= chunk.length;
      this.stub.push(chunk);
      return;
    }
    const last = chunk.subarray(0, this.remaining);
    this.remaining = 0;
    this.closed = true;
    if (last.length > 0) this.stub.push(last);
    this.stub.close();
  }

  override end(): void {
    if (!this.closed) this.stub.end();
  }
}

export const limitData: Toxic<typeof attributes> = {
  type: "limit_data",
  attributes,
  start: (attrs, stub) => new LimitDataRun(attrs, stub),
};
