/** `bandwidth`: at most `rateKBps` kilobytes (1 KB = 1000 bytes, as in Toxiproxy) per second. */
import { z } from "zod";
import { PacedRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ rateKBps: z.number().positive().max(10_000_000) }).strict();
type Attributes = z.output<typeof attributes>;

/** Chunks go out in pieces of at most this much time on the wire, so a slow link trickles evenly. */
const PIECE_MS = 20;

/** A virtual wire: the next piece may go when the previous one has finished "transmitting". */
class BandwidthRun extends PacedRun {
  private readonly bytesPerMs: number;
  private readonly pieceBytes: number;

  constructor(attrs: Attributes, stub: ToxicStub) {
    super(stub);
    this.bytesPerMs = attrs.rateKBps;
    this.pieceBytes = Math.max(1, Math.floor(this.bytesPerMs * PIECE_MS));
  }

  protected pieceSize(chunk: Buffer): number {
    return Math.min(chunk.length, this.pieceBytes);
  }

  protected spacingMs(piece: Buffer): number {
    return piece.length / this.bytesPerMs;
  }
}

export const bandwidth: Toxic<typeof attributes> = {
  type: "bandwidth",
  attributes,
  start: (attrs, stub) => new BandwidthRun(attrs, stub),
};
