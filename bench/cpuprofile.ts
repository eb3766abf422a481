/**
 * Where a service's CPU went, from a V8 .cpuprofile (as written by `bench/orders.ts --cpu-prof <dir>`):
 * self time by area (our source files, each dependency package, Node internals, GC, idle) and the
 * hottest functions. Not part of `npm run bench`. Run with
 *   node --import tsx bench/cpuprofile.ts <file.cpuprofile>... [--top 25]
 */
import { readFileSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time covered by the profile, ms. */
  wallMs: number;
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  byArea: [string, number][];
  byFunction: [string, number][];
}

const ROOT = path.resolve(import.meta.dirname, "..");

/**
 * The services run from one esbuild bundle (src/lab/topology/service-bundle.ts), which marks where
 * each input file starts with a `// node_modules/undici/lib/…` or `// src/shop/…` comment line. The
 * starts of a bundle, sorted by line, let a frame in it be put back in its package or directory.
 */
type BundleMap = { line: number; file: string }[];
const bundleMaps = new Map<string, BundleMap | undefined>();

function bundleMap(file: string): BundleMap | undefined {
  if (!bundleMaps.has(file)) {
    let map: BundleMap | undefined;
    try {
      map = [];
      const lines = readFileSync(file, "utf8").split("\n");
      for (let i = 0; i < lines.length; i++) {
        const marker = /^\/\/ ((?:node_modules|src|bin)\/\S+\.[cm]?[jt]s)$/.exec(lines[i] ?? "");
        if (marker?.[1]) map.push({ line: i, file: path.join(ROOT, marker[1]) });
      }
    } catch {
      map = undefined; // the bundle was rebuilt and removed since: its frames stay "the bundle"
    }
    bundleMaps.set(file, map?.length ? map : undefined);
  }
  return bundleMaps.get(file);
}

/** The input file of a bundle's line (0-based), or the bundle itself before the first marker. */
function unbundled(file: string, line: number): string {
  const map = bundleMap(file);
  if (!map) return file;
  let lo = 0;
  let hi = map.length - 1;
  let found: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const start = map[mid] as BundleMap[number];
    if (start.line <= line) {
      found = start.file;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found ?? file;
}

/** The area a frame's code belongs to: "src/shop/orders", "npm:postgres", "node:internal", "(gc)", … */
function area(url: string, functionName: string, lineNumber = 0): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "(gc)";
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(program)") return "(program: native, compiler)";
    return "(native)";
  }
  if (url.startsWith("node:")) return "node:internal";
  const loaded = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  const file = loaded.includes("/.chaoscart/build/") ? unbundled(loaded, lineNumber) : loaded;
  const modules = file.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = file.slice(modules + "/node_modules/".length).split("/");
    const pkg = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    return `npm:${pkg}`;
  }
  const relative = path.relative(ROOT, file);
  return relative.startsWith("..") ? file : path.dirname(relative);
}

export function summariseProfile(profile: Profile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // The profiler's own work (stopping and serialising the profile at exit) is not the service's.
  const excluded = new Set<number>();
  const exclude = (id: number) => {
    excluded.add(id);
    for (const child of byId.get(id)?.children ?? []) exclude(child);
  };
  for (const node of profile.nodes)
    if (node.callFrame.url.endsWith("/cpu-profile-hook.mjs")) exclude(node.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const delta = profile.timeDeltas[i] ?? 0;
    if (id !== undefined && !excluded.has(id)) self.set(id, (self.get(id) ?? 0) + delta);
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = area(url, functionName, lineNumber);
    areas.set(where, (areas.get(where) ?? 0) + us);
    if (where === "(idle)") continue;
    busy += us;
    const file = url ? path.basename(url.replace(/^file:\/\//, "")) : "";
    const name = `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""} [${where}]`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) =>
    [...map].map(([k, us]) => [k, us / 1000] as [string, number]).sort((a, b) => b[1] - a[1]);
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    byArea: sorted(areas),
    byFunction: sorted(functions),
  };
}

function main(): void {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const files = args.filter((arg, i) => !arg.startsWith("--") && (topAt < 0 || i !== topAt + 1));
  if (files.length === 0) {
    console.error("usage: node --import tsx bench/cpuprofile.ts <file.cpuprofile>... [--top 25]");
    process.exit(2);
  }
  for (const file of files) {
    const summary = summariseProfile(JSON.parse(readFileSync(file, "utf8")) as Profile);
    const pct = (ms: number) => `${((ms / summary.busyMs) * 100).toFixed(1).padStart(5)}%`;
    console.log(
      `\n${file}: ${(summary.wallMs / 1000).toFixed(1)} s profiled, ${(summary.busyMs / 1000).toFixed(2)} s on CPU ` +
        `(${((summary.busyMs / summary.wallMs) * 100).toFixed(0)}% of one core)`,
    );
    console.log("\n  self time by area (share of CPU time)");
    for (const [name, ms] of summary.byArea.filter(([name]) => name !== "(idle)").slice(0, top)) {
      console.log(`  ${pct(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${name}`);
    }
    console.log("\n  hottest functions (self time)");
    for (const [name, ms] of summary.byFunction.slice(0, top)) {
      console.log(`  ${pct(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${name}`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
