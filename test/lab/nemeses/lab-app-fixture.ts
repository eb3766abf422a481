// A small service with the lab endpoints, in its own process (so blocking its event loop does not block
// the test's). env LAB_TOKEN: the token ("" = none). Prints {"port": n} once listening.
import { HybridLogicalClock } from "../../../src/shop/domain/hlc.ts";
import { createApp } from "../../../src/shop/http/app.ts";
import { registerLabEndpoints } from "../../../src/shop/http/lab-endpoints.ts";
import { listen } from "../../../src/shop/http/listen.ts";

const clock = new HybridLogicalClock();
const app = createApp({ service: "lab-fixture", logLevel: "silent", ready: async () => {} });
registerLabEndpoints(app, { token: process.env.LAB_TOKEN || undefined, clock });
app.get("/ping", async () => ({ pong: true }));
app.get("/stamp", async () => ({ stamp: clock.now(), now: Date.now() }));
const { port } = await listen(app, "127.0.0.1", 0);
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
