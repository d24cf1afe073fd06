import { defineConfig } from "vitest/config"

// vitest's reporter calls Map.groupBy (Node 21+) when it prints a failure; on Node 20, the
// machine's default, it would crash and hide the assertion. Give it the function.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value: <K, T>(items: Iterable<T>, keyOf: (item: T, index: number) => K): Map<K, Array<T>> => {
      const groups = new Map<K, Array<T>>()
      let index = 0
      for (const item of items) {
        const key = keyOf(item, index++)
        const group = groups.get(key)
        if (group === undefined) groups.set(key, [item])
        else group.push(item)
      }
      return groups
    }
  })
}

// Two projects: `unit` runs on MemoryEngine and pure functions (no daemon, TestClock),
// `integration` runs against the real dockerd that scripts/engine-env.sh starts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
          exclude: ["test/integration/**", "test/reliability/**", "test/swarm/**"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/engineSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        // Swarm mode on a 3-node swarm of its own (scripts/swarm-engines.sh, started by the
        // global setup when it does not answer), never on the shared engines. Files run one at a
        // time: a drained or killed node changes where every other file's tasks are placed.
        test: {
          name: "swarm",
          include: ["test/swarm/**/*.test.ts"],
          globalSetup: ["test/support/engineSetup.ts", "test/swarm/globalSetup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      },
      {
        // Faults, bad input and security against the real engine and a second, TLS-only engine
        // (scripts/second-engine.sh, started by the global setup when it does not answer; the
        // first engine, like the integration project's, by test/support/engineSetup.ts). The
        // 100-container load test is not here: `npm run test:load`.
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          exclude: ["test/reliability/**/*.load.test.ts"],
          globalSetup: ["test/support/engineSetup.ts", "test/reliability/globalSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
