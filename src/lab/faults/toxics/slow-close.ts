/** `slow_close`: data passes unchanged; the sender's FIN is forwarded `delayMs` late. */
import { z } from "zod";
import { HoldingRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ delayMs: z.number().int().min(0).max(3_600_000) }).strict();
type Attributes = z.output<typeof attributes>;

class SlowCloseRun extends HoldingRun {
  constructor(
    private readonly attrs: Attributes,
    stub: ToxicStub,
  ) {
    super(stub);
  }

  /** Chunks go at once (nothing stays held); the end waits. */
  protected release(): void {
    if (!this.queue.ended) this.queue.drainTo(this.stub);
    else this.wakeAfter(this.attrs.delayMs, () => this.queue.drainTo(this.stub));
  }
}

export const slowClose: Toxic<typeof attributes> = {
  type: "slow_close",
  attributes,
  start: (attrs, stub) => new SlowCloseRun(attrs, stub),
};
