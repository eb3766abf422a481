/**
 * Link faults: a toxic (latency ± jitter, bandwidth, timeout, …), a partition or `down` on one fault
 * link. Start adds exactly that fault; stop removes exactly that fault and leaves the link's others.
 */
import type { FaultLink, PartitionDirection } from "../faults/index.ts";
import { addToxics, healOnly, removeToxics, type ToxicRequest } from "./link-ops.ts";
import { BaseNemesis } from "./nemesis.ts";

export type LinkFault =
  | { kind: "toxic"; toxic: ToxicRequest }
  | { kind: "partition"; direction: PartitionDirection }
  | { kind: "down" };

export class LinkNemesis extends BaseNemesis {
  readonly name: string;
  private toxicIds: string[] = [];

  constructor(
    private readonly link: FaultLink,
    private readonly fault: LinkFault,
    options: { stopAfterMs?: number; label?: string } = {},
  ) {
    super(options);
    this.name = `${options.label ?? labelOf(fault)} ${link.name}`;
  }

  describe(): string {
    const fault = this.fault;
    switch (fault.kind) {
      case "toxic":
        return `${fault.toxic.type} toxic (${fault.toxic.direction}) ${JSON.stringify(fault.toxic.attributes ?? {})} on ${this.link.name}`;
      case "partition":
        return `partition ${this.link.name} (${fault.direction})`;
      case "down":
        return `take ${this.link.name} down: refuse connects, reset open connections`;
    }
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const fault = this.fault;
    const base = { link: this.link.name, kind: fault.kind };
    switch (fault.kind) {
      case "toxic":
        this.toxicIds = addToxics(this.link, fault.toxic);
        return { ...base, toxic: fault.toxic, toxics: [...this.toxicIds] };
      case "partition":
        this.link.partition({ direction: fault.direction });
        return { ...base, direction: fault.direction };
      case "down": {
        const open = this.link.stats().connections.open;
        await this.link.down();
        return { ...base, reset: open };
      }
    }
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const fault = this.fault;
    const base = { link: this.link.name, kind: fault.kind };
    switch (fault.kind) {
      case "toxic": {
        const { removed, missing } = removeToxics(this.link, this.toxicIds);
        this.toxicIds = [];
        return { ...base, removed, ...(missing.length > 0 ? { missing } : {}) };
      }
      case "partition":
        await healOnly(this.link, { partition: true });
        return base;
      case "down":
        await healOnly(this.link, { down: true });
        return base;
    }
  }
}

function labelOf(fault: LinkFault): string {
  if (fault.kind !== "toxic") return fault.kind;
  return fault.toxic.type === "latency" ? "latency" : `toxic ${fault.toxic.type}`;
}
