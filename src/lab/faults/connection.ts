/**
 * One proxied TCP connection: the client's socket, the socket to the upstream, and a pipe each way.
 * Half-closes pass through (a FIN one way does not close the other), and so do resets: when one side
 * fails (RST, connect refused), the other side gets an RST — unless that side's outbound direction is
 * partitioned, in which case, like anything else sent into a blackhole, the failure goes unseen until
 * the partition heals.
 */
import net, { type Socket } from "node:net";
import { type DirectionCounters, Pipe } from "./pipe.ts";
import type { Direction, PartitionDirection } from "./spec.ts";
import type { Toxic } from "./toxics/index.ts";

/**
 * Stream buffer size of the link's sockets. Node's default (16 KiB) is smaller than one 64 KiB read, so
 * bulk transfers would pause and resume the source on every chunk; 256 KiB measured ~5-10 % more MB/s.
 */
export const SOCKET_HIGH_WATER = 256 * 1024;

export interface Upstream {
  host: string;
  port: number;
}

export interface ConnectionHooks {
  counters: Record<Direction, DirectionCounters>;
  onConnectError(error: Error): void;
  onClose(connection: Connection): void;
}

export class Connection {
  readonly server: Socket;
  /** client → server */
  readonly upstream: Pipe;
  /** server → client */
  readonly downstream: Pipe;
  private finished = false;
  private closing = false;
  private connected = false;

  constructor(
    readonly id: number,
    readonly client: Socket,
    readonly target: Upstream,
    private readonly hooks: ConnectionHooks,
  ) {
    client.setNoDelay(true);
    // `highWaterMark` is a stream option net.Socket passes through; @types/node does not list it for connect.
    const connectOptions: net.NetConnectOpts & { highWaterMark: number } = {
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      highWaterMark: SOCKET_HIGH_WATER,
    };
    this.server = net.connect(connectOptions);
    this.server.setNoDelay(true);
    this.upstream = new Pipe("upstream", client, this.server, this, hooks.counters.upstream);
    this.downstream = new Pipe("downstream", this.server, client, this, hooks.counters.downstream);
    client.on("error", () => this.failed(this.upstream, this.server));
    this.server.on("error", (error) => {
      if (!this.connected) hooks.onConnectError(error);
      this.failed(this.downstream, client);
    });
    client.on("close", this.onSocketClose);
    this.server.on("close", this.onSocketClose);
    this.server.once("connect", () => {
      this.connected = true;
      this.upstream.start();
      this.downstream.start();
    });
  }

  addToxic(id: string, direction: Direction, toxic: Toxic, attributes: unknown): void {
    this.pipe(direction).addToxic(id, toxic, attributes);
  }

  removeToxic(id: string): void {
    this.upstream.removeToxic(id);
    this.downstream.removeToxic(id);
  }

  /**
   * Blackholes the given directions (none when `undefined`). A direction that comes out of a partition
   * having lost something resets the connection: a byte stream with a hole in it is something no TCP
   * connection ever delivers, and protocols above it would fail in ways no real network produces.
   */
  setPartition(direction: PartitionDirection | undefined): void {
    this.upstream.setBlackholed(direction === "both" || direction === "upstream");
    this.downstream.setBlackholed(direction === "both" || direction === "downstream");
    const lost = (pipe: Pipe) => pipe.hole && !pipe.isBlackholed;
    if (lost(this.upstream) || lost(this.downstream)) this.reset();
  }

  /** Graceful close of both sockets (FIN); what is still in the chains is discarded. */
  close(): void {
    if (this.finished || this.closing) return;
    this.closing = true;
    this.upstream.destroy();
    this.downstream.destroy();
    for (const socket of [this.client, this.server]) {
      if (socket.destroyed) continue;
      if (socket.connecting) {
        socket.destroy();
        continue;
      }
      socket.end();
      if (socket.writableFinished) socket.destroy();
      else socket.once("finish", () => socket.destroy());
    }
  }

  /** RST on both sockets, now. */
  reset(): void {
    if (this.finished) return;
    this.upstream.destroy();
    this.downstream.destroy();
    for (const socket of [this.client, this.server]) {
      if (socket.destroyed) continue;
      if (socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
    }
  }

  /** Closes both sockets without ceremony (the link is shutting down). */
  destroy(): void {
    this.upstream.destroy();
    this.downstream.destroy();
    this.client.destroy();
    this.server.destroy();
  }

  private pipe(direction: Direction): Pipe {
    return direction === "upstream" ? this.upstream : this.downstream;
  }

  /** `socket` (the sender on `outbound`) failed; its peer learns of it unless `outbound` is blackholed. */
  private failed(outbound: Pipe, peer: Socket): void {
    if (this.finished) return;
    if (outbound.isBlackholed) {
      outbound.hole = true;
      return;
    }
    outbound.destroy();
    if (peer.destroyed) return;
    if (peer.connecting) peer.destroy();
    else peer.resetAndDestroy();
  }

  private readonly onSocketClose = (): void => {
    if (this.finished || !this.client.destroyed || !this.server.destroyed) return;
    this.finished = true;
    this.upstream.destroy();
    this.downstream.destroy();
    this.hooks.onClose(this);
  };
}
