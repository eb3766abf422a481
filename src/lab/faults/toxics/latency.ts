/** `latency`: every chunk (and the FIN) arrives `latencyMs` ± `jitterMs` later, in order. */
import { z } from "zod";
import { now, type Toxic, type ToxicRun, type ToxicStub } from "./toxic.ts";

const attributes = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    jitterMs: z.number().int().min(0).max(600_000).default(0),
  })
  .strict();
type Attributes = z.output<typeof attributes>;

/** A held chunk (or the FIN, `null`) and when it is due. */
interface Due {
  chunk: Buffer | null;
  at: number;
}

/**
 * A delay line, not Toxiproxy's sleep-per-chunk loop: each chunk is due at its arrival time plus the
 * delay, so pipelined chunks are not delayed one after another. Jitter never reorders: a chunk is never
 * due before the one ahead of it (TCP would not deliver it earlier either).
 */
class LatencyRun implements ToxicRun {
  private queue: Due[] = [];
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  pending = 0;

  constructor(
    private readonly attributes: Attributes,
    private readonly stub: ToxicStub,
  ) {}

  write(chunk: Buffer): void {
    this.pending += chunk.length;
    this.enqueue(chunk);
  }

  end(): void {
    this.enqueue(null);
  }

  flush(): void {
    this.stop();
    const queue = this.queue;
    this.queue = [];
    this.pending = 0;
    for (const { chunk } of queue) this.deliver(chunk);
  }

  destroy(): void {
    this.stop();
    this.queue = [];
    this.pending = 0;
  }

  private enqueue(chunk: Buffer | null): void {
    const { latencyMs, jitterMs } = this.attributes;
    const delay = Math.max(0, latencyMs + (jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0));
    const at = Math.max(now() + delay, this.lastAt);
    this.lastAt = at;
    this.queue.push({ chunk, at });
    if (this.timer === undefined && this.queue.length === 1) this.arm(at);
  }

  private arm(at: number): void {
    // Node's timers may fire up to 1 ms before a fractional deadline; `fire` re-arms until it is really due.
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(at - now())));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const t = now();
    let due = 0;
    while (due < this.queue.length && (this.queue[due] as Due).at <= t) due += 1;
    const ready = this.queue.slice(0, due);
    this.queue = due === this.queue.length ? [] : this.queue.slice(due);
    for (const { chunk } of ready) {
      if (chunk) this.pending -= chunk.length;
      this.deliver(chunk);
    }
    const next = this.queue[0];
    if (next && this.timer === undefined) this.arm(next.at);
  };

  private deliver(chunk: Buffer | null): void {
    if (chunk) this.stub.push(chunk);
    else this.stub.end();
  }

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const latency: Toxic<typeof attributes> = {
  type: "latency",
  attributes,
  start: (attrs, stub) => new LatencyRun(attrs, stub),
};
