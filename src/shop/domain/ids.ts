/**
 * 64-bit snowflake ids carrying their region (docs/architecture.md §Regions), so regions never mint the same id and a
 * gateway can route an order id to its home region without a lookup.
 *
 *   41 bits milliseconds since EPOCH_MS · 5 bits region · 7 bits worker · 11 bits sequence
 *
 * Ids are rendered as decimal strings (JSON numbers cannot hold 64 bits).
 */

export const EPOCH_MS = Date.UTC(2026, 0, 1);
const REGION_BITS = 5n;
const WORKER_BITS = 7n;
const SEQUENCE_BITS = 11n;
export const MAX_REGION = Number((1n << REGION_BITS) - 1n);
export const MAX_WORKER = Number((1n << WORKER_BITS) - 1n);
const MAX_SEQUENCE = Number((1n << SEQUENCE_BITS) - 1n);

export interface SnowflakeParts {
  timestampMs: number;
  region: number;
  worker: number;
  sequence: number;
}

export class SnowflakeGenerator {
  private lastMs = -1;
  private sequence = 0;

  constructor(
    private readonly region: number,
    private readonly worker: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(region) || region < 0 || region > MAX_REGION) {
      throw new RangeError(`region code must be 0..${MAX_REGION}, got ${region}`);
    }
    if (!Number.isInteger(worker) || worker < 0 || worker > MAX_WORKER) {
      throw new RangeError(`worker must be 0..${MAX_WORKER}, got ${worker}`);
    }
  }

  next(): string {
    // A clock that steps back must not reissue ids: keep using the last millisecond.
    let ms = Math.max(this.now() - EPOCH_MS, this.lastMs);
    if (ms === this.lastMs) {
      this.sequence = (this.sequence + 1) & MAX_SEQUENCE;
      if (this.sequence === 0) ms = this.lastMs + 1; // sequence exhausted: borrow the next millisecond
    } else {
      this.sequence = 0;
    }
    this.lastMs = ms;
    return encode({
      timestampMs: ms + EPOCH_MS,
      region: this.region,
      worker: this.worker,
      sequence: this.sequence,
    });
  }
}

export function encode(parts: SnowflakeParts): string {
  const value =
    (BigInt(parts.timestampMs - EPOCH_MS) << (REGION_BITS + WORKER_BITS + SEQUENCE_BITS)) |
    (BigInt(parts.region) << (WORKER_BITS + SEQUENCE_BITS)) |
    (BigInt(parts.worker) << SEQUENCE_BITS) |
    BigInt(parts.sequence);
  return value.toString();
}

export function decode(id: string): SnowflakeParts {
  if (!/^\d{1,20}$/.test(id)) throw new RangeError(`not a snowflake id: ${JSON.stringify(id)}`);
  const value = BigInt(id);
  return {
    timestampMs: Number(value >> (REGION_BITS + WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS,
    region: Number((value >> (WORKER_BITS + SEQUENCE_BITS)) & ((1n << REGION_BITS) - 1n)),
    worker: Number((value >> SEQUENCE_BITS) & ((1n << WORKER_BITS) - 1n)),
    sequence: Number(value & ((1n << SEQUENCE_BITS) - 1n)),
  };
}

/** Region names map to stable codes by their position in the deployment's region list. */
export function regionCode(regions: readonly string[], region: string): number {
  const code = regions.indexOf(region);
  if (code < 0) throw new RangeError(`unknown region ${region}; known: ${regions.join(", ")}`);
  if (code > MAX_REGION) throw new RangeError(`at most ${MAX_REGION + 1} regions are supported`);
  return code;
}
