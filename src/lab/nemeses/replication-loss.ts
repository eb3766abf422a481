/**
 * `replication-loss`: a relay loses (`drop`) or garbles (`corrupt`) that share of the order versions
 * it ships (`PUT /lab/replication-faults`, lab token), still advancing its position, as a buggy CDC
 * pipeline or a bad deploy of one would. The peer then holds missing or wrong copies until
 * reconciliation repairs them. Stop puts back the shares it found.
 */
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export interface ReplicationFaults {
  drop: number;
  corrupt: number;
}

export class ReplicationLossNemesis extends BaseNemesis {
  readonly name: string;
  private previous: ReplicationFaults | undefined;

  constructor(
    private readonly target: LabTarget,
    private readonly faults: ReplicationFaults,
    options: { stopAfterMs?: number } = {},
  ) {
    super(options);
    this.name = `replication-loss ${target.name}`;
  }

  describe(): string {
    return `${this.target.name} drops ${this.faults.drop * 100} % and garbles ${this.faults.corrupt * 100} % of the order versions it ships`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const answer = (await labRequest(this.target, "PUT", "/lab/replication-faults", this.faults)) as {
      previous?: ReplicationFaults;
    };
    this.previous = answer.previous;
    return { target: this.target.name, ...answer };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const answer = await labRequest(
      this.target,
      "PUT",
      "/lab/replication-faults",
      this.previous ?? { drop: 0, corrupt: 0 },
    );
    return { target: this.target.name, ...answer };
  }
}
