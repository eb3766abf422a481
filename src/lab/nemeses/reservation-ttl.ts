/**
 * `reservation-ttl`: shorten (or lengthen) the inventory's reservation TTL for new reservations
 * (`PUT /lab/reservation-ttl`, lab token); stop puts back the TTL it found. With payments slower
 * than the TTL, reservations expire while their orders are being paid for: the sweeper and the
 * sagas' commits race on the same orders.
 */
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export class ReservationTtlNemesis extends BaseNemesis {
  readonly name: string;
  private previousMs: number | undefined;

  constructor(
    private readonly target: LabTarget,
    private readonly ttlMs: number,
    options: { stopAfterMs?: number } = {},
  ) {
    super(options);
    this.name = `reservation-ttl ${target.name}`;
  }

  describe(): string {
    return `set ${this.target.name}'s reservation TTL to ${this.ttlMs} ms; the previous TTL on stop`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const answer = (await labRequest(this.target, "PUT", "/lab/reservation-ttl", { ttlMs: this.ttlMs })) as {
      previousMs?: number;
    };
    this.previousMs = answer.previousMs;
    return { target: this.target.name, ...answer };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    if (this.previousMs === undefined) return { target: this.target.name, unchanged: true };
    const answer = await labRequest(this.target, "PUT", "/lab/reservation-ttl", { ttlMs: this.previousMs });
    return { target: this.target.name, ...answer };
  }
}
