import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:unit`: the tests that need no PostgreSQL and no child process. Chosen by what a test
 * file imports rather than by a list, so a moved or new test file is classified by the same rule: a
 * file importing the PostgreSQL client, the test support (which launches clusters and shops), child
 * processes, the launcher, the demo, the CLI binary, the fixtures or a browser is not a unit test.
 * As a guard, PostgreSQL's binaries point nowhere here, so a selected test that still tried to start
 * a cluster would fail instead of quietly starting one.
 */
const NOT_UNIT = [
  /^postgres$/,
  /\/support\//,
  /^node:child_process$/,
  /\/topology\//,
  /\/demo\//,
  /playwright/,
  /bin\/chaoscart/,
  /\/fixtures\//,
];

/** The modules a source file imports (static and dynamic). */
export function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["']([^"']+)["']/gm)].map(
    (match) => match[1] as string,
  );
}

export function isUnitTest(source: string): boolean {
  return !importsOf(source).some((specifier) => NOT_UNIT.some((pattern) => pattern.test(specifier)));
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(file);
    return entry.name.endsWith(".test.ts") ? [file] : [];
  });
}

export const UNIT_TESTS = testFiles("test")
  .filter((file) => isUnitTest(readFileSync(file, "utf8")))
  .map((file) => file.split(path.sep).join("/"))
  .sort();

export default defineConfig({
  test: {
    include: UNIT_TESTS,
    env: { CHAOSCART_PG_BIN: "/nonexistent/test-unit-needs-no-postgresql" },
  },
});
