import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type ServiceApp } from "../../../src/shop/http/app.ts";

const SECRET = 'relation "stock_secret" does not exist at 10.0.0.7:5432';
const logLines: string[] = [];
let app: ServiceApp;

beforeAll(async () => {
  app = createApp({
    service: "test",
    logLevel: "error",
    ready: async () => {},
    logStream: new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  });
  app.get("/boom", async () => {
    throw new Error(SECRET);
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

describe("server errors", () => {
  it("answer a stable code without the internal message, and log the detail with the request id", async () => {
    const response = await app.inject({ method: "GET", url: "/boom", headers: { "x-request-id": "req-1" } });
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("1");
    expect(response.body).not.toContain("stock_secret");
    expect(response.body).not.toContain("10.0.0.7");
    expect(response.json()).toEqual({
      error: "unavailable",
      message: expect.stringContaining("req-1"),
      requestId: "req-1",
    });
    const logged = logLines.map((line) => JSON.parse(line)).find((line) => line.msg === "request failed");
    expect(logged?.err?.message).toBe(SECRET);
    expect(logged?.err?.stack).toContain("error-bodies.test.ts");
    expect(logged?.reqId).toBe("req-1");
  });
});
