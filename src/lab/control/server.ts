import Fastify from "fastify";
import { hasBearerToken } from "../../shop/http/bearer-token.ts";
import { listen } from "../../shop/http/listen.ts";
import { faultApi } from "../faults/index.ts";
import { FaultController } from "../nemeses/controller.ts";
import { createNemesis } from "../nemeses/factory.ts";
import { type Nemesis, NemesisError, type NemesisEvent } from "../nemeses/nemesis.ts";
import { NemesisSpecError } from "../nemeses/spec.ts";
import type { Topology } from "../topology/launcher.ts";

/**
 * The running lab's control API (token-protected, loopback): the fault links' API under `/faults`,
 * the component table, and process actions on the services (the lab restarts on demand, never
 * silently).
 */
export async function startControlServer(topology: Topology, port = 0) {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const controller = new FaultController();
  const nemeses = new Map<string, Nemesis>();
  const eventsOf = new Map<string, NemesisEvent[]>();
  let nextNemesis = 1;
  await app.register(faultApi, { registry: topology.links, token: topology.token, prefix: "/faults" });
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (request, reply) => {
      if (!hasBearerToken(request.headers.authorization, topology.token)) {
        return reply.code(401).send({ error: "unauthorized", message: "missing or wrong bearer token" });
      }
    });
    scope.get("/status", async () => ({
      components: topology.components(),
      ...(topology.builtInBug ? { builtInBug: topology.builtInBug } : {}),
    }));

    // Nemeses: any fault of the catalogue, started and healed by id (`chaoscart nemesis …`).
    scope.get("/nemeses", async () => ({
      nemeses: [...nemeses].map(([id, n]) => ({
        id,
        name: n.name,
        active: n.active,
        describe: n.describe(),
      })),
      events: controller.log.events(),
    }));
    scope.post<{ Body: unknown }>("/nemeses", async (request, reply) => {
      let nemesis: Nemesis;
      try {
        nemesis = createNemesis(topology, request.body);
      } catch (error) {
        if (error instanceof NemesisSpecError) {
          return reply
            .code(400)
            .send({ error: "invalid_request", field: `body.${error.field}`, message: error.message });
        }
        throw error;
      }
      const id = `n${nextNemesis++}`;
      nemeses.set(id, nemesis);
      const events: NemesisEvent[] = [];
      eventsOf.set(id, events);
      nemesis.onEvent((event) => events.push(event));
      const answer = { id, name: nemesis.name, describe: nemesis.describe() };
      try {
        return reply.code(201).send({ ...answer, event: await controller.start(nemesis) });
      } catch (error) {
        if (!(error instanceof NemesisError)) throw error;
        // The fault may be partly in place: answer its id, so the caller can heal it.
        return reply
          .code(500)
          .send({ ...answer, error: "nemesis_failed", message: error.message, event: error.event });
      }
    });
    // One nemesis and its events so far (timed stops included), for runners that started it.
    scope.get<{ Params: { id: string } }>("/nemeses/:id", async (request, reply) => {
      const nemesis = nemeses.get(request.params.id);
      if (!nemesis) return reply.code(404).send({ error: "unknown_nemesis", id: request.params.id });
      return {
        id: request.params.id,
        name: nemesis.name,
        active: nemesis.active,
        describe: nemesis.describe(),
        events: eventsOf.get(request.params.id) ?? [],
      };
    });
    scope.delete<{ Params: { id: string } }>("/nemeses/:id", async (request, reply) => {
      const nemesis = nemeses.get(request.params.id);
      if (!nemesis) return reply.code(404).send({ error: "unknown_nemesis", id: request.params.id });
      return { id: request.params.id, event: await controller.stop(nemesis) };
    });
    scope.post<{ Params: { name: string; action: string } }>(
      "/services/:name/:action",
      async (request, reply) => {
        const service = topology.services().get(request.params.name);
        if (!service) return reply.code(404).send({ error: "unknown_service", service: request.params.name });
        switch (request.params.action) {
          case "kill":
            await service.kill("SIGKILL");
            break;
          case "restart":
            if (service.pid) await service.stop();
            await service.restart();
            break;
          case "pause":
            await service.kill("SIGSTOP");
            break;
          case "resume":
            await service.kill("SIGCONT");
            break;
          default:
            return reply.code(400).send({
              error: "invalid_request",
              field: "params.action",
              message: "expected kill, restart, pause or resume",
            });
        }
        return { service: request.params.name, action: request.params.action, pid: service.pid ?? null };
      },
    );
  });
  const { url } = await listen(app, "127.0.0.1", port);
  return {
    url,
    /** Heals every active nemesis, then stops serving. */
    close: async () => {
      await controller.stopAll({ links: topology.links }).catch(() => {});
      await app.close();
    },
  };
}
