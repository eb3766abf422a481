import { describe, expect, it } from "vitest";
import { FaultSpecError, parsePartitionSpec, parseToxicSpec } from "../../../src/lab/faults/spec.ts";
import { TOXICS } from "../../../src/lab/faults/toxics/index.ts";

function fieldOf(input: unknown): string | undefined {
  try {
    parseToxicSpec(input);
    return undefined;
  } catch (error) {
    if (error instanceof FaultSpecError) return error.field;
    throw error;
  }
}

describe("toxic specs", () => {
  it("fills in defaults", () => {
    expect(parseToxicSpec({ type: "latency", direction: "upstream", attributes: { latencyMs: 5 } })).toEqual({
      type: "latency",
      direction: "upstream",
      toxicity: 1,
      attributes: { latencyMs: 5, jitterMs: 0 },
    });
    expect(parseToxicSpec({ type: "timeout", direction: "downstream" }).attributes).toEqual({ timeoutMs: 0 });
  });

  it.each([
    [{ direction: "upstream", attributes: {} }, "type"],
    [{ type: "lag", direction: "upstream" }, "type"],
    [{ type: "latency", direction: "sideways", attributes: { latencyMs: 1 } }, "direction"],
    [{ type: "latency", direction: "upstream", toxicity: 1.5, attributes: { latencyMs: 1 } }, "toxicity"],
    [{ type: "latency", direction: "upstream", attributes: {} }, "attributes.latencyMs"],
    [{ type: "latency", direction: "upstream", attributes: { latencyMs: -1 } }, "attributes.latencyMs"],
    [{ type: "latency", direction: "upstream", attributes: { latencyMs: "100" } }, "attributes.latencyMs"],
    [{ type: "latency", direction: "upstream", attributes: { latency: 100 } }, "attributes.latencyMs"],
    [{ type: "latency", direction: "upstream", attributes: { latencyMs: 1, jiter: 2 } }, "attributes.jiter"],
    [{ type: "bandwidth", direction: "upstream", attributes: { rateKBps: 0 } }, "attributes.rateKBps"],
    [
      { type: "slicer", direction: "upstream", attributes: { averageSize: 10, sizeVariation: 10 } },
      "attributes.sizeVariation",
    ],
    [{ type: "limit_data", direction: "upstream", attributes: { bytes: 1.5 } }, "attributes.bytes"],
    [{ type: "timeout", direction: "upstream", attributes: "soon" }, "attributes"],
    [{ type: "timeout", direction: "upstream", name: "x" }, "name"],
    ["latency", "spec"],
  ])("%j is rejected naming %s", (input, field) => {
    expect(fieldOf(input)).toBe(field);
  });

  it("the registry is keyed by each toxic's own type name", () => {
    for (const [type, toxic] of Object.entries(TOXICS)) expect(toxic.type).toBe(type);
  });
});

describe("partition specs", () => {
  it("defaults to both directions and names a bad direction", () => {
    expect(parsePartitionSpec(undefined)).toEqual({ direction: "both" });
    expect(parsePartitionSpec({ direction: "upstream" })).toEqual({ direction: "upstream" });
    expect(() => parsePartitionSpec({ direction: "up" })).toThrow(/^body\.direction: /);
  });
});
