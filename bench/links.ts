/**
 * `node --import tsx bench/links.ts`: the cost of a fault link with no toxic, against a direct loopback
 * connection, in one run on one machine (docs/architecture.md §Benchmarks):
 *
 * (a) request/response like HTTP calls: N connections (default 64), each a closed loop of `size`-byte
 *     request → echo; requests/s, p50/p99 µs, and what the link adds to p50/p99. At saturation a closed
 *     loop's latency is queueing (Little's law: p50 ≈ connections / throughput), so the link's own cost per
 *     round trip is also measured unsaturated, on one connection (`--latency-connections`), and the
 *     added-p50 target is judged there;
 * (b) bulk: MB/s over one connection, upload (client → server) and download (server → client).
 *
 * The servers, the link and the load generator are three processes (as in the lab: services, the lab
 * process owning the links, clients), so the link's CPU competes with them as it would there. Cells run
 * direct, link, direct, link, … (`--rounds`), and the ratios use the median of each. Prints a table and
 * the ratios against targets; writes the figures as JSON (default bench/results/links.json).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net, { type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { build } from "hdr-histogram-js";
import { FaultLink } from "../src/lab/faults/link.ts";

const TARGETS = { requestsRatio: 0.5, addedP50Us: 100, bulkRatio: 0.5 };

interface Ports {
  echo: number;
  sink: number;
  source: number;
}

interface Options {
  duration: number;
  warmup: number;
  connections: number;
  latencyConnections: number;
  size: number;
  bulkMb: number;
  rounds: number;
  out: string;
}

// ---------------------------------------------------------------- child roles

/** echo: echoes; sink: reads everything, answers the byte count (8 bytes) on end; source: sends N bytes. */
async function serveRole(): Promise<void> {
  const listen = (handler: (socket: Socket) => void) =>
    new Promise<number>((resolve) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        socket.on("error", () => {});
        handler(socket);
      });
      server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
  const echo = await listen((socket) => socket.pipe(socket));
  const sink = await listen((socket) => {
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("end", () => {
      const answer = Buffer.alloc(8);
      answer.writeBigUInt64BE(BigInt(bytes));
      socket.end(answer);
    });
  });
  const source = await listen((socket) => {
    let header = Buffer.alloc(0);
    const onHeader = (chunk: Buffer) => {
      header = Buffer.concat([header, chunk]);
      if (header.length < 8) return;
      socket.off("data", onHeader);
      sendBulk(socket, Number(header.readBigUInt64BE(0))).then(() => socket.end());
    };
    socket.on("data", onHeader);
  });
  announce({ echo, sink, source });
}

async function linkRole(upstream: Ports): Promise<void> {
  const start = (name: string, port: number) =>
    FaultLink.start({ name, upstream: { host: "127.0.0.1", port } }).then((link) => link.port);
  announce({
    echo: await start("echo", upstream.echo),
    sink: await start("sink", upstream.sink),
    source: await start("source", upstream.source),
  });
}

function announce(ports: Ports): void {
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.on("disconnect", () => process.exit(0));
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
}

// ---------------------------------------------------------------- load

const BULK_CHUNK = Buffer.alloc(64 * 1024, 0x5a);

function sendBulk(socket: Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = bytes;
    socket.once("error", reject);
    const pump = () => {
      while (left > 0) {
        const chunk = left >= BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      resolve();
    };
    pump();
  });
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true, allowHalfOpen: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

interface PingPongResult {
  requestsPerSecond: number;
  requests: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** `connections` closed loops of `size`-byte request → echo; only requests finished in the window count. */
async function pingPong(port: number, connections: number, options: Options): Promise<PingPongResult> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  const histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const request = Buffer.alloc(options.size, 0x61);
  let measuring = false;
  let running = true;
  let requests = 0;
  const loops = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        let sentAt = 0n;
        let received = 0;
        const send = () => {
          sentAt = process.hrtime.bigint();
          socket.write(request);
        };
        socket.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received < options.size) return;
          received -= options.size;
          if (measuring) {
            histogram.recordValue(Number(process.hrtime.bigint() - sentAt) / 1000);
            requests += 1;
          }
          if (running) send();
          else resolve();
        });
        send();
      }),
  );
  await sleep(options.warmup * 1000);
  measuring = true;
  const started = performance.now();
  await sleep(options.duration * 1000);
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  for (const socket of sockets) socket.destroy();
  const result = {
    requestsPerSecond: requests / seconds,
    requests,
    p50Us: histogram.getValueAtPercentile(50),
    p99Us: histogram.getValueAtPercentile(99),
    maxUs: histogram.maxValue,
  };
  histogram.destroy();
  return result;
}

