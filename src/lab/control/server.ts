import { timingSafeEqual } from "node:crypto";
import Fastify from "fastify";
import { faultApi } from "../faults/index.ts";
import type { Topology } from "../topology/launcher.ts";

/**
 * The running lab's control API (token-protected, loopback): the fault links' API under `/faults`,
 * the component table, and process actions on the services (the lab restarts on demand, never
 * silently).
 */
export async function startControlServer(topology: Topology, port = 0) {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  await app.register(faultApi, { registry: topology.links, token: topology.token, prefix: "/faults" });
  await app.register(async (scope) => {
    const want = Buffer.from(topology.token);
    scope.addHook("onRequest", async (request, reply) => {
      const given = Buffer.from(request.headers.authorization?.replace(/^Bearer /i, "") ?? "");
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        return reply.code(401).send({ error: "unauthorized", message: "missing or wrong bearer token" });
      }
    });
    scope.get("/status", async () => ({ components: topology.components() }));
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
  await app.listen({ host: "127.0.0.1", port });
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return { url: `http://127.0.0.1:${bound}`, close: () => app.close() };
}
