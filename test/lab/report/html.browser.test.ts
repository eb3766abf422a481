/**
 * The HTML report as a reader sees it: rendered by headless Chromium from a file:// URL, with no
 * network. Needs Debian's chromium at /usr/bin/chromium (CI installs it); without it this test fails
 * rather than skips, so a green run always means the report was looked at.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { renderHtml } from "../../../src/lab/report/html.ts";
import { renderJunit } from "../../../src/lab/report/junit.ts";
import { failingRun, passingRun } from "./fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";

/** The text of each cell of a table row. */
async function cells(row: Locator): Promise<string[]> {
  return (await row.locator("td").allTextContents()).map((text) => text.trim());
}

describe("the HTML report in Chromium", () => {
  let browser: Browser | undefined;
  let page: Page;
  let dir = "";
  let url = "";
  const requests: string[] = [];

  async function open(): Promise<void> {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: this test opens the report in Debian's chromium (apt-get install -y chromium). ` +
          "CI installs it; the test fails rather than skips without it.",
      );
    }
    dir = await mkdtemp(join(tmpdir(), "chaoscart-report-browser-"));
    const file = join(dir, "report.html");
    await writeFile(file, renderHtml(failingRun()));
    url = pathToFileURL(file).href;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("request", (request) => {
      requests.push(request.url());
    });
    await page.goto(url, { waitUntil: "load" });
  }

  // Opened once, in a beforeEach rather than a beforeAll so that a missing browser fails every test
  // (a failing beforeAll would only mark them skipped).
  let opened: Promise<void> | undefined;
  beforeEach(async () => {
    opened ??= open();
    await opened;
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("loads the file and nothing else, and runs no script", async () => {
    expect(requests).toEqual([url]);
    expect(await page.locator("script").count()).toBe(0);
    expect(await page.getByTestId("description").textContent()).toContain('<script>alert("pwned")</script>');
  });

  it("says FAIL, and why the run was aborted", async () => {
    expect((await page.getByTestId("verdict").textContent())?.trim()).toBe("FAIL");
    expect(await page.getByTestId("verdict").isVisible()).toBe(true);
    expect(await page.getByTestId("aborted").textContent()).toContain(
      "ABORTED: error_rate 0.86 above 0.8 for 5s",
    );
  });

  it("shows the failed check as failed and the not-checked one as not checked, each styled apart", async () => {
    const failed = page.locator('[data-testid="check-row"][data-status="fail"]');
    expect(await failed.count()).toBe(1);
    expect(await failed.isVisible()).toBe(true);
    const failedCells = await cells(failed);
    expect(failedCells.slice(0, 2)).toEqual(["no-lost-ack", "FAIL"]);
    expect(failedCells[2]).toMatch(/^3 violation\(s\): order o-17/);

    const notChecked = page.locator('[data-testid="check-row"][data-status="not-checked"]');
    expect(await notChecked.count()).toBe(1);
    expect(await notChecked.isVisible()).toBe(true);
    expect(await cells(notChecked)).toEqual([
      "money",
      "not checked",
      "not checked: payment provider records unavailable",
    ]);

    const statusStyle = (status: string) =>
      page
        .locator(`[data-testid="check-row"][data-status="${status}"] td.status`)
        .first()
        .evaluate((cell) => {
          const style = getComputedStyle(cell);
          return `${style.color} on ${style.backgroundColor}`;
        });
    const styles = new Set([
      await statusStyle("pass"),
      await statusStyle("fail"),
      await statusStyle("not-checked"),
    ]);
    expect(styles.size).toBe(3);
  });

  it("draws the three charts with non-zero size and both fault windows on each", async () => {
    for (const id of ["chart-throughput", "chart-errors", "chart-latency"]) {
      const chart = page.getByTestId(id);
      const box = await chart.boundingBox();
      expect(box?.width, id).toBeGreaterThan(300);
      expect(box?.height, id).toBeGreaterThan(50);
      const windows = chart.locator('[data-testid="fault-window"]');
      expect(await windows.count(), id).toBe(2);
      for (const window of await windows.all()) {
        const shade = await window.boundingBox();
        expect(shade?.width, id).toBeGreaterThan(0);
        expect(shade?.height, id).toBeGreaterThan(0);
      }
    }
  });

  it("lists every fault in the fault log", async () => {
    const rows = page.getByTestId("fault-row");
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(0).isVisible()).toBe(true);
    expect((await cells(rows.nth(0))).slice(0, 3)).toEqual(["15.200 s", "kill east/inventory", "start"]);
    expect((await cells(rows.nth(1))).slice(0, 3)).toEqual(["20.300 s", "kill east/inventory", "stop"]);
    expect((await cells(rows.nth(2)))[3]).toContain('"note":"<never stopped>"');
  });

  it("produces JUnit XML that a real XML parser accepts", async () => {
    const parsed = await page.evaluate(
      (xml) => {
        const doc = new DOMParser().parseFromString(xml, "application/xml");
        return {
          error: doc.querySelector("parsererror")?.textContent ?? null,
          suites: doc.querySelectorAll("testsuite").length,
          cases: doc.querySelectorAll("testcase").length,
          failures: doc.querySelectorAll("testcase > failure").length,
          skipped: doc.querySelectorAll("testcase > skipped").length,
        };
      },
      renderJunit([passingRun(), failingRun()]),
    );
    expect(parsed).toEqual({ error: null, suites: 2, cases: 9, failures: 2, skipped: 1 });
  });
});
