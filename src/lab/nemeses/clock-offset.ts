/** `clock-offset`: skew a service's hybrid logical clock (`PUT /lab/clock`, lab token); stop sets it back to 0. */
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export class ClockOffsetNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: LabTarget,
    private readonly offsetMs: number,
    options: { stopAfterMs?: number } = {},
  ) {
    super(options);
    this.name = `clock-offset ${target.name}`;
  }

  describe(): string {
    return `offset ${this.target.name}'s hybrid clock by ${this.offsetMs} ms; 0 on stop`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const answer = await labRequest(this.target, "PUT", "/lab/clock", { offsetMs: this.offsetMs });
    return { target: this.target.name, ...answer };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const answer = await labRequest(this.target, "PUT", "/lab/clock", { offsetMs: 0 });
    return { target: this.target.name, ...answer };
  }
}
