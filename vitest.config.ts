import { defineConfig } from "vitest/config"

// Two projects: `unit` runs on MemoryEngine and pure functions (no daemon, TestClock),
// `integration` runs against the real dockerd that scripts/engine-env.sh starts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/reliability/**"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
