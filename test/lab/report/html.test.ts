import { describe, expect, it } from "vitest";
import type { NemesisOp } from "../../../src/lab/history/op.ts";
import { faultWindows } from "../../../src/lab/report/fault-windows.ts";
import { renderHtml } from "../../../src/lab/report/html.ts";
import { failingRun, incompleteRun, passingRun } from "./fixtures.ts";

/** The <svg …>…</svg> charts of a report, in order. */
function charts(html: string): string[] {
  return [...html.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

function attrs(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

describe("renderHtml", () => {
  const failing = renderHtml(failingRun());

  it("needs nothing from the network", () => {
    for (const html of [failing, renderHtml(passingRun()), renderHtml([passingRun(), failingRun()])]) {
      expect(html).not.toMatch(/\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
      expect(html).not.toMatch(/<link\b/i);
      expect(html).not.toMatch(/<script\b/i);
      expect(html).not.toMatch(/@import|url\(/i);
      expect(html).not.toMatch(/https?:\/\//i);
      expect(html).toContain("Content-Security-Policy");
    }
  });

  it("leads with a warning when the shop had a built-in bug, in the title too", () => {
    const run = failingRun();
    run.settings.builtInBug = "ack-before-commit";
    const html = renderHtml(run);
    expect(html).toMatch(/<title>BUILT-IN BUG — ChaosCart report/);
    expect(html).toMatch(
      /data-testid="built-in-bug">BUILT-IN BUG &quot;ack-before-commit&quot;: .*NOT a verification of the real shop</,
    );
    expect(failing).not.toContain("BUILT-IN BUG");
  });

  it("escapes text from the experiment file", () => {
    expect(failing).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; see what breaks");
    expect(failing).toContain("is &lt;b&gt;missing&lt;/b&gt;");
    expect(failing).toContain("&quot;note&quot;:&quot;&lt;never stopped&gt;&quot;");
    expect(failing).not.toContain("<b>missing");
  });

  it("shows the verdict and the abort", () => {
    expect(failing).toMatch(/data-testid="verdict"[^>]*>FAIL</);
    expect(failing).toContain("ABORTED: error_rate 0.86 above 0.8 for 5s");
    expect(renderHtml(passingRun())).toMatch(/data-testid="verdict"[^>]*>PASS</);
    expect(renderHtml(passingRun())).not.toContain("ABORTED");
  });

  it("shows an incomplete run as INCOMPLETE, in the verdict, the title and the suite summary", () => {
    const single = renderHtml(incompleteRun());
    expect(single).toMatch(/data-testid="verdict" data-verdict="incomplete">INCOMPLETE</);
    expect(single).toMatch(/<title>ChaosCart report — unread — INCOMPLETE<\/title>/);
    const suite = renderHtml([passingRun(), incompleteRun()]);
    expect(suite).toMatch(/data-testid="verdict" data-verdict="incomplete">INCOMPLETE</);
    expect(suite).toContain("2 experiments: 1 passed, 0 failed, 1 incomplete");
    expect(suite).toMatch(
      /data-testid="suite-row" data-verdict="incomplete">[\s\S]*?badge incomplete">INCOMPLETE</,
    );
  });

  it("marks a not-checked check as not checked, with its reason, never as a pass", () => {
    const row = failing.match(/<tr[^>]*data-check="money"[\s\S]*?<\/tr>/)?.[0] ?? "";
    expect(row).toContain('data-status="not-checked"');
    expect(row).toContain('class="status not-checked">not checked<');
    expect(row).toContain("payment provider records unavailable");
    expect(row).not.toMatch(/\bpass\b/);
    const failed = failing.match(/<tr[^>]*data-check="no-lost-ack"[\s\S]*?<\/tr>/)?.[0] ?? "";
    expect(failed).toContain('data-status="fail"');
    expect(failed).toContain("3 problem(s)");
  });

  it("draws three charts, each with one shaded rect per fault window and the phase boundaries", () => {
    const svgs = charts(failing);
    expect(svgs.map((svg) => attrs(svg.slice(0, svg.indexOf(">")))["data-testid"])).toEqual([
      "chart-throughput",
      "chart-errors",
      "chart-latency",
    ]);
    for (const svg of svgs) {
      const windows = [...svg.matchAll(/<rect class="fault-window[^>]*>/g)].map((m) => attrs(m[0]));
      expect(windows.map((w) => w["data-nemesis"])).toEqual([
        "kill east/inventory",
        "latency east/order-&gt;inventory",
      ]);
      const frame = attrs(svg.match(/<rect class="frame"[^>]*>/)?.[0] ?? "");
      const right = Number(frame.x) + Number(frame.width);
      const [kill, latency] = windows.map((w) => ({ x: Number(w.x), end: Number(w.x) + Number(w.width) }));
      // 15.2–20.3 s of 40 s; the latency fault was never stopped, so it is shaded to the end.
      expect(kill?.x).toBeCloseTo(Number(frame.x) + (15.2 / 40) * Number(frame.width), 0);
      expect(kill?.end).toBeCloseTo(Number(frame.x) + (20.3 / 40) * Number(frame.width), 0);
      expect(latency?.end).toBeCloseTo(right, 0);
      expect(svg.match(/data-testid="phase-boundary"/g)).toHaveLength(3);
      expect(svg).toContain('data-testid="abort-marker"');
    }
    expect(charts(renderHtml(passingRun())).join("")).not.toContain("fault-window");
  });

  it("breaks the latency line where a second had no completions", () => {
    const latency = charts(failing)[2] ?? "";
    const p50 = latency.match(/data-series="p50"><path d="([^"]*)"/)?.[1] ?? "";
    expect(p50.match(/M/g)).toHaveLength(2);
  });

  it("has the tables: hypotheses, SLOs per phase, fault log, measurements, settings, definition", () => {
    expect(failing.match(/data-testid="hypothesis-row"[^>]*data-status="fail"/g)).toHaveLength(1);
    expect(failing.match(/data-testid="slo-row"/g)).toHaveLength(3);
    expect(failing).toContain("68.14%");
    expect(failing.match(/data-testid="fault-row"/g)).toHaveLength(3);
    expect(failing).toContain("15.200 s");
    expect(failing).toContain("4200 ms");
    expect(failing).toContain("not measured");
    expect(failing).toContain("synchronous_commit");
    expect(failing).toMatch(/<pre class="definition"[^>]*>name: inventory-crash\n/);
  });

  it("shows failures and unknown outcomes by kind, with counts and an example op id", () => {
    const run = failingRun();
    run.failures = [
      {
        phase: "fault",
        outcome: "fail",
        kind: "order",
        status: 429,
        error: "rate_limited",
        count: 110,
        exampleOpId: 4021,
      },
      {
        phase: "fault",
        outcome: "info",
        kind: "order",
        error: "timeout after 2000 ms",
        count: 30,
        exampleOpId: 4107,
      },
    ];
    const html = renderHtml(run);
    const rows = [...html.matchAll(/<tr data-testid="failure-kind"[\s\S]*?<\/tr>/g)].map((m) =>
      [...m[0].matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1]),
    );
    expect(rows).toEqual([
      ["fault", "fail", "order", "429", "rate_limited", "110", "4021"],
      ["fault", "info", "order", "—", "timeout after 2000 ms", "30", "4107"],
    ]);
    expect(renderHtml(passingRun())).toContain("Not recorded (a result from before failures were grouped)");
    expect(renderHtml({ ...passingRun(), failures: [] })).toContain("No failures and no unknown outcomes.");
  });

  it("draws a readiness strip per service: ready, unready, unreachable, with the fault windows", () => {
    const run = failingRun();
    const sample = (service: string, time: number, status: "up" | "down" | "unreachable") => ({
      type: "probe" as const,
      process: "probe" as const,
      service,
      endpoint: "readyz" as const,
      status,
      time,
      wall: time,
    });
    run.probes = [
      sample("east/order", 0, "up"),
      sample("east/order", 15_500, "down"),
      sample("east/order", 21_000, "up"),
      sample("east/inventory", 0, "up"),
      sample("east/inventory", 15_300, "unreachable"),
      { ...sample("east/inventory", 0, "up"), endpoint: "healthz" },
    ];
    const html = renderHtml(run);
    const strips = [
      ...html.matchAll(/<g data-testid="readiness-strip" data-service="([^"]*)">([\s\S]*?)<\/g>/g),
    ];
    expect(strips.map((m) => m[1])).toEqual(["east/inventory", "east/order"]);
    const colors = (body: string) => [...body.matchAll(/fill="(#[0-9a-f]+)"/g)].map((m) => m[1]);
    expect(colors(strips[1]?.[2] ?? "")).toEqual(["#1a7f37", "#cf222e", "#1a7f37"]);
    expect(colors(strips[0]?.[2] ?? "")).toEqual(["#1a7f37", "#6e7781"]);
    const readiness =
      html.match(/<figure class="chart-figure" data-testid="readiness">[\s\S]*?<\/figure>/)?.[0] ?? "";
    expect(readiness.match(/<rect class="fault"/g)).toHaveLength(2);
    expect(renderHtml(passingRun())).toContain("Not recorded (a result from before readiness was sampled)");
  });

  it("renders a run that recorded nothing without failing", () => {
    const run = passingRun();
    Object.assign(run, { durationMs: 0, phases: [], slos: [], checks: [], hypotheses: [], timeline: [] });
    const html = renderHtml(run);
    expect(charts(html)).toHaveLength(3);
    expect(html).toContain(">no data<");
    expect(html).toContain("No invariants were checked.");
  });

  it("links a suite's summary rows to each experiment's section", () => {
    const html = renderHtml([passingRun(), failingRun()]);
    expect(html).toMatch(/data-testid="verdict"[^>]*>FAIL</);
    const links = [...html.matchAll(/<a href="#([^"]+)">/g)].map((m) => m[1]);
    expect(links).toHaveLength(2);
    for (const id of links) expect(html).toContain(`id="${id}"`);
    expect(html.match(/data-testid="suite-row"/g)).toHaveLength(2);
    expect(html.match(/data-testid="experiment"/g)).toHaveLength(2);
  });
});

describe("faultWindows", () => {
  const op = (type: "start" | "stop", nemesis: string, time: number, detail = {}): NemesisOp => ({
    type,
    process: "nemesis",
    nemesis,
    time,
    wall: time,
    detail,
  });

  it("pairs starts with stops per nemesis; an unmatched start lasts to the end", () => {
    expect(
      faultWindows([op("start", "a", 1), op("start", "b", 2), op("stop", "a", 3), op("start", "a", 4)]),
    ).toEqual([
      { nemesis: "a", start: 1, end: 3, failed: false },
      { nemesis: "b", start: 2, end: null, failed: false },
      { nemesis: "a", start: 4, end: null, failed: false },
    ]);
  });

  it("ignores no-ops, keeps a window open over a failed stop, flags a failed start", () => {
    expect(
      faultWindows([
        op("stop", "a", 0, { noop: true }),
        op("start", "a", 1, { error: "half done" }),
        op("start", "a", 2, { noop: true }),
        op("stop", "a", 3, { error: "could not undo" }),
        op("stop", "a", 5),
      ]),
    ).toEqual([{ nemesis: "a", start: 1, end: 5, failed: true }]);
  });
});
