import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENTRY = path.join(ROOT, "src/cli/serve-entry.ts");

/**
 * The lab launches shop services from one prebuilt JavaScript bundle of `chaoscart serve` rather
 * than through tsx: a restarted service is back in about a third of the time (measured ~1 s against
 * ~3 s on the loaded 2-core machine), and a crash experiment measures the shop's recovery, not the
 * TypeScript loader's. The bundle is rebuilt whenever a source file or the lockfile changes (its
 * name is their hash), so there is still no build step to forget. Returns undefined — and the lab
 * falls back to `bin/chaoscart.js` — when the bundle cannot be built.
 */
let bundle: Promise<string | undefined> | undefined;

export function serviceBundle(log: (line: string) => void = () => {}): Promise<string | undefined> {
  bundle ??= build().catch((error: unknown) => {
    log(`could not prebuild the service bundle, services start through tsx: ${(error as Error).message}`);
    return undefined;
  });
  return bundle;
}

async function build(): Promise<string> {
  const dir = buildDir();
  const file = path.join(dir, `serve-${sourceHash()}.mjs`);
  if (existsSync(file)) return file;
  const { build } = await import("esbuild");
  // Written under a unique name, then renamed: two labs starting at once never load half a file.
  const partial = `${file}.${process.pid}.tmp`;
  await build({
    entryPoints: [ENTRY],
    outfile: partial,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node}`,
    logLevel: "silent",
    define: { __CHAOSCART_MIGRATIONS_DIR__: JSON.stringify(path.join(ROOT, "src/shop/db/migrations")) },
    // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  renameSync(partial, file);
  removeOldBundles(dir, file);
  return file;
}

/** Bundles of earlier sources, once no lab can still be restarting services from them (a day on). */
function removeOldBundles(dir: string, current: string) {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (full === current || !/^serve-.*\.mjs(\..*\.tmp)?$/.test(name)) continue;
    try {
      if (statSync(full).mtimeMs < dayAgo) rmSync(full, { force: true });
    } catch {
      // Removed by another lab meanwhile.
    }
  }
}

function buildDir(): string {
  const preferred = path.join(ROOT, ".chaoscart", "build");
  try {
    mkdirSync(preferred, { recursive: true });
    return preferred;
  } catch {
    const fallback = path.join(tmpdir(), "chaoscart-build");
    mkdirSync(fallback, { recursive: true });
    return fallback;
  }
}

function sourceHash(): string {
  const hash = createHash("sha256");
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (/\.(ts|json|patch)$/.test(entry.name)) hash.update(full).update(readFileSync(full));
    }
  };
  visit(path.join(ROOT, "src"));
  hash.update(readFileSync(path.join(ROOT, "package-lock.json")));
  // Dependencies patched at install time (patch-package) are bundled too.
  const patches = path.join(ROOT, "patches");
  if (existsSync(patches)) visit(patches);
  return hash.digest("hex").slice(0, 16);
}
