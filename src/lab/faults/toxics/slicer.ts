/**
 * `slicer`: cuts every chunk into slices of `averageSize` ± `sizeVariation` bytes, sent `delayUs` apart
 * (0: back to back, as separate writes). The bytes are unchanged; only their packaging is.
 */
import { z } from "zod";
import { ChunkQueue, now, type Toxic, type ToxicRun, type ToxicStub } from "./toxic.ts";

const attributes = z
  .object({
    averageSize: z
      .number()
      .int()
      .min(1)
      .max(1 << 24),
    sizeVariation: z
      .number()
      .int()
      .min(0)
      .max(1 << 24)
      .default(0),
    delayUs: z.number().int().min(0).max(60_000_000).default(0),
  })
  .strict()
  .refine((a) => a.sizeVariation < a.averageSize, {
    path: ["sizeVariation"],
    message: "must be smaller than averageSize",
  });
type Attributes = z.output<typeof attributes>;

class SlicerRun implements ToxicRun {
  private readonly queue = new ChunkQueue();
  private readonly delayMs: number;
  /** When the next slice may go (virtual clock, restarted from now when idle). */
  private nextAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly attrs: Attributes,
    private readonly stub: ToxicStub,
  ) {
    this.delayMs = attrs.delayUs / 1000;
  }

  get pending(): number {
    return this.queue.bytes;
  }

  write(chunk: Buffer): void {
    if (this.delayMs === 0) {
      for (let rest = chunk; rest.length > 0; ) {
        const size = this.sliceSize(rest.length);
        this.stub.push(rest.subarray(0, size));
        rest = rest.subarray(size);
      }
      return;
    }
    if (this.queue.size === 0 && !this.queue.ended) this.nextAt = Math.max(this.nextAt, now());
    this.queue.push(chunk);
    if (this.timer === undefined) this.pump();
  }

  end(): void {
    this.queue.ended = true;
    if (this.timer === undefined) this.pump();
  }

  flush(): void {
    this.stop();
    this.queue.drainTo(this.stub);
  }

  destroy(): void {
    this.stop();
    this.queue.clear();
  }

  private sliceSize(available: number): number {
    const { averageSize, sizeVariation } = this.attrs;
    const variation =
      sizeVariation > 0 ? Math.floor(Math.random() * (2 * sizeVariation + 1)) - sizeVariation : 0;
    return Math.min(available, Math.max(1, averageSize + variation));
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    const t = now();
    for (let chunk = this.queue.peek(); chunk !== undefined; chunk = this.queue.peek()) {
      if (this.nextAt > t) {
        this.timer = setTimeout(this.pump, Math.ceil(this.nextAt - t));
        return;
      }
      const size = this.sliceSize(chunk.length);
      if (size < chunk.length) this.queue.replaceHead(chunk.subarray(size));
      else this.queue.shift();
      this.nextAt += this.delayMs;
      this.stub.push(chunk.subarray(0, size));
    }
    if (this.queue.ended) {
      this.queue.ended = false;
      this.stub.end();
    }
  };

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const slicer: Toxic<typeof attributes> = {
  type: "slicer",
  attributes,
  start: (attrs, stub) => new SlicerRun(attrs, stub),
};
