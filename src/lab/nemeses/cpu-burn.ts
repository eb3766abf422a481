/**
 * `cpu-burn`: burn CPU inside a service (`POST /lab/cpu-burn`, lab token) for `ms` at `duty`, in worker
 * threads (CPU contention) or on its event loop. It ends by itself and the nemesis stops itself then;
 * an earlier stop cancels it (`DELETE /lab/cpu-burn`).
 */
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export interface CpuBurnOptions {
  ms: number;
  duty: number;
  threads: number;
  mode: "worker" | "loop";
}

export class CpuBurnNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: LabTarget,
    private readonly options: CpuBurnOptions,
  ) {
    super({ stopAfterMs: options.ms });
    this.name = `cpu-burn ${target.name}`;
  }

  describe(): string {
    const { ms, duty, threads, mode } = this.options;
    const where =
      mode === "worker" ? `${threads} worker thread${threads === 1 ? "" : "s"}` : "its event loop";
    return `burn CPU in ${this.target.name} for ${ms} ms at ${Math.round(duty * 100)} % on ${where}`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const answer = await labRequest(this.target, "POST", "/lab/cpu-burn", this.options);
    return { target: this.target.name, ...answer };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const answer = await labRequest(this.target, "DELETE", "/lab/cpu-burn", undefined, 10_000);
    return { target: this.target.name, ...answer };
  }
}
