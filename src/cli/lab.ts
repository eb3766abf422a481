import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import { startControlServer } from "../lab/control/server.ts";
import {
  DEFAULT_LAB_DIR,
  isAlive,
  type LabState,
  readLabState,
  writeLabState,
} from "../lab/control/state-file.ts";
import { labTopologyFile, TOPOLOGY_FILE, writeTopologyFile } from "../lab/deployment/topology-file.ts";
import type { ComponentRow } from "../lab/topology/launcher.ts";
import { DEFAULT_WAN, startTopology } from "../lab/topology/launcher.ts";
import type { ReplicationMode } from "../lab/topology/postgres/index.ts";
import { builtInBugFromEnv, builtInBugWarning, LAB_SERVICE_ENV } from "../lab/topology/service-env.ts";
import { BUILT_IN_BUG_NAMES, type BuiltInBug } from "../shop/built-in-bugs.ts";
import { formatTable } from "./table.ts";

export function printComponents(rows: ComponentRow[]) {
  console.log(
    formatTable(
      ["component", "kind", "pid", "address", "state"],
      rows.map((r) => [r.component, r.kind, r.pid, r.address, r.detail]),
    ),
  );
}

/** What `lab status` says first: the lab, and loudly, a built-in bug it runs with. */
export function labStatusHeader(
  state: Pick<LabState, "pid" | "startedAt" | "regions" | "replication">,
  builtInBug: BuiltInBug | undefined,
): string[] {
  return [
    ...(builtInBug ? [`!!! ${builtInBugWarning(builtInBug)} !!!`] : []),
    `lab pid ${state.pid}, up since ${state.startedAt}, ${state.regions.join(", ")}, ${state.replication} replication`,
    ...(state.regions.length > 1
      ? [
          `WAN between regions: ${DEFAULT_WAN.latencyMs} ± ${DEFAULT_WAN.jitterMs} ms each way (latency toxics on the cross-region links below)`,
        ]
      : []),
  ];
}

