/**
 * Lab-only endpoints for runtime faults inside a service (docs/architecture.md §Lab: event-loop block, CPU burn, clock
 * offset), for the lab's nemeses. Every route needs the lab token (`Authorization: Bearer <token>`):
 * 403 when the service has none configured (the endpoints are off), 401 for a missing or wrong one.
 * Bodies are checked after the token; a bad one gets 400 naming the field.
 *
 * - `POST /lab/block {ms, sliceMs?}`: answers 202 first, then busy-waits the event loop for `ms` in
 *   consecutive slices of `sliceMs` (default: all of `ms`, one stall), yielding to pending I/O between
 *   slices. `DELETE /lab/block` cancels what is left (it is served between slices, so at the latest
 *   when the current slice ends).
 * - `POST /lab/cpu-burn {ms, duty?, threads?, mode?, periodMs?}`: burns CPU for `ms` at `duty` (0..1)
 *   per `periodMs` — in `threads` worker threads (`mode: "worker"`, default: CPU contention, the event
 *   loop stays free) or on the event loop itself (`mode: "loop"`: busy for duty × period, then yields).
 *   `DELETE /lab/cpu-burn` stops it.
 * - `PUT /lab/clock {offsetMs}`: sets the service's hybrid logical clock offset (501 when the service
 *   has no clock). `GET /lab/clock` reads it.
 * - `PUT /lab/reservation-ttl {ttlMs}`: sets the TTL of reservations granted from now on (a
 *   misconfiguration fault; 501 when the service grants none). `GET /lab/reservation-ttl` reads it.
 * - `PUT /lab/replication-faults {drop, corrupt}`: the relay loses (`drop`) or garbles (`corrupt`)
 *   that share of the order versions it ships from now on, still advancing its position: changes a
 *   peer never gets right unless reconciliation repairs them (501 when the service relays nothing).
 * - `GET /lab`: what is running.
 */

import { Worker } from "node:worker_threads";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { registerRealm } from "./bearer-token.ts";

export interface LabEndpointsOptions {
  /** The lab token (CHAOSCART_LAB_TOKEN); undefined: every lab route answers 403. */
  token: string | undefined;
  /** The service's hybrid logical clock, if it has one. */
  clock?: { offsetMs: number };
  /** The TTL of new reservations, in the inventory service. */
  reservationTtl?: { reservationTtlMs: number };
  /** Shares of shipped order versions a relay loses or garbles (relay.ts). */
  replicationFaults?: { drop: number; corrupt: number };
}

const MAX_MS = 600_000;
const ms = z.number().int().min(1).max(MAX_MS);
const blockBody = z.object({ ms, sliceMs: ms.optional() }).strict();
const burnBody = z
  .object({
    ms,
    duty: z.number().gt(0).max(1).default(1),
    threads: z.number().int().min(1).max(16).default(1),
    mode: z.enum(["worker", "loop"]).default("worker"),
    periodMs: z.number().int().min(10).max(10_000).default(100),
  })
  .strict();
const clockBody = z.object({ offsetMs: z.number().int().min(-86_400_000).max(86_400_000) }).strict();
const ttlBody = z.object({ ttlMs: z.number().int().min(100).max(86_400_000) }).strict();
const replicationFaultsBody = z
  .object({ drop: z.number().min(0).max(1).default(0), corrupt: z.number().min(0).max(1).default(0) })
  .strict();

interface Block {
  ms: number;
  sliceMs: number;
  until: number;
  endsAt: number;
  cancelled: boolean;
}

interface Burn {
  ms: number;
  duty: number;
  threads: number;
  mode: "worker" | "loop";
  periodMs: number;
  until: number;
  workers: Worker[];
  timer: NodeJS.Timeout | undefined;
  cancelled: boolean;
}

/** Runs in each burn worker (CommonJS, evaluated): busy for duty × period, asleep for the rest, until `until`. */
const BURN_WORKER = `
const { workerData } = require("node:worker_threads");
const { until, duty, periodMs } = workerData;
const rest = new Int32Array(new SharedArrayBuffer(4));
while (Date.now() < until) {
  const busyUntil = Math.min(until, Date.now() + periodMs * duty);
  while (Date.now() < busyUntil) {}
  const idle = Math.min(until - Date.now(), periodMs * (1 - duty));
  if (idle > 0) Atomics.wait(rest, 0, 0, idle);
}
`;

