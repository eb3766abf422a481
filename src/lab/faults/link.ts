/**
 * A fault link: the lab's TCP proxy in front of one dependency, with Toxiproxy-style toxics per direction,
 * partitions and a down switch. Every connection between components of a lab topology goes through one.
 *
 * - Toxics: `addToxic(spec)` starts the toxic on every open connection and every new one, each time
 *   deciding once, with probability `toxicity`, whether it applies to that connection. `removeToxic(id)`
 *   restores the link exactly: bytes the toxic holds are delivered, in order, ahead of anything newer.
 * - Partition (blackhole): connections stay open (and new ones are accepted) but no byte passes in the
 *   partitioned direction(s). Bytes sent into the partition are dropped, not buffered: the senders' writes
 *   succeed and the receivers hear nothing, as in a network that silently loses packets. (Buffering would
 *   instead model a short partition healed by TCP retransmission; use a `timeout` toxic with 0 for that: it
 *   stalls with backpressure and delivers everything when removed.) On heal, connections that lost nothing
 *   — idle ones, or the open direction of a one-way partition — carry on; a connection that lost bytes, its
 *   FIN or its peer's failure is reset, because TCP never delivers a stream with a hole in it.
 * - Down: the listening socket is closed (new connects get ECONNREFUSED) and every open connection gets an
 *   RST. Heal listens again on the same port.
 */
