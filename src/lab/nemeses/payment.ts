/**
 * `payment`: the payment provider degrades — latency, injected errors, declines — through the
 * simulator's admin API (`PUT /admin/faults`). Stop sets every knob back to zero.
 */
import { type FaultKnobsPatch, NO_FAULTS } from "../../shop/payments/faults.ts";
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export class PaymentNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: LabTarget,
    private readonly knobs: FaultKnobsPatch,
    options: { stopAfterMs?: number } = {},
  ) {
    super(options);
    this.name = `payment ${target.name}`;
  }

  describe(): string {
    return `payment provider ${this.target.name}: ${JSON.stringify(this.knobs)}; zero on stop`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const knobs = await labRequest(this.target, "PUT", "/admin/faults", this.knobs);
    return { target: this.target.name, knobs };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const knobs = await labRequest(this.target, "PUT", "/admin/faults", NO_FAULTS);
    return { target: this.target.name, knobs };
  }
}
