/**
 * `capacity`: at most `rateKBps` kilobytes (1 KB = 1000 bytes) per second through the link in this
 * direction, shared by every connection the toxic applies to — where `bandwidth` limits each connection
 * on its own. A link with finite capacity: the more is sent through it, retries included, the longer
 * every connection waits, which is what turns a retry storm into an outage.
 */
import { z } from "zod";
import { HoldingRun, now, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ rateKBps: z.number().positive().max(10_000_000) }).strict();
type Attributes = z.output<typeof attributes>;

/** Pieces of at most this much time on the wire, so connections take turns. */
const PIECE_MS = 20;

/** The virtual wire one configured toxic shares among its connections: when the next piece may go. */
interface Wire {
  nextAt: number;
}

// The link hands every connection the same attributes object of one configured toxic: its wire.
const wires = new WeakMap<Attributes, Wire>();

class CapacityRun extends HoldingRun {
  private readonly wire: Wire;
  private readonly bytesPerMs: number;
  private readonly pieceBytes: number;

  constructor(attrs: Attributes, stub: ToxicStub) {
    super(stub);
    let wire = wires.get(attrs);
    if (!wire) {
      wire = { nextAt: 0 };
      wires.set(attrs, wire);
    }
    this.wire = wire;
    this.bytesPerMs = attrs.rateKBps;
    this.pieceBytes = Math.max(1, Math.floor(this.bytesPerMs * PIECE_MS));
  }

  protected release(): void {
    const t = now();
    for (let chunk = this.queue.peek(); chunk !== undefined; chunk = this.queue.peek()) {
      if (this.wire.nextAt > t) {
        this.wakeAfter(Math.ceil(this.wire.nextAt - t));
        return;
      }
      const size = Math.min(chunk.length, this.pieceBytes);
      if (size < chunk.length) this.queue.replaceHead(chunk.subarray(size));
      else this.queue.shift();
      const piece = size < chunk.length ? chunk.subarray(0, size) : chunk;
      // An idle wire restarts from now: capacity unused in the past is not saved up.
      this.wire.nextAt = Math.max(this.wire.nextAt, t) + piece.length / this.bytesPerMs;
      this.stub.push(piece);
    }
    if (this.queue.ended) {
      this.queue.ended = false;
      this.stub.end();
    }
  }
}

export const capacity: Toxic<typeof attributes> = {
  type: "capacity",
  attributes,
  start: (attrs, stub) => new CapacityRun(attrs, stub),
};
