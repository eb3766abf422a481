/**
 * The topology file: an existing single-region deployment described for `chaoscart verify --target`
 * (README "Verifying an existing deployment"). YAML (or JSON, which is YAML too), validated with zod;
 * every error names the file, the line and the field. `chaoscart lab up` writes one next to lab.json.
 *
 * ```yaml
 * gateway: http://127.0.0.1:7100
 * regions:
 *   - name: east
 *     database: postgres://chaoscart@127.0.0.1:5432/chaoscart   # the primary; the runner only reads
 *     inventory: { url: http://127.0.0.1:7102, token: <admin token> }   # seeds the experiment's SKUs
 *     payments: { url: http://127.0.0.1:7104, token: <admin token> }    # GET /admin/payments (money)
 *     order: { url: http://127.0.0.1:7101 }                 # optional: /metrics (catalog counters)
 * control: { url: http://127.0.0.1:7300, token: <lab token> }  # optional: the lab's control API (faults)
 * builtInBug: no-compensation   # only from `lab up` with a built-in bug: every report says so
 * ```
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { BUILT_IN_BUG_NAMES } from "../../shop/built-in-bugs.ts";
import type { Topology } from "../topology/launcher.ts";
import { pgUrl } from "../topology/postgres/index.ts";
import { builtInBugWarning } from "../topology/service-env.ts";
import { describeIssue, parseYamlSource } from "../yaml-source.ts";

/** The name `lab up` writes, and what `--target <dir>` looks for. */
export const TOPOLOGY_FILE = "topology.yaml";

export class TopologyFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "TopologyFileError";
  }
}

const httpUrl = z
  .url({
    protocol: /^https?$/,
    error: (issue) =>
      issue.input === undefined ? "missing" : "expected an http(s) URL like http://127.0.0.1:7100",
  })
  .transform((url) => url.replace(/\/+$/, ""));
const token = z.string().min(8, "expected the bearer token (at least 8 characters)");
const endpoint = z.object({ url: httpUrl, token }).strict();

export const topologyFileSchema = z
  .object({
    /** Where the workload sends its requests. */
    gateway: httpUrl,
    regions: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "expected a region name like east"),
            /** The region's primary; the runner only reads (settle, final state for the checkers). */
            database: z
              .string()
              .regex(
                /^postgres(ql)?:\/\/\S+$/,
                "expected a PostgreSQL URL like postgres://user@host:5432/db",
              ),
            /** `POST /admin/skus` seeds each experiment's SKUs. */
            inventory: endpoint,
            /** `GET /admin/payments` for the money checker. */
            payments: endpoint,
            /** Optional: the order service, for its `/metrics` (catalog_db_load_ratio). */
            order: z.object({ url: httpUrl }).strict().optional(),
          })
          .strict(),
      )
      .min(1, "expected one region")
      .max(1, "only single-region deployments can be verified for now"),
    /** Optional: the control API of `chaoscart lab up`; without it, experiments with faults do not run. */
    control: endpoint.optional(),
    /** The deployment runs with this deliberate bug (`lab up` with one): reports must say so. */
    builtInBug: z
      .enum(BUILT_IN_BUG_NAMES, { error: `expected one of ${BUILT_IN_BUG_NAMES.join(", ")}` })
      .optional(),
  })
  .strict();

export type TopologyFile = z.output<typeof topologyFileSchema>;

/** Parses and validates a topology file's text; errors name `file:line:column: field`. */
export function parseTopologyFile(source: string, file: string): TopologyFile {
  const yaml = parseYamlSource(source, file);
  if (yaml.syntaxErrors.length > 0) throw new TopologyFileError(yaml.syntaxErrors);
  const value = yaml.document.toJS() as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TopologyFileError([
      `${file}: expected a mapping with gateway, regions and (optionally) control`,
    ]);
  }
  if ("controlUrl" in value && "components" in value) {
    throw new TopologyFileError([
      `${file}: this is a lab state file (lab.json); \`lab up\` writes the topology file next to it: ${path.join(path.dirname(file), TOPOLOGY_FILE)}`,
    ]);
  }
  const parsed = topologyFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new TopologyFileError(
      parsed.error.issues.map((issue) =>
        describeIssue(
          /received undefined$/.test(issue.message) ? { ...issue, message: "missing" } : issue,
          yaml,
        ),
      ),
    );
  }
  return parsed.data;
}

/** Reads a topology file; a directory means its `topology.yaml` (e.g. a lab's `--dir`). */
export function loadTopologyFile(where: string): { file: string; topology: TopologyFile } {
  let file = where;
  let source: string;
  try {
    if (statSync(where).isDirectory()) file = path.join(where, TOPOLOGY_FILE);
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new TopologyFileError([`${file}: cannot read: ${(error as Error).message}`]);
  }
  return { file, topology: parseTopologyFile(source, file) };
}

/** A launched lab as a topology file: what `lab up` writes next to lab.json. */
export function labTopologyFile(topology: Topology, controlUrl: string): TopologyFile {
  return {
    gateway: topology.gateway.url,
    regions: topology.regions.map((region) => ({
      name: region.name,
      // Through the write link, which a primary-failover repoints: always the current primary.
      database: pgUrl(
        topology.links.get(`${region.name}/order->primary`)?.port ?? 0,
        "chaoscart",
        region.cluster.password,
      ),
      inventory: { url: region.services.inventory.url, token: topology.token },
      payments: { url: region.services["payment-sim"].url, token: topology.token },
      order: { url: region.services.order.url },
    })),
    control: { url: controlUrl, token: topology.token },
    ...(topology.builtInBug ? { builtInBug: topology.builtInBug } : {}),
  };
}

/** Writes a topology file (mode 0600: it holds tokens), atomically. */
export function writeTopologyFile(file: string, topology: TopologyFile): void {
  const header = [
    "# A ChaosCart topology file: chaoscart verify --target <this file>",
    "# (README: Verifying an existing deployment). It holds tokens: keep it private.",
    ...(topology.builtInBug ? [`# ${builtInBugWarning(topology.builtInBug)}`] : []),
    "",
  ].join("\n");
  writeFileSync(`${file}.tmp`, `${header}${stringify(topology)}`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
