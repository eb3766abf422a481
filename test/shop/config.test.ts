import { describe, expect, it } from "vitest";
import { ConfigError, inventoryEnv, orderEnv, readEnv } from "../../src/shop/config.ts";
import { paymentSimEnv } from "../../src/shop/payments/config.ts";

const SERVICE_TOKEN = "config-test-service-token";
const BASE = {
  CHAOSCART_DATABASE_URL: "postgres://localhost/chaoscart",
  CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
  CHAOSCART_INVENTORY_URL: "http://127.0.0.1:7102",
  CHAOSCART_PAYMENT_URL: "http://127.0.0.1:7104",
};

describe("CHAOSCART_LAB_TOKEN", () => {
  it.each([
    ["inventory", inventoryEnv],
    ["order", orderEnv],
    ["payment-sim", paymentSimEnv],
  ] as const)("is read and validated by the %s configuration", (_role, shape) => {
    expect(readEnv(shape, { ...BASE, CHAOSCART_LAB_TOKEN: "lab-token-123" }).CHAOSCART_LAB_TOKEN).toBe(
      "lab-token-123",
    );
    expect(readEnv(shape, BASE).CHAOSCART_LAB_TOKEN).toBeUndefined();
    expect(readEnv(shape, { ...BASE, CHAOSCART_LAB_TOKEN: "" }).CHAOSCART_LAB_TOKEN).toBeUndefined();
    const short = () => readEnv(shape, { ...BASE, CHAOSCART_LAB_TOKEN: "short" });
    expect(short).toThrow(ConfigError);
    expect(short).toThrow(/CHAOSCART_LAB_TOKEN: must be at least 8 characters \(got "short"\)/);
  });
});

describe("the sold-out gate's settings", () => {
  it("default to a 500 ms mark and a 100 ms poll; 0 turns the gate off; a bad value names the variable", () => {
    const config = readEnv(orderEnv, BASE);
    expect(config.CHAOSCART_SOLD_OUT_GATE_TTL_MS).toBe(500);
    expect(config.CHAOSCART_SOLD_OUT_GATE_POLL_MS).toBe(100);
    expect(
      readEnv(orderEnv, { ...BASE, CHAOSCART_SOLD_OUT_GATE_TTL_MS: "0" }).CHAOSCART_SOLD_OUT_GATE_TTL_MS,
    ).toBe(0);
    expect(() => readEnv(orderEnv, { ...BASE, CHAOSCART_SOLD_OUT_GATE_POLL_MS: "0" })).toThrow(
      /CHAOSCART_SOLD_OUT_GATE_POLL_MS: .* \(got "0"\)/,
    );
    expect(() => readEnv(orderEnv, { ...BASE, CHAOSCART_SOLD_OUT_GATE_TTL_MS: "-1" })).toThrow(
      /CHAOSCART_SOLD_OUT_GATE_TTL_MS/,
    );
  });
});