// biome-ignore lint/suspicious/noExplicitAny: any Fastify instance, whatever its type provider and logger.
type AnyFastify = FastifyInstance<any, any, any, any, any>;

/**
 * Registers the lab routes in the `lab` realm: their own context, so the hooks of the service's
 * routes (the write guard refusing writes while the database is read-only) do not reach them.
 */
export function registerLabEndpoints(app: AnyFastify, options: LabEndpointsOptions): void {
  registerRealm(app, { realm: "lab", token: options.token }, (lab) => labRoutes(lab, options));
}

function labRoutes(app: AnyFastify, { clock, reservationTtl, replicationFaults }: LabEndpointsOptions): void {
  let block: Block | undefined;
  let burn: Burn | undefined;

  const stopBurn = (state: Burn) => {
    state.cancelled = true;
    if (state.timer) clearTimeout(state.timer);
    for (const worker of state.workers) void worker.terminate();
    if (burn === state) burn = undefined;
  };

  app.get("/lab", async () => ({
    block: block ? describeBlock(block) : null,
    cpuBurn: burn ? describeBurn(burn) : null,
    clock: clock ? { offsetMs: clock.offsetMs } : null,
    reservationTtl: reservationTtl ? { ttlMs: reservationTtl.reservationTtlMs } : null,
    replicationFaults: replicationFaults ? { ...replicationFaults } : null,
  }));

  app.post("/lab/block", async (request, reply) => {
    const body = parse(blockBody, request.body, reply);
    if (!body) return reply;
    if (block) {
      return reply
        .code(409)
        .send({ error: "busy", message: "a block is already running", block: describeBlock(block) });
    }
    const sliceMs = Math.min(body.sliceMs ?? body.ms, body.ms);
    const state: Block = {
      ms: body.ms,
      sliceMs,
      until: Date.now() + body.ms,
      endsAt: Number.POSITIVE_INFINITY,
      cancelled: false,
    };
    block = state;
    request.log.warn(
      { resilience_stage: "fault_injection", lab: "block", ms: body.ms, sliceMs },
      "lab: blocking the event loop",
    );
    const step = () => {
      if (!state.cancelled) spin(Math.min(state.endsAt, performance.now() + state.sliceMs));
      if (state.cancelled || performance.now() >= state.endsAt) {
        if (block === state) block = undefined;
        return;
      }
      setImmediate(step);
    };
    // Answer first, then block: the lab learns the block started, not when it ended.
    let begun = false;
    const begin = () => {
      if (begun) return;
      begun = true;
      state.endsAt = performance.now() + body.ms;
      state.until = Date.now() + body.ms;
      setImmediate(step);
    };
    reply.raw.once("finish", begin);
    reply.raw.once("close", begin); // the client went away before the answer was out: block anyway
    return reply.code(202).send(describeBlock(state));
  });

  app.delete("/lab/block", async () => {
    const running = block;
    if (running) running.cancelled = true;
    block = undefined;
    return { cancelled: running !== undefined };
  });

  app.post("/lab/cpu-burn", async (request, reply) => {
    const body = parse(burnBody, request.body, reply);
    if (!body) return reply;
    if (body.mode === "loop" && body.threads !== 1) {
      return badField(reply, "body.threads", 'mode "loop" burns on the event loop: threads must be 1');
    }
    if (burn) {
      return reply
        .code(409)
        .send({ error: "busy", message: "a CPU burn is already running", cpuBurn: describeBurn(burn) });
    }
    const until = Date.now() + body.ms;
    const state: Burn = { ...body, until, workers: [], timer: undefined, cancelled: false };
    burn = state;
    request.log.warn({ resilience_stage: "fault_injection", lab: "cpu-burn", ...body }, "lab: burning CPU");
    if (body.mode === "worker") {
      let running = body.threads;
      for (let i = 0; i < body.threads; i++) {
        const worker = new Worker(BURN_WORKER, {
          eval: true,
          workerData: { until, duty: body.duty, periodMs: body.periodMs },
          execArgv: [],
        });
        worker.unref();
        worker.on("error", (error) => request.log.error({ err: error }, "lab: cpu burn worker failed"));
        worker.once("exit", () => {
          running -= 1;
          if (running === 0 && burn === state) burn = undefined;
        });
        state.workers.push(worker);
      }
    } else {
      const endsAt = performance.now() + body.ms;
      const tick = () => {
        state.timer = undefined;
        if (state.cancelled || performance.now() >= endsAt) {
          if (burn === state) burn = undefined;
          return;
        }
        spin(Math.min(endsAt, performance.now() + body.periodMs * body.duty));
        state.timer = setTimeout(tick, body.periodMs * (1 - body.duty));
        state.timer.unref();
      };
      state.timer = setTimeout(tick, 0);
      state.timer.unref();
    }
    return reply.code(202).send(describeBurn(state));
  });

  app.delete("/lab/cpu-burn", async () => {
    const running = burn;
    if (running) stopBurn(running);
    return { cancelled: running !== undefined };
  });

  app.get("/lab/clock", async (_request, reply) => {
    if (!clock) return noClock(reply);
    return { offsetMs: clock.offsetMs };
  });

  app.put("/lab/clock", async (request, reply) => {
    if (!clock) return noClock(reply);
    const body = parse(clockBody, request.body, reply);
    if (!body) return reply;
    const previousMs = clock.offsetMs;
    clock.offsetMs = body.offsetMs;
    request.log.warn(
      { resilience_stage: "fault_injection", lab: "clock", offsetMs: body.offsetMs, previousMs },
      "lab: clock offset set",
    );
    return { offsetMs: clock.offsetMs, previousMs };
  });

  app.get("/lab/reservation-ttl", async (_request, reply) => {
    if (!reservationTtl) return noReservations(reply);
    return { ttlMs: reservationTtl.reservationTtlMs };
  });

  app.put("/lab/reservation-ttl", async (request, reply) => {
    if (!reservationTtl) return noReservations(reply);
    const body = parse(ttlBody, request.body, reply);
    if (!body) return reply;
    const previousMs = reservationTtl.reservationTtlMs;
    reservationTtl.reservationTtlMs = body.ttlMs;
    request.log.warn(
      { resilience_stage: "fault_injection", lab: "reservation-ttl", ttlMs: body.ttlMs, previousMs },
      "lab: reservation TTL set",
    );
    return { ttlMs: body.ttlMs, previousMs };
  });

  app.put("/lab/replication-faults", async (request, reply) => {
    if (!replicationFaults) {
      return reply.code(501).send({ error: "no_replication", message: "this service relays nothing" });
    }
    const body = parse(replicationFaultsBody, request.body, reply);
    if (!body) return reply;
    const previous = { ...replicationFaults };
    Object.assign(replicationFaults, body);
    request.log.warn(
      { resilience_stage: "fault_injection", lab: "replication-faults", ...body, previous },
      "lab: replication faults set",
    );
    return { ...body, previous };
  });

  app.addHook("onClose", async () => {
    if (block) block.cancelled = true;
    block = undefined;
    if (burn) stopBurn(burn);
  });
}

