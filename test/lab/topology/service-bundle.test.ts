import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { serviceBundle } from "../../../src/lab/topology/service-bundle.ts";

const run = promisify(execFile);

describe("service bundle", () => {
  it("builds a runnable `chaoscart serve` from the current sources, named by their hash", async () => {
    const bundle = await serviceBundle();
    expect(bundle).toBeDefined();
    expect(existsSync(bundle as string)).toBe(true);
    expect(bundle).toMatch(/serve-[0-9a-f]{16}\.mjs$/);
    expect(await serviceBundle()).toBe(bundle);
    const failure = await run(process.execPath, [bundle as string, "serve", "no-such-role"]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('unknown role "no-such-role"');
  });
});
