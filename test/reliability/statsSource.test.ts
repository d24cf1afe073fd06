/**
 * `statsSource: "auto"` over the second, TLS engine: its containers may well run on this
 * machine, but an engine reached over TCP is not known to be local, so the engine's stats are used.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { assertNoLeftovers, testLabels } from "../support/live.js"
import { chosenCount, runUntilStats, statsCountingEngine } from "../support/statsCounting.js"
import { secondEngineLayer } from "./support.js"

const labels = testLabels("reliability-stats-source")

describe("stats sources (TLS engine)", () => {
  it.live("auto uses the engine's stream over a TLS engine, without a cgroup check", () =>
    Effect.gen(function* () {
      const { engine, counts } = yield* statsCountingEngine
      const engineBefore = yield* chosenCount("engine")
      const state = yield* runUntilStats(engine, { app: "test-stats-tls", labels })
      assert.isDefined(state?.cpuPercent)
      assert.isAbove(state?.memoryUsed ?? 0, 0)
      assert.deepStrictEqual(yield* counts, { streams: 1, samples: 0 })
      assert.strictEqual((yield* chosenCount("engine")) - engineBefore, 1)
      yield* assertNoLeftovers(labels)
    }).pipe(Effect.provide(secondEngineLayer()))
  )
})