export function registerLab(program: Command) {
  const lab = program
    .command("lab")
    .description("launch and inspect a local lab topology (PostgreSQL, services, fault links)");
  const dirOption = () => new Option("--dir <path>", "lab work directory").default(DEFAULT_LAB_DIR);

  lab
    .command("up")
    .description("start the topology in the foreground; Ctrl-C (or `lab down`) tears everything down")
    .option("--regions <names>", "comma-separated region names", "east")
    .addOption(
      new Option("--replication <mode>", "sync or async streaming replication")
        .choices(["sync", "async"])
        .default("sync"),
    )
    .addOption(
      new Option(
        "--shop-bug <name>",
        "run the shop with this deliberate bug switched on (also taken from CHAOSCART_BUILT_IN_BUG); " +
          "status, topology.yaml and every report from `verify --target` say so",
      ).choices(BUILT_IN_BUG_NAMES),
    )
    .option("--keep", "keep the work directory (data, logs) after teardown", false)
    .addOption(dirOption())
    .action(async (opts: LabUpOptions) => {
      const workDir = path.resolve(opts.dir);
      const bug = opts.shopBug ?? builtInBugFromEnv(process.env);
      const previous = readLabState(workDir);
      if (previous && isAlive(previous.pid)) {
        throw new Error(
          `a lab is already running from ${workDir} (pid ${previous.pid}); run \`chaoscart lab down\` first`,
        );
      }
      if (existsSync(workDir)) rmSync(workDir, { recursive: true, force: true }); // leftovers of a lab that died
      const regions = opts.regions
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean);
      const started = Date.now();
      const topology = await startTopology({
        regions,
        replication: opts.replication,
        workDir,
        keep: opts.keep,
        // The settings `verify` runs its own lab with, so `verify --target` sees the same shop.
        serviceEnv: LAB_SERVICE_ENV,
        ...(bug ? { builtInBug: bug } : {}),
        log: (line) => console.log(`[lab] ${line}`),
        onServiceExit: (name, code, signal) =>
          console.log(
            `[lab] ${name} exited unexpectedly (${signal ?? `code ${code}`}); not restarted: \`chaoscart lab restart ${name}\``,
          ),
      });
      const control = await startControlServer(topology);
      const state: LabState = {
        pid: process.pid,
        startedAt: new Date().toISOString(),
        workDir,
        controlUrl: control.url,
        token: topology.token,
        regions,
        replication: opts.replication,
        ...(bug ? { builtInBug: bug } : {}),
        components: topology.components(),
      };
      writeTopologyFile(path.join(workDir, TOPOLOGY_FILE), labTopologyFile(topology, control.url));
      writeLabState(state);
      console.log("");
      printComponents(state.components);
      console.log("");
      console.log(`gateway:      ${topology.gateway.url}`);
      console.log(`control API:  ${control.url}  (token in ${path.join(workDir, "lab.json")})`);
      console.log(`verify it:    chaoscart verify --target ${path.join(workDir, TOPOLOGY_FILE)}`);
      console.log(
        `up in ${((Date.now() - started) / 1000).toFixed(1)} s — Ctrl-C or \`chaoscart lab down\` to stop`,
      );
      if (bug) console.log(`\n!!! ${builtInBugWarning(bug)} !!!`);

      let stopping = false;
      const shutdown = async (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        console.log(`[lab] ${signal}: tearing down`);
        await control.close();
        await topology.stop();
        process.exit(signal === "SIGINT" ? 130 : 0);
      };
      process.on("SIGINT", shutdown);
      process.on("SIGTERM", shutdown);
      await new Promise(() => {}); // run until signalled
    });

  lab
    .command("status")
    .description("show the running lab's components, ports and links")
    .addOption(dirOption())
    .action(async (opts: { dir: string }) => {
      const state = requireRunningLab(opts.dir);
      const response = await fetch(`${state.controlUrl}/status`, {
        headers: { authorization: `Bearer ${state.token}` },
      });
      if (!response.ok) throw new Error(`lab control API answered ${response.status}`);
      const { components, builtInBug } = (await response.json()) as {
        components: ComponentRow[];
        builtInBug?: BuiltInBug;
      };
      for (const line of labStatusHeader(state, builtInBug ?? state.builtInBug)) console.log(line);
      printComponents(components);
    });

  for (const action of ["kill", "restart", "pause", "resume"] as const) {
    lab
      .command(action)
      .description(`${action} a service of the running lab (e.g. east/inventory, gateway)`)
      .argument("<service>")
      .addOption(dirOption())
      .action(async (service: string, opts: { dir: string }) => {
        const state = requireRunningLab(opts.dir);
        const response = await fetch(
          `${state.controlUrl}/services/${encodeURIComponent(service)}/${action}`,
          {
            method: "POST",
            headers: { authorization: `Bearer ${state.token}` },
          },
        );
        const body = await response.json();
        if (!response.ok) throw new Error(`${action} ${service}: ${JSON.stringify(body)}`);
        console.log(JSON.stringify(body));
      });
  }

  lab
    .command("down")
    .description("stop the running lab and wait until everything is gone")
    .addOption(dirOption())
    .action(async (opts: { dir: string }) => {
      const state = requireRunningLab(opts.dir);
      process.kill(state.pid, "SIGTERM");
      const deadline = Date.now() + 60_000;
      while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      if (isAlive(state.pid)) throw new Error(`lab (pid ${state.pid}) did not stop within 60 s`);
      console.log(`lab (pid ${state.pid}) stopped`);
    });
}

interface LabUpOptions {
  regions: string;
  replication: ReplicationMode;
  shopBug?: BuiltInBug;
  keep: boolean;
  dir: string;
}

export function requireRunningLab(dir: string): LabState {
  const state = readLabState(path.resolve(dir));
  if (!state || !isAlive(state.pid)) {
    throw new Error(`no running lab in ${path.resolve(dir)}; start one with \`chaoscart lab up\``);
  }
  return state;
}
