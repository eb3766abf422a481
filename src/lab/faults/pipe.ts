/**
 * One direction of a proxied connection: bytes read from `source` are written to `dest`, through the
 * chain of toxics active on this connection for this direction.
 *
 * Fast path: with no toxic the data handler writes each chunk straight to the destination socket (what
 * `socket.pipe` does: no copy, no timer, backpressure by pausing the source until `drain`). With toxics,
 * chunks go through the chain (a linked list of stages, in the order the toxics were added). Adding or
 * removing a toxic happens between two chunks on the single JS thread, and a removed toxic hands what it
 * holds to the next stage first, so switching paths never loses or reorders a byte.
 */
import type { Socket } from "node:net";
import type { Direction } from "./spec.ts";
import type { Toxic, ToxicRun, ToxicStub } from "./toxics/index.ts";

/** Bytes the chain may hold before the source is paused (backpressure reaches the sender's TCP window). */
const HIGH_WATER = 1 << 20;

export interface DirectionCounters {
  /** Read from the sender. */
  bytesRead: number;
  /** Written to the receiver. */
  bytesWritten: number;
  /** Discarded: blackholed by a partition, or read after a toxic closed the connection. */
  bytesDropped: number;
}

/** What a pipe may do to its connection as a whole. */
export interface PipeOwner {
  /** Graceful close of both sockets (FIN). */
  close(): void;
  /** RST on both sockets. */
  reset(): void;
}

class Stage {
  next: Stage | undefined;
  readonly run: ToxicRun;

  constructor(
    readonly id: string,
    pipe: Pipe,
    toxic: Toxic,
    attributes: unknown,
  ) {
    this.run = toxic.start(attributes, pipe.stubFor(this));
  }
}

export class Pipe {
  private first: Stage | undefined;
  private last: Stage | undefined;
  private paused = false;
  private started = false;
  private dead = false;
  /** A toxic closed the connection: input is discarded; when the end reaches the sink, both sockets close. */
  private closing = false;
  private sinkEnded = false;
  /** Partitioned: whatever reaches the destination is dropped (blackhole). */
  private blackholed = false;
  /** Something was lost while blackholed (bytes, the FIN, or the sender's failure). */
  hole = false;

  constructor(
    readonly direction: Direction,
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly owner: PipeOwner,
    private readonly counters: DirectionCounters,
  ) {}

  /** Starts moving bytes (once both sockets are connected). */
  start(): void {
    if (this.started || this.dead) return;
    this.started = true;
    this.source.on("data", this.onData);
    this.source.on("end", this.onEnd);
    this.dest.on("drain", this.onDrain);
    if (!this.paused) this.source.resume();
  }

  get isBlackholed(): boolean {
    return this.blackholed;
  }

  setBlackholed(on: boolean): void {
    this.blackholed = on;
  }

  addToxic(id: string, toxic: Toxic, attributes: unknown): void {
    if (this.dead) return;
    const stage = new Stage(id, this, toxic, attributes);
    if (this.last) this.last.next = stage;
    else this.first = stage;
    this.last = stage;
  }

  removeToxic(id: string): void {
    let previous: Stage | undefined;
    let stage = this.first;
    while (stage && stage.id !== id) {
      previous = stage;
      stage = stage.next;
    }
    if (!stage) return;
    if (previous) previous.next = stage.next;
    else this.first = stage.next;
    if (this.last === stage) this.last = previous;
    // Unlinked first so new chunks skip it; it still pushes to `stage.next`, so what it holds goes ahead of them.
    stage.run.flush();
    this.maybeResume();
  }

  /** The connection is gone: stop every toxic, deliver nothing more. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    for (let stage = this.first; stage; stage = stage.next) stage.run.destroy();
    this.first = undefined;
    this.last = undefined;
  }

  /** @internal The stub through which one stage's toxic reaches the rest of the chain. */
  stubFor(stage: Stage): ToxicStub {
    return {
      push: (chunk) => {
        if (this.dead) return;
        if (stage.next) stage.next.run.write(chunk);
        else this.deliver(chunk);
      },
      end: () => {
        if (this.dead) return;
        if (stage.next) stage.next.run.end();
        else this.sinkEnd();
      },
      close: () => {
        if (this.dead || this.closing) return;
        this.closing = true;
        if (stage.next) stage.next.run.end();
        else this.sinkEnd();
      },
      reset: () => {
        if (!this.dead) this.owner.reset();
      },
    };
  }

  private readonly onData = (chunk: Buffer): void => {
    this.counters.bytesRead += chunk.length;
    const first = this.first;
    if (first === undefined) {
      this.deliver(chunk);
      return;
    }
    if (this.closing || this.dead) {
      this.counters.bytesDropped += chunk.length;
      return;
    }
    first.run.write(chunk);
    if (!this.paused && this.held() > HIGH_WATER) this.pause();
  };

  private readonly onEnd = (): void => {
    if (this.dead || this.closing) return;
    if (this.first) this.first.run.end();
    else this.sinkEnd();
  };

  private readonly onDrain = (): void => {
    this.maybeResume();
  };

  private deliver(chunk: Buffer): void {
    if (this.blackholed || this.dead || this.sinkEnded || this.dest.destroyed) {
      this.counters.bytesDropped += chunk.length;
      if (this.blackholed) this.hole = true;
      return;
    }
    this.counters.bytesWritten += chunk.length;
    if (!this.dest.write(chunk)) {
      if (!this.paused) this.pause();
    } else if (this.paused) {
      this.maybeResume();
    }
  }

  private sinkEnd(): void {
    if (this.dead) return;
    if (this.closing) {
      this.owner.close();
      return;
    }
    if (this.blackholed) {
      this.hole = true;
      return;
    }
    if (this.sinkEnded) return;
    this.sinkEnded = true;
    if (!this.dest.destroyed) this.dest.end();
  }

  private held(): number {
    let bytes = 0;
    for (let stage = this.first; stage; stage = stage.next) bytes += stage.run.pending;
    return bytes;
  }

  private pause(): void {
    this.paused = true;
    this.source.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.dead) return;
    if (this.dest.writableNeedDrain || this.held() > HIGH_WATER) return;
    this.paused = false;
    if (this.started) this.source.resume();
  }
}
