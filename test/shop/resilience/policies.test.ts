import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createDependencyPolicy } from "../../../src/shop/resilience/policies.ts";

const OPTIONS = {
  timeoutMs: 1_000,
  maxAttempts: 2,
  initialBackoffMs: 10,
  maxBackoffMs: 50,
  breakerThreshold: 0.5,
  breakerWindow: 20,
  breakerMinCalls: 10,
  halfOpenAfterMs: 1_000,
  bulkheadLimit: 64,
  bulkheadQueue: 64,
};

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
afterEach(() => {
  process.off("warning", onWarning);
  warnings.length = 0;
});

describe("dependency policy", () => {
  it("takes as many concurrent calls as its bulkhead admits without a listener-leak warning", async () => {
    process.on("warning", onWarning);
    const policy = createDependencyPolicy("test", OPTIONS, {
      registry: new Registry(),
      log: pino({ level: "silent" }),
    });
    const calls = Array.from({ length: OPTIONS.bulkheadLimit + OPTIONS.bulkheadQueue }, (_, i) =>
      policy.execute(() => new Promise((resolve) => setTimeout(() => resolve(i), 20))),
    );
    expect(await Promise.all(calls)).toHaveLength(128);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    console.log(
      "WARNINGS",
      warnings.map((w) => w.name),
    );
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });
});
