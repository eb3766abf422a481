import type { FastifyInstance } from "fastify";

/** A started service: where it answers, and how to stop it. */
export interface RunningService {
  url: string;
  close(): Promise<void>;
}

export interface ListeningService extends RunningService {
  /** The bound port (the one asked for, or the one the system chose for port 0). */
  port: number;
}

// biome-ignore lint/suspicious/noExplicitAny: any Fastify instance, whatever its type provider and logger.
type AnyFastify = FastifyInstance<any, any, any, any, any>;

/** Starts `app` on host:port (0: any free port); closes it when it cannot listen, so nothing it opened leaks. */
export async function listen(app: AnyFastify, host: string, port: number): Promise<ListeningService> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return { url: `http://${host}:${bound}`, port: bound, close: () => app.close() };
}
