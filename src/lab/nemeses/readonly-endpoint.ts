/**
 * `readonly-endpoint`: the misconfiguration incident (a service's write endpoint pointed at a read-only
 * replica). Repoints a write link (default `<region>/order->primary`) to the region's replica and resets
 * the link's open connections so the service's pool lands there; stop points it back, resetting again.
 * The service should refuse writes fast and report unready (its write guard sees the read-only server on
 * the first failed write and re-checks about every second).
 */
import type { FaultLink, Upstream } from "../faults/index.ts";
import type { PgNode } from "../topology/postgres/index.ts";
import { resetConnections } from "./link-ops.ts";
import { BaseNemesis } from "./nemesis.ts";

export class ReadonlyEndpointNemesis extends BaseNemesis {
  readonly name: string;
  private original: Upstream | undefined;

  constructor(
    private readonly link: FaultLink,
    private readonly replica: Pick<PgNode, "host" | "port">,
    options: { stopAfterMs?: number } = {},
  ) {
    super(options);
    this.name = `readonly-endpoint ${link.name}`;
  }

  describe(): string {
    return `point ${this.link.name} at the read-only replica ${this.replica.host}:${this.replica.port}; point it back on stop`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    this.original ??= this.link.upstream;
    const to = { host: this.replica.host, port: this.replica.port };
    this.link.setUpstream(to);
    const { reset } = await resetConnections(this.link);
    return { link: this.link.name, from: address(this.original), to: address(to), reset };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const back = this.original;
    if (!back) return { link: this.link.name, note: "never repointed" };
    this.link.setUpstream(back);
    this.original = undefined;
    const { reset } = await resetConnections(this.link);
    return { link: this.link.name, to: address(back), reset };
  }
}

const address = ({ host, port }: Upstream) => `${host}:${port}`;