/** MB/s (10^6 bytes) to upload `bytes` to the sink, counted until the sink confirms it got them all. */
async function upload(port: number, bytes: number): Promise<number> {
  const socket = await connect(port);
  const started = performance.now();
  const answer = new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => parts.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(parts)));
    socket.on("error", reject);
  });
  await sendBulk(socket, bytes);
  socket.end();
  const got = Number((await answer).readBigUInt64BE(0));
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  if (got !== bytes) throw new Error(`upload: the sink got ${got} bytes of ${bytes}`);
  return bytes / 1e6 / seconds;
}

/** MB/s to download `bytes` from the source. */
async function download(port: number, bytes: number): Promise<number> {
  const socket = await connect(port);
  const started = performance.now();
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(bytes));
  const got = await new Promise<number>((resolve, reject) => {
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    socket.write(header);
  });
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  if (got !== bytes) throw new Error(`download: got ${got} bytes of ${bytes}`);
  return bytes / 1e6 / seconds;
}

// ---------------------------------------------------------------- CPU (Linux /proc; empty elsewhere)

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** % of one core used by each process while `fn` runs. */
async function withCpu<T>(pids: Record<string, number>, fn: () => Promise<T>) {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuTicks(pid)]));
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const a = before[name];
    const b = cpuTicks(pid);
    if (a !== undefined && b !== undefined) cpu[name] = Math.round(((b - a) / 100 / seconds) * 100);
  }
  return { result, cpuPercent: cpu };
}

// ---------------------------------------------------------------- main

async function spawnRole(role: string, args: string[] = []): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--role", role, ...args],
    {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", resolve);
  });
  return { child, ports: JSON.parse(line) as Ports };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Path = "direct" | "link";

interface Round {
  round: number;
  path: Path;
  throughput: PingPongResult & { cpuPercent: Record<string, number> };
  latency: PingPongResult;
  uploadMBps: number;
  downloadMBps: number;
}

interface Summary {
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  unsaturatedP50Us: number;
  unsaturatedP99Us: number;
  uploadMBps: number;
  downloadMBps: number;
}

