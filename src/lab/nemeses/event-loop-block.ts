/**
 * `event-loop-block`: busy-wait a service's event loop (`POST /lab/block`, lab token) for `ms`, in slices
 * of `sliceMs` (default: one stall). The block ends by itself; the nemesis stops itself then, so the
 * log's window matches it. An earlier stop cancels what is left (`DELETE /lab/block`).
 */
import { type LabTarget, labRequest } from "./lab-client.ts";
import { BaseNemesis } from "./nemesis.ts";

export interface BlockOptions {
  ms: number;
  sliceMs?: number;
}

export class EventLoopBlockNemesis extends BaseNemesis {
  readonly name: string;

  constructor(
    private readonly target: LabTarget,
    private readonly options: BlockOptions,
  ) {
    super({ stopAfterMs: options.ms });
    this.name = `event-loop-block ${target.name}`;
  }

  describe(): string {
    const slices = this.options.sliceMs ? ` in ${this.options.sliceMs} ms slices` : "";
    return `block ${this.target.name}'s event loop for ${this.options.ms} ms${slices}`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const body = { ms: this.options.ms, ...(this.options.sliceMs ? { sliceMs: this.options.sliceMs } : {}) };
    const answer = await labRequest(this.target, "POST", "/lab/block", body);
    return { target: this.target.name, ...answer };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    // Served between slices: wait at most one slice (and then some) for the answer.
    const timeoutMs = (this.options.sliceMs ?? this.options.ms) + 5_000;
    const answer = await labRequest(this.target, "DELETE", "/lab/block", undefined, timeoutMs);
    return { target: this.target.name, ...answer };
  }
}
