import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const FIXTURE = fileURLToPath(new URL("./rejection-fixture.ts", import.meta.url));
const run = (which: string) =>
  spawnSync(process.execPath, ["--import", "tsx", FIXTURE, which], { encoding: "utf8", timeout: 30_000 });

describe("a service's unhandled rejections", () => {
  it("crash the process with the stack, even with a connection-like code", () => {
    const result = run("connection-reset");
    expect(result.status).toBe(1);
    expect(result.stdout).not.toContain("survived");
    expect(result.stderr).toContain("socket hang up");
    expect(result.stderr).toContain("rejection-fixture.ts"); // the stack, not just the code
  });

  it("survive postgres.js's type lookup failing on a new connection, logged with its stack", () => {
    const result = run("type-lookup");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("survived");
    const line = JSON.parse(result.stderr.trim().split("\n").at(-1) ?? "{}");
    expect(line.code).toBe("CONNECTION_CLOSED");
    expect(line.err.stack).toContain("rejection-fixture.ts");
  });
});
