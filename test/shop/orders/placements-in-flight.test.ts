import { expect, it } from "vitest";
import { PlacementsInFlight } from "../../../src/shop/orders/placements-in-flight.ts";

it("knows a key while its placement is under way, and forgets it after", () => {
  const placements = new PlacementsInFlight();
  const first = placements.start("key-1");
  const second = placements.start("key-1");
  first();
  first(); // idempotent
  expect(placements.has("key-1")).toBe(true);
  second();
  expect(placements.has("key-1")).toBe(false);
  expect(placements.size).toBe(0);
});

it("a placement of the watched key that starts during the read overtakes it, even if it is done before the read ends", () => {
  const placements = new PlacementsInFlight();
  const watch = placements.watch("key-1");
  const other = placements.watch("key-2");
  placements.start("key-1")();
  expect(watch.overtaken).toBe(true);
  expect(other.overtaken).toBe(false);
  watch.stop();
  other.stop();
  expect(placements.size).toBe(0);
});

it("a placement that started before the watch does not count as overtaking (has() covers it)", () => {
  const placements = new PlacementsInFlight();
  const done = placements.start("key-1");
  const watch = placements.watch("key-1");
  expect(placements.has("key-1")).toBe(true);
  expect(watch.overtaken).toBe(false);
  done();
  watch.stop();
});
