/**
 * `slicer`: cuts every chunk into slices of `averageSize` ± `sizeVariation` bytes, sent `delayUs` apart
 * (0: back to back, as separate writes). The bytes are unchanged; only their packaging is.
 */
import { z } from "zod";
import { PacedRun, type Toxic, type ToxicStub } from "./toxic.ts";

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

class SlicerRun extends PacedRun {
  private readonly delayMs: number;

  constructor(
    private readonly attrs: Attributes,
    stub: ToxicStub,
  ) {
    super(stub);
    this.delayMs = attrs.delayUs / 1000;
  }

  override write(chunk: Buffer): void {
    if (this.delayMs > 0) {
      super.write(chunk);
      return;
    }
    // No delay: slices go back to back, nothing is held.
    for (let rest = chunk; rest.length > 0; ) {
      const size = this.pieceSize(rest);
      this.stub.push(rest.subarray(0, size));
      rest = rest.subarray(size);
    }
  }

  protected pieceSize(chunk: Buffer): number {
    const { averageSize, sizeVariation } = this.attrs;
    const variation =
      sizeVariation > 0 ? Math.floor(Math.random() * (2 * sizeVariation + 1)) - sizeVariation : 0;
    return Math.min(chunk.length, Math.max(1, averageSize + variation));
  }

  protected spacingMs(): number {
    return this.delayMs;
  }
}

export const slicer: Toxic<typeof attributes> = {
  type: "slicer",
  attributes,
  start: (attrs, stub) => new SlicerRun(attrs, stub),
};
