import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests that launch PostgreSQL clusters and service processes share 2 cores;
    // running files one at a time keeps timing-sensitive fault tests meaningful.
    fileParallelism: false,
  },
});
