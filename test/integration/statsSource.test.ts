import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"
import { chosenCount, runUntilStats, statsCountingEngine } from "../support/statsCounting.js"

const labels = testLabels("stats-source")
const app = "test-stats-source"

layer(liveLayer, { excludeTestServices: true })("stats sources (local engine)", (it) => {
  it.effect("auto picks the cgroup source here: one engine sample for the check, no stats stream", () =>
    Effect.gen(function* () {
      const { engine, counts } = yield* statsCountingEngine
      const cgroupBefore = yield* chosenCount("cgroup")
      const state = yield* runUntilStats(engine, { app, labels })
      assert.isDefined(state?.cpuPercent)
      assert.isAbove(state?.memoryUsed ?? 0, 0)
      assert.isAbove(state?.memoryLimit ?? 0, 0)
      assert.deepStrictEqual(yield* counts, { streams: 0, samples: 1 })
      assert.strictEqual((yield* chosenCount("cgroup")) - cgroupBefore, 1)
      yield* assertNoLeftovers(labels)
    })
  )

  it.effect(
    "statsSource cgroup asks the engine for no stats at all, and the states carry CPU and memory",
    () =>
      Effect.gen(function* () {
        const { engine, counts } = yield* statsCountingEngine
        const state = yield* runUntilStats(engine, { app, labels, statsSource: "cgroup" })
        assert.isAtLeast(state?.cpuPercent ?? -1, 0)
        assert.isAbove(state?.memoryUsed ?? 0, 0)
        assert.deepStrictEqual(yield* counts, { streams: 0, samples: 0 })
        yield* assertNoLeftovers(labels)
      })
  )

  it.effect("a spec's statsSource wins: engine on a cgroup Supervisor opens the engine's stream", () =>
    Effect.gen(function* () {
      const { engine, counts } = yield* statsCountingEngine
      const state = yield* runUntilStats(
        engine,
        { app, labels, statsSource: "cgroup" },
        { statsSource: "engine" }
      )
      assert.isAbove(state?.memoryUsed ?? 0, 0)
      assert.deepStrictEqual(yield* counts, { streams: 1, samples: 0 })
      yield* assertNoLeftovers(labels)
    })
  )
})
