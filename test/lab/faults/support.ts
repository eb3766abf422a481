/** Loopback servers and a recording client for the fault-link tests (real sockets, no mocks). */
import { createHash } from "node:crypto";
import net, { type Server, type Socket } from "node:net";

export interface TestServer {
  port: number;
  /** Sockets the server has accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/** A TCP server running `handle` for every connection; half-close aware. */
export async function startServer(handle: (socket: Socket) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = net.createServer({ allowHalfOpen: true }, (socket) => {
    result.accepted += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  const result: TestServer = {
    port: address.port,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return result;
}

/** Echoes every byte back; ends its side when the client ends. */
export function startEchoServer(): Promise<TestServer> {
  return startServer((socket) => socket.pipe(socket));
}

/** A client that records everything it receives and how its connection ended. */
export class TestClient {
  readonly chunks: Buffer[] = [];
  received = 0;
  ended = false;
  closed = false;
  error: NodeJS.ErrnoException | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", (error) => {
      this.error = error;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: options.allowHalfOpen ?? false });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new TestClient(socket));
      });
    });
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  send(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Resolves once `bytes` bytes in all have arrived; rejects on timeout or if the connection ends first. */
  waitForBytes(bytes: number, timeoutMs = 10_000): Promise<void> {
    return this.until(
      () => this.received >= bytes,
      () => this.ended || this.closed,
      timeoutMs,
      `${bytes} bytes`,
    );
  }

  /** Resolves once the socket has closed. */
  waitClosed(timeoutMs = 10_000): Promise<void> {
    return this.until(
      () => this.closed,
      () => false,
      timeoutMs,
      "close",
    );
  }

  /** Resolves once the peer's FIN has arrived. */
  waitEnded(timeoutMs = 10_000): Promise<void> {
    return this.until(
      () => this.ended,
      () => this.closed,
      timeoutMs,
      "end",
    );
  }

  destroy(): void {
    this.socket.destroy();
  }

  private until(done: () => boolean, failed: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) {
          finish();
          resolve();
        } else if (failed()) {
          finish();
          reject(
            new Error(
              `connection ended before ${what} (received ${this.received}, error ${this.error?.code})`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what} (received ${this.received})`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds taken by `fn`. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Resolves when `condition` holds (polled), rejects after `timeoutMs`. */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Attempts a connection; resolves with the error code it fails with, or "connected". */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
