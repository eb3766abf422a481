import { expect, it } from "vitest";
import { importsOf, isUnitTest, UNIT_TESTS } from "../vitest.unit.config.ts";

it("test:unit selects by imports: no PostgreSQL client, test support, child process or launcher", () => {
  expect(UNIT_TESTS).toContain("test/unit-selection.test.ts");
  expect(UNIT_TESTS).toContain("test/shop/domain/allocation.test.ts");
  expect(UNIT_TESTS.some((file) => file.endsWith("flash-sale.test.ts"))).toBe(false);
  expect(UNIT_TESTS.some((file) => file.endsWith("launcher-direct.test.ts"))).toBe(false);
  // Spelled indirectly: this file's own text must not read as importing them.
  const from = (module: string) => `import x ${"from"} "${module}";`;
  for (const module of ["postgres", "../support/postgres.ts", "../../src/lab/topology/launcher.ts"])
    expect(isUnitTest(from(module)), module).toBe(false);
  expect(isUnitTest(`await ${"import"}("node:child_process");`)).toBe(false);
  expect(isUnitTest(from("../../src/shop/domain/allocation.ts"))).toBe(true);
  expect(importsOf(`${from("a")}\n${from("b")}`)).toEqual(["a", "b"]);
});
