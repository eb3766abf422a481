import { describe, expect, it } from "vitest";
import { renderJunit } from "../../../src/lab/report/junit.ts";
import { failingRun, incompleteRun, passingRun } from "./fixtures.ts";

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(text: string): string {
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(text)) throw new Error(`bare & in ${text}`);
  if (text.includes("<")) throw new Error(`bare < in ${text}`);
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (_, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(Number.parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number(e.slice(1)))
        : (ENTITIES[e] ?? ""),
  );
}

/** A small well-formedness check and tree builder: enough to count elements and read attributes. */
function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const root: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack = [root];
  const token = /<(\/?)([\w:-]+)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  let consumed = 0;
  for (const m of body.matchAll(token)) {
    consumed += m[0].length;
    const parent = stack[stack.length - 1];
    if (!parent) throw new Error("unbalanced");
    if (m[5] !== undefined) {
      parent.text += decode(m[5]);
      continue;
    }
    const [, closing, name = "", rawAttrs = "", selfClosing] = m;
    if (closing) {
      if (parent.name !== name) throw new Error(`</${name}> closes <${parent.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      const key = a[1] ?? "";
      if (key in attrs) throw new Error(`duplicate attribute ${key}`);
      attrs[key] = decode(a[2] ?? "");
    }
    const element: XmlElement = { name, attrs, children: [], text: "" };
    parent.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  if (consumed !== body.length)
    throw new Error(`not XML at offset ${consumed}: ${body.slice(consumed, consumed + 40)}`);
  if (stack.length !== 1 || root.children.length !== 1) throw new Error("not exactly one root element");
  return root.children[0] as XmlElement;
}

function all(element: XmlElement, name: string): XmlElement[] {
  return element.children.flatMap((c) => [...(c.name === name ? [c] : []), ...all(c, name)]);
}

describe("renderJunit", () => {
  const xml = renderJunit([passingRun(), failingRun()]);
  const root = parseXml(xml);

  it("is well-formed XML with one testsuite per experiment and one testcase per check and hypothesis", () => {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(root.name).toBe("testsuites");
    const suites = all(root, "testsuite");
    expect(suites.map((s) => s.attrs.name)).toEqual(["baseline", "inventory-crash"]);
    expect(suites.map((s) => all(s, "testcase").length)).toEqual([3, 6]);
    expect(all(root, "testcase")).toHaveLength(9);
    expect(all(root, "failure")).toHaveLength(2);
    expect(all(root, "skipped")).toHaveLength(1);
    expect(root.attrs).toMatchObject({
      tests: "9",
      failures: "2",
      skipped: "1",
      errors: "0",
      time: "70.000",
    });
    expect(suites[1]?.attrs).toMatchObject({ tests: "6", failures: "2", skipped: "1", time: "40.000" });
    expect(suites[1]?.attrs.timestamp).toBe("2026-11-21T20:00:00");
    for (const testcase of all(root, "testcase")) expect(testcase.attrs.time).toBe("0");
  });

  it("reports a failed check with its problems and a failed hypothesis", () => {
    const suite = all(root, "testsuite")[1] as XmlElement;
    const cases = all(suite, "testcase");
    const lostAck = cases.find((c) => c.attrs.name === "no-lost-ack");
    const failure = lostAck?.children[0];
    expect(failure?.name).toBe("failure");
    expect(failure?.attrs.message).toBe(
      "3 violation(s): order o-17 was acknowledged CONFIRMED but is missing",
    );
    expect(failure?.text).toContain("order o-99 was acknowledged CONFIRMED but is <b>missing</b>");
    const availability = cases.find((c) => c.attrs.name === "availability (recovery) ≥ 0.99");
    expect(availability?.attrs.classname).toBe("inventory-crash.hypotheses");
    expect(availability?.children[0]?.name).toBe("failure");
  });

  it("reports a not-checked check as skipped, never as a pass", () => {
    const money = all(root, "testcase").find((c) => c.attrs.name === "money");
    expect(money?.children.map((c) => c.name)).toEqual(["skipped"]);
    expect(money?.children[0]?.attrs.message).toBe("not checked: payment provider records unavailable");
  });

  it("escapes names, messages and bodies, and drops characters XML cannot carry", () => {
    const run = failingRun();
    run.experiment.name = `a "quoted" <name> & 'more'`;
    const [check] = run.checks;
    if (!check) throw new Error("fixture");
    check.status = "fail";
    check.summary = "line one\nline two \u0001 ]]> <x/>";
    check.problems = ["</failure><testcase name='evil'/>"];
    const parsed = parseXml(renderJunit([run]));
    const suite = all(parsed, "testsuite")[0];
    expect(suite?.attrs.name).toBe(`a "quoted" <name> & 'more'`);
    const failure = all(parsed, "failure")[0];
    expect(failure?.attrs.message).toBe("line one\nline two \uFFFD ]]> <x/>");
    expect(failure?.text).toBe("</failure><testcase name='evil'/>");
    expect(all(parsed, "testcase")).toHaveLength(6);
  });

  it("never leaves a failed verdict green", () => {
    const run = passingRun();
    run.verdict = "fail";
    run.aborted = { reason: "error_rate above 0.8", atMs: 1000 };
    const failures = all(parseXml(renderJunit([run])), "failure");
    expect(failures).toHaveLength(1);
    expect(failures[0]?.attrs.message).toContain("aborted: error_rate above 0.8");
  });

  it("never leaves an incomplete verdict green: a failing verdict case names what was not checked", () => {
    const suite = parseXml(renderJunit([incompleteRun()]));
    expect(all(suite, "skipped")).toHaveLength(1);
    const failures = all(suite, "failure");
    expect(failures).toHaveLength(1);
    expect(failures[0]?.attrs.message).toBe("verdict incomplete (not checked: money)");
    expect(all(suite, "testsuite")[0]?.attrs.failures).toBe("1");
  });
});
