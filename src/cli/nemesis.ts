import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_LAB_DIR } from "../lab/control/state-file.ts";
import { NEMESIS_KINDS } from "../lab/nemeses/spec.ts";
import { requireRunningLab } from "./lab.ts";
import { formatTable } from "./table.ts";

function param(value: string, previous: Record<string, unknown> = {}) {
  const match = /^([A-Za-z]+)=(.*)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected name=value, e.g. restartAfter=5s");
  const [, name, raw] = match as unknown as [string, string, string];
  const number = Number(raw);
  return { ...previous, [name]: raw !== "" && Number.isFinite(number) ? number : raw };
}

async function call(dir: string, method: string, path: string, body?: unknown) {
  const state = requireRunningLab(dir);
  const response = await fetch(`${state.controlUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${state.token}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${answer.message ?? answer.error ?? response.status}`);
  return answer;
}

export function registerNemesis(program: Command) {
  const nemesis = program
    .command("nemesis")
    .description("start and heal any fault of the catalogue on the running lab");
  const dir = () => new Option("--dir <path>", "lab work directory").default(DEFAULT_LAB_DIR);

  nemesis
    .command("start")
    .description(`start a nemesis: ${NEMESIS_KINDS.join(", ")}`)
    .argument("<action>")
    .argument("<target>", "e.g. east/inventory, east, east/order->primary")
    .option(
      "-p, --param <name=value>",
      "parameter, repeatable (e.g. -p restartAfter=5s -p latencyMs=100)",
      param,
    )
    .addOption(dir())
    .action(
      async (action: string, target: string, opts: { param?: Record<string, unknown>; dir: string }) => {
        const answer = await call(opts.dir, "POST", "/nemeses", { action, target, ...opts.param });
        console.log(`${answer.id}: ${answer.describe}`);
      },
    );

  nemesis
    .command("stop")
    .description("heal a nemesis started with `nemesis start`")
    .argument("<id>")
    .addOption(dir())
    .action(async (id: string, opts: { dir: string }) => {
      await call(opts.dir, "DELETE", `/nemeses/${encodeURIComponent(id)}`);
      console.log(`${id} stopped`);
    });

  nemesis
    .command("ls")
    .description("list nemeses and their timestamped events")
    .addOption(dir())
    .action(async (opts: { dir: string }) => {
      const answer = (await call(opts.dir, "GET", "/nemeses")) as {
        nemeses: { id: string; active: boolean; describe: string }[];
        events: { nemesis: string; action: string; at: number; detail: Record<string, unknown> }[];
      };
      console.log(
        formatTable(
          ["id", "state", "nemesis"],
          answer.nemeses.map((n) => [n.id, n.active ? "active" : "healed", n.describe]),
        ),
      );
      console.log("");
      console.log(
        formatTable(
          ["at", "action", "nemesis", "detail"],
          answer.events.map((e) => [
            new Date(e.at).toISOString(),
            e.action,
            e.nemesis,
            JSON.stringify(e.detail),
          ]),
        ),
      );
    });
}
