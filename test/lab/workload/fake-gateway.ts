import Fastify, { type FastifyReply } from "fastify";

/** What the fake gateway does with one POST /orders attempt. */
export interface OrderAttempt {
  key: string;
  /** 1 for the first attempt with this Idempotency-Key, 2 for its first retry, … */
  attempt: number;
  userId: string;
  items: { sku: string; qty: number }[];
  /** ms on the test's clock when the request arrived. */
  at: number;
}

export interface FakeGateway {
  url: string;
  /** Every POST /orders attempt, in arrival order. */
  attempts: OrderAttempt[];
  /** Idempotency-Key → arrival times of its attempts. */
  keys: Map<string, number[]>;
  /** Order id → GET /orders/:id answers seen so far. */
  polls: Map<string, number>;
  close(): Promise<void>;
}

export interface FakeGatewayOptions {
  /** The test's clock, shared with the workload (ms). */
  clock: () => number;
  /** Answers one POST /orders attempt; default 201 CONFIRMED. */
  onOrder?: (attempt: OrderAttempt, reply: FastifyReply, id: string) => unknown;
  /** The state GET /orders/:id reports on its n-th poll (1-based); default CONFIRMED. */
  stateOnPoll?: (id: string, poll: number) => string;
}

/**
 * A stand-in for the gateway, speaking its order API: enough to drive the workload's client
 * through 201s, 202s, 503s with Retry-After, stalls and rejections.
 */
export async function startFakeGateway(options: FakeGatewayOptions): Promise<FakeGateway> {
  const app = Fastify({ logger: false });
  const attempts: OrderAttempt[] = [];
  const keys = new Map<string, number[]>();
  const polls = new Map<string, number>();
  const ids = new Map<string, string>();
  let nextId = 1000;

  app.post("/orders", async (request, reply) => {
    const at = options.clock();
    const key = String(request.headers["idempotency-key"]);
    const body = request.body as { userId: string; items: { sku: string; qty: number }[] };
    const times = keys.get(key) ?? [];
    times.push(at);
    keys.set(key, times);
    let id = ids.get(key);
    if (!id) {
      id = String(nextId++);
      ids.set(key, id);
    }
    const attempt: OrderAttempt = { key, attempt: times.length, userId: body.userId, items: body.items, at };
    attempts.push(attempt);
    if (options.onOrder) return options.onOrder(attempt, reply, id);
    return reply.code(201).send(order(id, body.userId, "CONFIRMED"));
  });

  app.get<{ Params: { id: string } }>("/orders/:id", async (request, reply) => {
    const { id } = request.params;
    const poll = (polls.get(id) ?? 0) + 1;
    polls.set(id, poll);
    const state = options.stateOnPoll?.(id, poll) ?? "CONFIRMED";
    return reply.code(200).send(order(id, String(request.headers["x-user-id"]), state));
  });

  app.get<{ Params: { id: string } }>("/skus/:id", async (request, reply) => {
    const { id } = request.params;
    if (id.startsWith("NO-SUCH")) return reply.code(404).send({ error: "unknown_sku", sku: id });
    return { id, name: id, price: 2500, attrs: {} };
  });

  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url: address, attempts, keys, polls, close: () => app.close() };
}

export function order(id: string, userId: string, state: string) {
  return { id, userId, state, cancelReason: null, items: [], total: 2500, homeRegion: "east" };
}