import net, { type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import { Connection, SOCKET_HIGH_WATER, type Upstream } from "./connection.ts";
import type { DirectionCounters } from "./pipe.ts";
import {
  type Direction,
  type PartitionDirection,
  parseToxicSpec,
  type ToxicSpec,
  type ToxicSpecInput,
} from "./spec.ts";
import { type Toxic, toxicOf } from "./toxics/index.ts";

export type { Upstream } from "./connection.ts";

const RELISTEN_TIMEOUT_MS = 5_000;

export interface FaultLinkOptions {
  name: string;
  upstream: Upstream;
  /** Port to listen on (127.0.0.1); 0 or absent: any free port. */
  listenPort?: number;
  /** Interface to listen on; default 127.0.0.1. */
  listenHost?: string;
  logger?: Logger;
}

export interface ToxicInfo extends ToxicSpec {
  id: string;
  /** When the toxic was added, ms since the epoch. */
  startedAt: number;
}

export interface PartitionInfo {
  direction: PartitionDirection;
  startedAt: number;
}

export interface LinkStats {
  connections: {
    open: number;
    total: number;
    /** Accepted connections whose connect to the upstream failed. */
    upstreamErrors: number;
  };
  upstream: DirectionCounters;
  downstream: DirectionCounters;
}

export interface LinkStatus {
  name: string;
  listen: { host: string; port: number };
  upstream: Upstream;
  down: { startedAt: number } | null;
  partition: PartitionInfo | null;
  toxics: ToxicInfo[];
  stats: LinkStats;
}

interface ActiveToxic {
  info: ToxicInfo;
  toxic: Toxic;
}

export class FaultLink {
  readonly name: string;
  readonly host: string;
  private target: Upstream;
  private listener: Server | undefined;
  private listenPort: number;
  private readonly connections = new Set<Connection>();
  private readonly active: ActiveToxic[] = [];
  private partitionState: PartitionInfo | undefined;
  private downState: { startedAt: number } | undefined;
  private closed = false;
  private nextToxic = 1;
  private nextConnection = 1;
  private readonly counters: Record<Direction, DirectionCounters> = {
    upstream: { bytesRead: 0, bytesWritten: 0, bytesDropped: 0 },
    downstream: { bytesRead: 0, bytesWritten: 0, bytesDropped: 0 },
  };
  private readonly connectionCounts = { total: 0, upstreamErrors: 0 };
  private readonly logger: Logger | undefined;

  private constructor(options: FaultLinkOptions) {
    this.name = options.name;
    this.host = options.listenHost ?? "127.0.0.1";
    this.target = checkUpstream(options.upstream);
    this.listenPort = options.listenPort ?? 0;
    this.logger = options.logger?.child({ link: options.name });
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: FaultLinkOptions): Promise<FaultLink> {
    const link = new FaultLink(options);
    await link.listen();
    return link;
  }

  /** The port clients connect to (kept while the link is down). */
  get port(): number {
    return this.listenPort;
  }

  get upstream(): Upstream {
    return { ...this.target };
  }

  /** Repoints the link (e.g. after a failover): new connections go to `upstream`, open ones stay. */
  setUpstream(upstream: Upstream): void {
    this.target = checkUpstream(upstream);
    this.logger?.info({ upstream: this.target }, "fault link repointed");
  }

  /**
   * Adds a toxic and returns its id. The spec is validated (again, if it came parsed): a bad one throws
   * `FaultSpecError` naming the field. Untrusted input goes through `parseToxicSpec` first.
   */
  addToxic(spec: ToxicSpecInput | ToxicSpec): string {
    const parsed = parseToxicSpec(spec);
    const toxic = toxicOf(parsed.type) as Toxic;
    const id = `${parsed.type}-${parsed.direction}-${this.nextToxic++}`;
    const entry: ActiveToxic = { info: { id, ...parsed, startedAt: Date.now() }, toxic };
    this.active.push(entry);
    for (const connection of this.connections) this.apply(connection, entry);
    this.logger?.info({ toxic: entry.info }, "toxic added");
    return id;
  }

  /** Removes a toxic; false when the link has no toxic with that id. */
  removeToxic(id: string): boolean {
    const index = this.active.findIndex((entry) => entry.info.id === id);
    if (index < 0) return false;
    this.active.splice(index, 1);
    for (const connection of this.connections) connection.removeToxic(id);
    this.logger?.info({ toxic: id }, "toxic removed");
    return true;
  }

  toxics(): ToxicInfo[] {
    return this.active.map(({ info }) => structuredClone(info));
  }

  /** Blackholes the link in one or both directions (replacing an earlier partition). */
  partition({ direction = "both" }: { direction?: PartitionDirection } = {}): void {
    this.partitionState = { direction, startedAt: Date.now() };
    for (const connection of this.connections) connection.setPartition(direction);
    this.logger?.info({ partition: direction }, "link partitioned");
  }

  /** Refuses new connections (the port is closed) and resets every open one. */
  async down(): Promise<void> {
    if (this.downState || this.closed) return;
    this.downState = { startedAt: Date.now() };
    for (const connection of this.connections) connection.reset();
    await this.unlisten();
    this.logger?.info("link down");
  }

  /** Removes every toxic, the partition and the down state. */
  async heal(): Promise<void> {
    for (const { info } of [...this.active]) this.removeToxic(info.id);
    if (this.partitionState) {
      this.partitionState = undefined;
      for (const connection of this.connections) connection.setPartition(undefined);
    }
    if (this.downState && !this.closed) {
      await this.relisten();
      this.downState = undefined;
    }
    this.logger?.info("link healed");
  }

  stats(): LinkStats {
    return {
      connections: { open: this.connections.size, ...this.connectionCounts },
      upstream: { ...this.counters.upstream },
      downstream: { ...this.counters.downstream },
    };
  }

  status(): LinkStatus {
    return {
      name: this.name,
      listen: { host: this.host, port: this.listenPort },
      upstream: this.upstream,
      down: this.downState ? { ...this.downState } : null,
      partition: this.partitionState ? { ...this.partitionState } : null,
      toxics: this.toxics(),
      stats: this.stats(),
    };
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.connections) connection.destroy();
    await this.unlisten();
  }

  private accept(socket: Socket): void {
    if (this.closed || this.downState) {
      socket.on("error", () => {});
      socket.resetAndDestroy();
      return;
    }
    this.connectionCounts.total += 1;
    const connection = new Connection(this.nextConnection++, socket, this.target, {
      counters: this.counters,
      onConnectError: (error) => {
        this.connectionCounts.upstreamErrors += 1;
        this.logger?.debug({ err: error, upstream: this.target }, "upstream connect failed");
      },
      onClose: (closed) => this.connections.delete(closed),
    });
    this.connections.add(connection);
    for (const entry of this.active) this.apply(connection, entry);
    if (this.partitionState) connection.setPartition(this.partitionState.direction);
  }

  /** Toxicity is decided here, once per connection and toxic. */
  private apply(connection: Connection, { info, toxic }: ActiveToxic): void {
    if (info.toxicity >= 1 || Math.random() < info.toxicity) {
      connection.addToxic(info.id, info.direction, toxic, info.attributes);
    }
  }

  /**
   * Listens again on the link's port after `down`. While the port was closed, an outgoing connection may
   * have been given it as its local port; retry for a while, then fail loudly rather than move the link.
   */
  private async relisten(): Promise<void> {
    const deadline = performance.now() + RELISTEN_TIMEOUT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listen();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || performance.now() > deadline) {
          throw new Error(`fault link ${this.name}: cannot listen on port ${this.listenPort} again`, {
            cause: error,
          });
        }
        this.logger?.warn({ err: error, attempt }, "fault link port busy; retrying");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private listen(): Promise<void> {
    const server = net.createServer(
      { allowHalfOpen: true, pauseOnConnect: true, highWaterMark: SOCKET_HIGH_WATER },
      (socket) => this.accept(socket),
    );
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listenPort, this.host, () => {
        server.off("error", reject);
        server.on("error", (error) => this.logger?.error({ err: error }, "fault link listener failed"));
        const address = server.address();
        if (address && typeof address === "object") this.listenPort = address.port;
        this.listener = server;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const server = this.listener;
    this.listener = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

function checkUpstream(upstream: Upstream): Upstream {
  const { host, port } = upstream;
  if (typeof host !== "string" || host.length === 0)
    throw new TypeError("upstream.host: expected a host name");
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TypeError("upstream.port: expected an integer from 1 to 65535");
  }
  return { host, port };
}
