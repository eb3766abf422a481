/** `slow_close`: data passes unchanged; the sender's FIN is forwarded `delayMs` late. */
import { z } from "zod";
import { PassThroughRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ delayMs: z.number().int().min(0).max(3_600_000) }).strict();
type Attributes = z.output<typeof attributes>;

class SlowCloseRun extends PassThroughRun {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly attrs: Attributes,
    stub: ToxicStub,
  ) {
    super(stub);
  }

  override end(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.stub.end();
    }, this.attrs.delayMs);
  }

  override flush(): void {
    if (this.timer === undefined) return;
    this.destroy();
    this.stub.end();
  }

  override destroy(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const slowClose: Toxic<typeof attributes> = {
  type: "slow_close",
  attributes,
  start: (attrs, stub) => new SlowCloseRun(attrs, stub),
};
