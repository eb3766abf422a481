/** `bandwidth`: at most `rateKBps` kilobytes (1 KB = 1000 bytes, as in Toxiproxy) per second. */
import { z } from "zod";
import { ChunkQueue, now, type Toxic, type ToxicRun, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ rateKBps: z.number().positive().max(10_000_000) }).strict();
type Attributes = z.output<typeof attributes>;

/** Chunks go out in pieces of at most this much time on the wire, so a slow link trickles evenly. */
const PIECE_MS = 20;

/**
 * A virtual wire: the next piece may go when the previous one has finished "transmitting" (`busyUntil`).
 * The clock is virtual so late timers do not lose throughput; it restarts from now when the wire is idle.
 */
class BandwidthRun implements ToxicRun {
  private readonly queue = new ChunkQueue();
  private readonly bytesPerMs: number;
  private readonly pieceBytes: number;
  private busyUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    attrs: Attributes,
    private readonly stub: ToxicStub,
  ) {
    this.bytesPerMs = attrs.rateKBps;
    this.pieceBytes = Math.max(1, Math.floor(this.bytesPerMs * PIECE_MS));
  }

  get pending(): number {
    return this.queue.bytes;
  }

  write(chunk: Buffer): void {
    if (this.queue.size === 0 && !this.queue.ended) this.busyUntil = Math.max(this.busyUntil, now());
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

  private readonly pump = (): void => {
    this.timer = undefined;
    const t = now();
    for (let chunk = this.queue.peek(); chunk !== undefined; chunk = this.queue.peek()) {
      if (this.busyUntil > t) {
        this.timer = setTimeout(this.pump, Math.ceil(this.busyUntil - t));
        return;
      }
      let piece = chunk;
      if (chunk.length > this.pieceBytes) {
        piece = chunk.subarray(0, this.pieceBytes);
        this.queue.replaceHead(chunk.subarray(this.pieceBytes));
      } else {
        this.queue.shift();
      }
      this.busyUntil += piece.length / this.bytesPerMs;
      this.stub.push(piece);
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

export const bandwidth: Toxic<typeof attributes> = {
  type: "bandwidth",
  attributes,
  start: (attrs, stub) => new BandwidthRun(attrs, stub),
};
