import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { summariseProfile } from "../../bench/cpuprofile.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-cpuprofile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle laid out as esbuild writes one: each input file after a comment naming it. */
function bundle(): string {
  const file = path.join(dir, ".chaoscart", "build", "serve-test.mjs");
  mkdirSync(path.dirname(file), { recursive: true });
  const lines = [
    "import { x } from 'node:fs';", // 0: before any marker
    "// node_modules/undici/lib/core/request.js",
    "function request() {}", // 2
    "// node_modules/@fastify/error/index.js",
    "function createError() {}", // 4
    "// src/shop/orders/saga.ts",
    "function advance() {}", // 6
  ];
  writeFileSync(file, lines.join("\n"));
  return pathToFileURL(file).href;
}

describe("cpuprofile summary", () => {
  it("puts a bundled frame back in the package or source directory it came from", () => {
    const url = bundle();
    const frame = (id: number, functionName: string, lineNumber: number) => ({
      id,
      callFrame: { functionName, url, lineNumber },
    });
    const summary = summariseProfile({
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 3, 4, 5] },
        frame(2, "request", 2),
        frame(3, "createError", 4),
        frame(4, "advance", 6),
        frame(5, "boot", 0),
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 2, 3, 4, 5],
      timeDeltas: [1000, 1000, 1000, 1000, 1000],
    });
    const areas = Object.fromEntries(summary.byArea);
    expect(areas).toMatchObject({
      "npm:undici": 2,
      "npm:@fastify/error": 1,
      "src/shop/orders": 1,
    });
    // Code before the first marker is the bundle's own.
    expect(Object.keys(areas).find((a) => a.endsWith("serve-test.mjs"))).toBeDefined();
  });
});