/** The parsed body, or undefined after answering 400 naming the field. */
function parse<S extends z.ZodType>(schema: S, body: unknown, reply: FastifyReply): z.output<S> | undefined {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue ? issue.path.map(String) : [];
  if (issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const message = issue?.code === "unrecognized_keys" ? "unknown field" : (issue?.message ?? "invalid");
  badField(reply, ["body", ...path].join("."), message);
  return undefined;
}

function badField(reply: FastifyReply, field: string, message: string) {
  return reply.code(400).send({ error: "invalid_request", field, message: `${field}: ${message}` });
}

function noClock(reply: FastifyReply) {
  return reply.code(501).send({ error: "no_clock", message: "this service has no hybrid logical clock" });
}

function noReservations(reply: FastifyReply) {
  return reply.code(501).send({ error: "no_reservations", message: "this service grants no reservations" });
}

/** Busy-waits until `end` (performance.now() time): the event loop does nothing else meanwhile. */
function spin(end: number): void {
  while (performance.now() < end) {
    // busy
  }
}

const describeBlock = (b: Block) => ({ ms: b.ms, sliceMs: b.sliceMs, until: b.until });
const describeBurn = (b: Burn) => ({
  ms: b.ms,
  duty: b.duty,
  threads: b.threads,
  mode: b.mode,
  periodMs: b.periodMs,
  until: b.until,
});
