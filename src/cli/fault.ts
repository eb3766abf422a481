import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_LAB_DIR } from "../lab/control/state-file.ts";
import { FaultClient, TOXIC_TYPES } from "../lab/faults/index.ts";
import { requireRunningLab } from "./lab.ts";
import { formatTable } from "./table.ts";

function client(opts: { dir: string; api?: string; token?: string }): FaultClient {
  if (opts.api) {
    if (!opts.token) throw new Error("--api needs --token");
    return new FaultClient({ url: opts.api, token: opts.token });
  }
  const state = requireRunningLab(opts.dir);
  return new FaultClient({ url: `${state.controlUrl}/faults`, token: state.token });
}

function attribute(value: string, previous: Record<string, number | string> = {}) {
  const match = /^([A-Za-z]+)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected name=value, e.g. latencyMs=100");
  const [, name, raw] = match as unknown as [string, string, string];
  const number = Number(raw);
  return { ...previous, [name]: Number.isFinite(number) ? number : raw };
}

export function registerFault(program: Command) {
  const fault = program.command("fault").description("inject and heal faults on the running lab's links");
  const common = (command: Command) =>
    command
      .addOption(new Option("--dir <path>", "lab work directory").default(DEFAULT_LAB_DIR))
      .option("--api <url>", "control API of the fault links (default: from the running lab)")
      .option("--token <token>", "bearer token for --api");

  common(fault.command("ls").description("list links with their active faults and start times")).action(
    async (opts) => {
      const links = await client(opts).links();
      const rows = links.flatMap((link) => {
        const faults = [
          ...(link.down ? [["down", "", new Date(link.down.startedAt).toISOString()]] : []),
          ...(link.partition
            ? [
                [
                  `partition(${link.partition.direction})`,
                  "",
                  new Date(link.partition.startedAt).toISOString(),
                ],
              ]
            : []),
          ...link.toxics.map((t) => [
            `${t.type}/${t.direction} ${JSON.stringify(t.attributes)}${t.toxicity < 1 ? ` p=${t.toxicity}` : ""}`,
            t.id,
            new Date(t.startedAt).toISOString(),
          ]),
        ];
        const where = `:${link.listen.port} → ${link.upstream.host}:${link.upstream.port}`;
        if (faults.length === 0) return [[link.name, where, "clean", "", ""]];
        return faults.map(([what, id, since]) => [link.name, where, what ?? "", id ?? "", since ?? ""]);
      });
      console.log(formatTable(["link", "route", "fault", "id", "since"], rows));
    },
  );

  common(
    fault
      .command("add")
      .description(`add a toxic: one of ${TOXIC_TYPES.join(", ")}`)
      .argument("<link>", "e.g. east/order->primary")
      .argument("<type>", "toxic type")
      .addOption(
        new Option("--direction <dir>", "upstream (client→server) or downstream")
          .choices(["upstream", "downstream"])
          .default("downstream"),
      )
      .option("--toxicity <p>", "probability per connection", Number.parseFloat, 1)
      .option(
        "-a, --attr <name=value>",
        "toxic attribute, repeatable (e.g. -a latencyMs=100 -a jitterMs=50)",
        attribute,
      ),
  ).action(async (link: string, type: string, opts) => {
    const toxic = await client(opts).addToxic(link, {
      type,
      direction: opts.direction,
      toxicity: opts.toxicity,
      attributes: opts.attr ?? {},
    } as never);
    console.log(`added ${toxic.type} ${toxic.id} on ${link}`);
  });

  common(fault.command("rm").description("remove a toxic").argument("<link>").argument("<id>")).action(
    async (link: string, id: string, opts) => {
      await client(opts).removeToxic(link, id);
      console.log(`removed ${id} from ${link}`);
    },
  );

  common(
    fault
      .command("partition")
      .description("blackhole a link: connections stay open, no bytes pass")
      .argument("<link>")
      .addOption(new Option("--direction <dir>").choices(["both", "upstream", "downstream"]).default("both")),
  ).action(async (link: string, opts) => {
    await client(opts).partition(link, opts.direction);
    console.log(`partitioned ${link} (${opts.direction})`);
  });

  common(
    fault.command("down").description("refuse new connections and cut open ones").argument("<link>"),
  ).action(async (link: string, opts) => {
    await client(opts).down(link);
    console.log(`${link} is down`);
  });

  common(
    fault.command("heal").description("remove every fault of one link, or of all").argument("[link]"),
  ).action(async (link: string | undefined, opts) => {
    const api = client(opts);
    if (link) await api.heal(link);
    else await api.healAll();
    console.log(link ? `healed ${link}` : "healed every link");
  });
}
