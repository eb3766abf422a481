/** `reset_peer`: data passes unchanged; `timeoutMs` after the toxic starts, both sides get an RST. */
import { z } from "zod";
import { PassThroughRun, type Toxic, type ToxicStub } from "./toxic.ts";

const attributes = z.object({ timeoutMs: z.number().int().min(0).max(3_600_000).default(0) }).strict();
type Attributes = z.output<typeof attributes>;

class ResetPeerRun extends PassThroughRun {
  private timer: NodeJS.Timeout | undefined;

  constructor(attrs: Attributes, stub: ToxicStub) {
    super(stub);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.stub.reset();
    }, attrs.timeoutMs);
  }

  override flush(): void {
    this.destroy();
  }

  override destroy(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const resetPeer: Toxic<typeof attributes> = {
  type: "reset_peer",
  attributes,
  start: (attrs, stub) => new ResetPeerRun(attrs, stub),
};
