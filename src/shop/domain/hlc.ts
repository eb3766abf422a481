/**
 * Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a logical counter, so stamps
 * respect causality across processes whose wall clocks disagree. `offsetMs` lets the lab skew a
 * service's clock (the clock-offset nemesis) without touching the machine's.
 */

export interface HlcStamp {
  wallMs: number;
  logical: number;
}

export class HybridLogicalClock {
  private last: HlcStamp = { wallMs: 0, logical: 0 };
  offsetMs = 0;

  constructor(private readonly physical: () => number = Date.now) {}

  /** A stamp for a local event or a message about to be sent. */
  now(): HlcStamp {
    const pt = this.physical() + this.offsetMs;
    this.last =
      pt > this.last.wallMs
        ? { wallMs: pt, logical: 0 }
        : { wallMs: this.last.wallMs, logical: this.last.logical + 1 };
    return this.last;
  }

  /** Merges a stamp received from elsewhere; the result is after both. */
  receive(remote: HlcStamp): HlcStamp {
    const pt = this.physical() + this.offsetMs;
    const wallMs = Math.max(pt, this.last.wallMs, remote.wallMs);
    let logical = 0;
    if (wallMs === this.last.wallMs && wallMs === remote.wallMs)
      logical = Math.max(this.last.logical, remote.logical) + 1;
    else if (wallMs === this.last.wallMs) logical = this.last.logical + 1;
    else if (wallMs === remote.wallMs) logical = remote.logical + 1;
    this.last = { wallMs, logical };
    return this.last;
  }
}

/** Fixed-width text that sorts like the stamps it encodes. */
export function formatHlc(stamp: HlcStamp): string {
  return `${stamp.wallMs.toString().padStart(15, "0")}.${stamp.logical.toString().padStart(6, "0")}`;
}

export function parseHlc(text: string): HlcStamp {
  const match = /^(\d{15})\.(\d{6})$/.exec(text);
  if (!match) throw new RangeError(`not an HLC stamp: ${JSON.stringify(text)}`);
  return { wallMs: Number(match[1]), logical: Number(match[2]) };
}

export function compareHlc(a: HlcStamp, b: HlcStamp): number {
  return a.wallMs - b.wallMs || a.logical - b.logical;
}