async function main(options: Options): Promise<void> {
  const servers = await spawnRole("serve");
  const links = await spawnRole("link", ["--upstream", JSON.stringify(servers.ports)]);
  const pids = { bench: process.pid, servers: servers.child.pid ?? 0, link: links.child.pid ?? 0 };
  const targets: Record<Path, Ports> = { direct: servers.ports, link: links.ports };
  const startedAt = new Date().toISOString();
  const bulkBytes = options.bulkMb * 1e6;
  const rounds: Round[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const path of ["direct", "link"] as const) {
        const ports = targets[path];
        const { result, cpuPercent } = await withCpu(pids, () =>
          pingPong(ports.echo, options.connections, options),
        );
        const r: Round = {
          round,
          path,
          throughput: { ...result, cpuPercent },
          latency: await pingPong(ports.echo, options.latencyConnections, options),
          uploadMBps: await upload(ports.sink, bulkBytes),
          downloadMBps: await download(ports.source, bulkBytes),
        };
        rounds.push(r);
        console.error(
          `round ${round} ${path.padEnd(6)} ${Math.round(r.throughput.requestsPerSecond)} req/s ` +
            `p50 ${r.throughput.p50Us} µs p99 ${r.throughput.p99Us} µs | unsaturated p50 ${r.latency.p50Us} µs ` +
            `p99 ${r.latency.p99Us} µs | upload ${Math.round(r.uploadMBps)} MB/s download ${Math.round(r.downloadMBps)} MB/s ` +
            `| cpu % of a core ${JSON.stringify(cpuPercent)}`,
        );
      }
    }
  } finally {
    servers.child.kill();
    links.child.kill();
  }

  const summary = (path: Path): Summary => {
    const mine = rounds.filter((r) => r.path === path);
    const m = (pick: (r: Round) => number) => median(mine.map(pick));
    return {
      requestsPerSecond: Math.round(m((r) => r.throughput.requestsPerSecond)),
      p50Us: m((r) => r.throughput.p50Us),
      p99Us: m((r) => r.throughput.p99Us),
      unsaturatedP50Us: m((r) => r.latency.p50Us),
      unsaturatedP99Us: m((r) => r.latency.p99Us),
      uploadMBps: Math.round(m((r) => r.uploadMBps)),
      downloadMBps: Math.round(m((r) => r.downloadMBps)),
    };
  };
  const direct = summary("direct");
  const link = summary("link");
  const ratios = {
    requests: round2(link.requestsPerSecond / direct.requestsPerSecond),
    upload: round2(link.uploadMBps / direct.uploadMBps),
    download: round2(link.downloadMBps / direct.downloadMBps),
  };
  /** link/direct within each round (the two cells ran back to back, so under the same background load). */
  const perRound = Array.from({ length: options.rounds }, (_, i) => {
    const d = rounds.find((r) => r.round === i + 1 && r.path === "direct");
    const l = rounds.find((r) => r.round === i + 1 && r.path === "link");
    return d && l ? round2(l.throughput.requestsPerSecond / d.throughput.requestsPerSecond) : Number.NaN;
  });
  const added = {
    unsaturatedP50Us: link.unsaturatedP50Us - direct.unsaturatedP50Us,
    unsaturatedP99Us: link.unsaturatedP99Us - direct.unsaturatedP99Us,
    saturatedP50Us: link.p50Us - direct.p50Us,
    saturatedP99Us: link.p99Us - direct.p99Us,
  };
  const targetsMet = {
    requestsRatio: ratios.requests >= TARGETS.requestsRatio,
    addedP50Us: added.unsaturatedP50Us <= TARGETS.addedP50Us,
    bulkRatio: Math.min(ratios.upload, ratios.download) >= TARGETS.bulkRatio,
  };

  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const cols = (cells: (string | number)[], widths: number[]) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 8) : String(c).padStart(widths[i] ?? 8)))
      .join("");
  const widths = [8, 10, 9, 10, 14, 14, 13, 15];
  const row = (name: string, x: Summary) =>
    cols(
      [
        name,
        x.requestsPerSecond,
        x.p50Us,
        x.p99Us,
        x.unsaturatedP50Us,
        x.unsaturatedP99Us,
        x.uploadMBps,
        x.downloadMBps,
      ],
      widths,
    );
  console.log(
    [
      "",
      `fault link (no toxic) vs direct loopback — medians of ${options.rounds} alternating rounds`,
      `settings: ${options.connections} connections × ${options.size} B ping-pong (closed loop), unsaturated: ` +
        `${options.latencyConnections} connection(s); ${options.duration}s + ${options.warmup}s warm-up per cell; ` +
        `bulk ${options.bulkMb} MB over one connection; servers, link and load generator in 3 processes; ` +
        `${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)}, node ${process.version}`,
      "",
      cols(
        ["path", "req/s", "p50 µs", "p99 µs", "1-conn p50", "1-conn p99", "upload MB/s", "download MB/s"],
        widths,
      ),
      row("direct", direct),
      row("link", link),
      "",
      `link/direct requests/s      ${ratios.requests}   (target >= ${TARGETS.requestsRatio})  ${verdict(targetsMet.requestsRatio)}` +
        `   per round: ${perRound.join(", ")}`,
      `added p50, unsaturated      ${added.unsaturatedP50Us} µs   (target <= ${TARGETS.addedP50Us} µs)  ${verdict(targetsMet.addedP50Us)}`,
      `added p99, unsaturated      ${added.unsaturatedP99Us} µs`,
      `added p50/p99, saturated    ${added.saturatedP50Us} / ${added.saturatedP99Us} µs   (queueing: ${options.connections} connections / throughput)`,
      `link/direct bulk up/down    ${ratios.upload} / ${ratios.download}   (target >= ${TARGETS.bulkRatio})  ${verdict(targetsMet.bulkRatio)}`,
    ].join("\n"),
  );

  const report = {
    benchmark: "fault-links",
    startedAt,
    finishedAt: new Date().toISOString(),
    settings: {
      connections: options.connections,
      latencyConnections: options.latencyConnections,
      requestBytes: options.size,
      durationSeconds: options.duration,
      warmupSeconds: options.warmup,
      bulkMB: options.bulkMb,
      rounds: options.rounds,
      cores: os.cpus().length,
      loadAverage: os.loadavg()[0],
      node: process.version,
      processes: "load generator, servers, link: one process each",
    },
    direct,
    link,
    ratios: { ...ratios, requestsPerRound: perRound },
    addedUs: added,
    targets: TARGETS,
    targetsMet,
    rounds,
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${options.out}`);
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

const program = new Command("links")
  .description("fault link (no toxic) vs direct loopback: request/response and bulk throughput")
  .option("--role <role>", "internal: serve | link")
  .option("--upstream <json>", "internal: the servers' ports, for the link role")
  .option("--duration <seconds>", "timed window per ping-pong cell", positive, 4)
  .option("--warmup <seconds>", "unmeasured warm-up per ping-pong cell", positive, 1)
  .option("--connections <n>", "concurrent ping-pong connections", positive, 64)
  .option("--latency-connections <n>", "connections for the unsaturated latency cell", positive, 1)
  .option("--size <bytes>", "request (and response) size", positive, 200)
  .option("--bulk-mb <mb>", "MB per bulk transfer", positive, 500)
  .option("--rounds <n>", "direct/link alternations", positive, 3)
  .option("--out <file>", "JSON result", "bench/results/links.json")
  .parse();
const opts = program.opts<Options & { role?: string; upstream?: string }>();
if (opts.role === "serve") await serveRole();
else if (opts.role === "link") await linkRole(JSON.parse(opts.upstream ?? "{}") as Ports);
else await main(opts);
