import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createDependencyPolicy, DependencyError } from "../../../src/shop/resilience/policies.ts";
import { POLICY_OPTIONS } from "../../support/policies.ts";

const OPTIONS = POLICY_OPTIONS;

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
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  // The saga skips the release of an order whose every reserve was refused before it was sent: only
  // right when the error says so, and never when an earlier attempt of the same call did start.
  describe("says whether a failed call may have reached the dependency", () => {
    const failure = (policy: ReturnType<typeof createDependencyPolicy>, fn: () => Promise<unknown>) =>
      policy.execute(fn).then(
        () => expect.unreachable("the call succeeded"),
        (error: unknown) => {
          expect(error).toBeInstanceOf(DependencyError);
          return error as DependencyError;
        },
      );
    const opened = async () => {
      const policy = createDependencyPolicy(
        "test",
        { ...OPTIONS, maxAttempts: 1, breakerMinCalls: 2, breakerWindow: 2 },
        { registry: new Registry(), log: pino({ level: "silent" }) },
      );
      for (let i = 0; i < 2; i++)
        await failure(policy, () => Promise.reject(new DependencyError("test", "down")));
      expect(policy.breakerState()).toBe("open");
      return policy;
    };

    it("a call that ran and failed: may have", async () => {
      const policy = createDependencyPolicy(
        "test",
        { ...OPTIONS, maxAttempts: 1 },
        {
          registry: new Registry(),
          log: pino({ level: "silent" }),
        },
      );
      const error = await failure(policy, () => Promise.reject(new Error("reset")));
      expect(error.mayHaveReachedDependency).toBe(true);
    });

    it("a call the open breaker refused before any attempt: certainly not", async () => {
      const policy = await opened();
      let ran = false;
      const error = await failure(policy, async () => {
        ran = true;
      });
      expect(error.message).toBe("test: breaker_open");
      expect(ran).toBe(false);
      expect(error.mayHaveReachedDependency).toBe(false);
    });

    it("a call whose first attempt ran and whose retry the breaker refused: may have", async () => {
      const policy = createDependencyPolicy(
        "test",
        { ...OPTIONS, maxAttempts: 3, breakerMinCalls: 1, breakerWindow: 1, breakerThreshold: 0.5 },
        { registry: new Registry(), log: pino({ level: "silent" }) },
      );
      let attempts = 0;
      const error = await failure(policy, () => {
        attempts++;
        return Promise.reject(new DependencyError("test", "timeout"));
      });
      expect(attempts).toBe(1);
      expect(error.message).toBe("test: breaker_open");
      expect(error.mayHaveReachedDependency).toBe(true);
    });
  });
});
