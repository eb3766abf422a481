import { z } from "zod";
import type { Db } from "../db/pool.ts";
import { DEFAULT_SLOT_COUNT } from "../domain/slots.ts";
import type { ServiceApp } from "../http/app.ts";
import { registerRealm } from "../http/bearer-token.ts";
import { moveSlots, slotOwner } from "./slots.ts";

const regionName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "expected a region name");
const slot = z
  .number()
  .int()
  .min(0)
  .max(DEFAULT_SLOT_COUNT - 1);
const moveBody = z.object({ slots: z.array(slot).min(1).max(DEFAULT_SLOT_COUNT), to: regionName }).strict();

export interface SlotRoutesOptions {
  db: Db;
  region: string;
  regions: readonly string[];
  adminToken: string | undefined;
}

/**
 * The operator's view of unit ownership in this region's database: `GET /admin/slots/:slot` and
 * `POST /admin/slots/move` (this region hands slots it owns to another; slots.ts says why it must
 * happen here, at the owner).
 */
export function registerSlotRoutes(app: ServiceApp, options: SlotRoutesOptions) {
  registerRealm(app, { realm: "admin", token: options.adminToken }, (admin) => {
    admin.get(
      "/admin/slots/:slot",
      { schema: { params: z.object({ slot: z.coerce.number().pipe(slot) }) } },
      async (request, reply) => {
        const owner = await slotOwner(options.db, request.params.slot);
        if (!owner)
          return reply
            .code(404)
            .send({ error: "unknown_slot", message: `slot ${request.params.slot} has no owner here` });
        return owner;
      },
    );
    admin.post("/admin/slots/move", { schema: { body: moveBody } }, async (request, reply) => {
      const { slots, to } = request.body;
      if (!options.regions.includes(to)) {
        return reply.code(400).send({
          error: "invalid_request",
          field: "body.to",
          message: `body.to: unknown region ${to}; known: ${options.regions.join(", ")}`,
        });
      }
      if (to === options.region) {
        return reply
          .code(400)
          .send({ error: "invalid_request", field: "body.to", message: `body.to: ${to} is this region` });
      }
      return moveSlots(options.db, options.region, to, slots);
    });
  });
}
