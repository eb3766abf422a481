import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_LAB_DIR } from "../lab/control/state-file.ts";
import { DEFAULT_SLOT_COUNT } from "../shop/domain/slots.ts";
import type { SlotMove } from "../shop/orders/slots.ts";
import { requireRunningLab } from "./lab.ts";

/** "0-3,9" → [0, 1, 2, 3, 9]; every slot within 0..DEFAULT_SLOT_COUNT-1. */
export function parseSlots(text: string): number[] {
  const slots = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) throw new InvalidArgumentError(`"${part}": expected a slot or a range like 0-511`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new InvalidArgumentError(`"${part}": a range goes up (${first} > ${last})`);
    if (last >= DEFAULT_SLOT_COUNT)
      throw new InvalidArgumentError(`"${part}": slots are 0..${DEFAULT_SLOT_COUNT - 1}`);
    for (let slot = first; slot <= last; slot++) slots.add(slot);
  }
  return [...slots].sort((a, b) => a - b);
}

interface MoveOptions {
  from: string;
  to: string;
  slots: number[];
  dir: string;
  timeout: number;
}

/**
 * `chaoscart regions move-slots`: hands units from one region to another in a running lab, in the
 * order that keeps one writer per slot (docs/architecture.md §Regions): the move is made at the
 * current owner (fencing it at once), the command waits until the new owner's database has it (the
 * relay's work: until then neither region places orders for those units), then every gateway gets a
 * routing table one version newer, so users go straight to the new home.
 */
export function registerRegions(program: Command) {
  const regions = program.command("regions").description("units and their home regions in a running lab");
  regions
    .command("move-slots")
    .description("move units (slots) from their owning region to another, fenced, then reroute the gateways")
    .requiredOption("--from <region>", "the region that owns the slots now")
    .requiredOption("--to <region>", "the region that takes them over")
    .requiredOption("--slots <list>", `slots, e.g. 0-511,700 (0..${DEFAULT_SLOT_COUNT - 1})`, parseSlots)
    .addOption(
      new Option("--timeout <ms>", "how long to wait for the move to reach --to")
        .default(30_000)
        .argParser(Number),
    )
    .addOption(new Option("--dir <path>", "lab work directory").default(DEFAULT_LAB_DIR))
    .action(async (opts: MoveOptions) => {
      const state = requireRunningLab(opts.dir);
      const url = (component: string) => {
        const row = state.components.find((c) => c.component === component && c.kind === "service");
        if (!row) throw new Error(`the lab has no ${component} (regions: ${state.regions.join(", ")})`);
        return row.address;
      };
      const admin = { authorization: `Bearer ${state.token}`, "content-type": "application/json" };
      const call = async <T>(method: string, target: string, body?: unknown): Promise<T> => {
        const response = await fetch(target, {
          method,
          headers: admin,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(10_000),
        });
        const answer = (await response.json()) as T & { message?: string };
        if (!response.ok)
          throw new Error(
            `${method} ${target}: ${response.status} ${answer.message ?? JSON.stringify(answer)}`,
          );
        return answer;
      };
      const started = Date.now();
      const move = await call<SlotMove>("POST", `${url(`${opts.from}/order`)}/admin/slots/move`, {
        slots: opts.slots,
        to: opts.to,
      });
      console.log(`${opts.from}: moved ${move.moved.length} slot(s) to ${opts.to}; fenced from now on`);
      if (move.notOwned.length > 0)
        console.log(
          `${opts.from}: does not own ${move.notOwned.length} slot(s) (left alone): ${move.notOwned.slice(0, 20).join(", ")}`,
        );
      const target = url(`${opts.to}/order`);
      for (const moved of move.moved) {
        for (;;) {
          const owner = await call<{ region: string; epoch: number }>(
            "GET",
            `${target}/admin/slots/${moved.slot}`,
          );
          if (owner.region === opts.to && owner.epoch >= moved.epoch) break;
          if (Date.now() - started > opts.timeout)
            throw new Error(
              `slot ${moved.slot} has not reached ${opts.to} after ${opts.timeout} ms (is its relay running?); its units place no orders until it does`,
            );
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      console.log(`${opts.to}: owns them (the move reached it in ${Date.now() - started} ms)`);
      const gateways = state.components.filter(
        (c) => c.kind === "service" && /(^|\/)gateway$/.test(c.component),
      );
      const versions = await Promise.all(
        gateways.map((g) => call<{ version: number }>("GET", `${g.address}/admin/routing`)),
      );
      const version = Math.max(...versions.map((v) => v.version)) + 1;
      for (const gateway of gateways) {
        await call("PUT", `${gateway.address}/admin/routing`, {
          version,
          slots: { slots: move.moved.map((m) => m.slot), to: opts.to },
        });
      }
      console.log(`gateways (${gateways.map((g) => g.component).join(", ")}): routing version ${version}`);
    });
}
