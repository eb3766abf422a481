import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeReport } from "../../../src/lab/report/write.ts";
import { failingRun, incompleteRun, passingRun } from "./fixtures.ts";

describe("writeReport", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "chaoscart-report-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes report.html, result.json and junit.xml for one experiment", async () => {
    const out = join(dir, "nested", "report");
    const paths = await writeReport(out, failingRun());
    expect(paths).toEqual({
      html: join(out, "report.html"),
      json: join(out, "result.json"),
      junit: join(out, "junit.xml"),
    });
    expect((await readdir(out)).sort()).toEqual(["junit.xml", "report.html", "result.json"]);
    expect(JSON.parse(await readFile(paths.json, "utf8"))).toEqual(failingRun());
    expect(await readFile(paths.html, "utf8")).toMatch(/^<!doctype html>/);
    expect(await readFile(paths.junit, "utf8")).toMatch(/^<\?xml/);
  });

  it("writes a suite's result.json with the overall verdict", async () => {
    const paths = await writeReport(dir, [passingRun(), failingRun()]);
    const json = JSON.parse(await readFile(paths.json, "utf8"));
    expect(json).toEqual({ schemaVersion: 1, verdict: "fail", experiments: [passingRun(), failingRun()] });
    expect(JSON.parse(await readFile((await writeReport(dir, [passingRun()])).json, "utf8"))).toEqual(
      passingRun(),
    );
  });

  it("gives a suite with an incomplete experiment the verdict incomplete, never pass", async () => {
    const json = JSON.parse(
      await readFile((await writeReport(dir, [passingRun(), incompleteRun()])).json, "utf8"),
    );
    expect(json.verdict).toBe("incomplete");
    const worse = JSON.parse(
      await readFile((await writeReport(dir, [incompleteRun(), failingRun()])).json, "utf8"),
    );
    expect(worse.verdict).toBe("fail");
  });

  it("leaves the previous files whole and no temporary file when it fails", async () => {
    await writeFile(join(dir, "result.json"), "previous");
    const run = failingRun();
    (run.settings as Record<string, unknown>).bad = 1n; // JSON cannot carry a BigInt
    await expect(writeReport(dir, run)).rejects.toThrow(/BigInt/);
    expect(await readdir(dir)).toEqual(["result.json"]);
    expect(await readFile(join(dir, "result.json"), "utf8")).toBe("previous");
  });

  it("cleans up its temporary files when a rename fails", async () => {
    await writeFile(join(dir, "result.json"), "previous");
    // A directory where junit.xml should go: the rename onto it fails after the files are written.
    await mkdir(join(dir, "junit.xml", "occupied"), { recursive: true });
    await expect(writeReport(dir, failingRun())).rejects.toThrow();
    expect((await readdir(dir)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    expect(await readFile(join(dir, "result.json"), "utf8")).toBe("previous");
  });

  it("refuses an empty suite", async () => {
    await expect(writeReport(dir, [])).rejects.toThrow(/no experiment results/);
  });
});
