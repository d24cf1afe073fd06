/**
 * The load test (`npm run test:load`, not part of `npm test`: it takes minutes): 100 containers
 * supervised at once for 2 minutes with stats. Every stream keeps delivering states, teardown
 * removes everything, and the process's memory stays flat after warm-up. It prints its figures.
 *
 * EFFECT_DOCKER_LOAD_CONTAINERS, EFFECT_DOCKER_LOAD_SECONDS and EFFECT_DOCKER_LOAD_LAUNCH (how many
 * start at once, default 8) change the size, the length and the launch rate.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Effect, Fiber, Stream } from "effect"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const containers = Number(process.env.EFFECT_DOCKER_LOAD_CONTAINERS ?? 100)
const seconds = Number(process.env.EFFECT_DOCKER_LOAD_SECONDS ?? 120)
const launchConcurrency = Number(process.env.EFFECT_DOCKER_LOAD_LAUNCH ?? 8)
const warmUpSeconds = Math.min(30, Math.floor(seconds / 4))

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10

interface Counter {
  states: number
  withStats: number
  lastAt: number
  running: boolean
  ended?: string
}

layer(liveLayer, { excludeTestServices: true })("reliability: load (live engine)", (it) => {
  it.effect(
    `${containers} containers supervised for ${seconds} s with stats: states keep coming, memory stays flat, teardown removes all`,
    () =>
      Effect.gen(function* () {
        const labels = testLabels("reliability-load")
        const counters: Array<Counter> = Array.from({ length: containers }, () => ({
          states: 0,
          withStats: 0,
          lastAt: 0,
          running: false
        }))
        const memory: Array<{ readonly at: number; readonly rss: number; readonly heapUsed: number }> = []
        const figures = yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({
            app: labels["dev.effect-docker.app"] ?? "test-reliability-load",
            labels
          })
          const began = Date.now()
          // Launched a few at a time, each counted as launched once it runs: 100 starts at once
          // overwhelm a 2-core engine (the connect deadline fails them, see the README).
          const runs = yield* Effect.forEach(
            counters,
            (counter, index) =>
              Effect.gen(function* () {
                const fiber = yield* supervisor
                  .run({
                    name: `load-${index}`,
                    image: "busybox:latest",
                    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                    stopTimeout: "2 seconds"
                  })
                  .pipe(
                    Stream.runForEach((state) =>
                      Effect.sync(() => {
                        counter.states++
                        counter.lastAt = Date.now()
                        if (state.status === "running") counter.running = true
                        if (state.cpuPercent !== undefined) counter.withStats++
                      })
                    ),
                    Effect.onExit((exit) =>
                      Effect.sync(() => {
                        counter.ended = exit._tag === "Success" ? "ended" : String(Cause.squash(exit.cause))
                      })
                    ),
                    Effect.forkDetach
                  )
                yield* Effect.sleep("100 millis").pipe(
                  Effect.repeat({ until: () => counter.running || counter.ended !== undefined })
                )
                if (counter.ended !== undefined) {
                  return yield* Effect.die(new Error(`load-${index} ended before it ran: ${counter.ended}`))
                }
                return fiber
              }),
            { concurrency: launchConcurrency }
          )
          yield* Effect.addFinalizer(() => Fiber.interruptAll(runs))
          const allRunningMs = Date.now() - began

          const sampled = Date.now()
          while (Date.now() - sampled < seconds * 1000) {
            const usage = process.memoryUsage()
            memory.push({ at: (Date.now() - sampled) / 1000, rss: usage.rss, heapUsed: usage.heapUsed })
            yield* Effect.sleep("5 seconds")
          }
          const checkedAt = Date.now()
          const silent = counters.filter(
            (counter) => counter.ended !== undefined || checkedAt - counter.lastAt > 15_000
          ).length
          const statesAtEnd = counters.map((counter) => counter.states)

          const teardownBegan = Date.now()
          yield* Fiber.interruptAll(runs)
          const teardownMs = Date.now() - teardownBegan
          const left = (yield* supervisor.list()).length
          return { allRunningMs, silent, statesAtEnd, teardownMs, left }
        }).pipe(Effect.scoped)

        const afterWarmUp = memory.filter((sample) => sample.at >= warmUpSeconds)
        const first = afterWarmUp[0] ?? memory[0]
        const last = memory.at(-1)
        const heapGrowth = (last?.heapUsed ?? 0) - (first?.heapUsed ?? 0)
        const rssGrowth = (last?.rss ?? 0) - (first?.rss ?? 0)
        const sorted = [...figures.statesAtEnd].sort((a, b) => a - b)
        const report = {
          containers,
          seconds,
          allRunningSeconds: figures.allRunningMs / 1000,
          statesPerContainer: {
            min: sorted[0],
            median: sorted[Math.floor(sorted.length / 2)],
            max: sorted.at(-1)
          },
          containersWithStats: counters.filter((counter) => counter.withStats > 0).length,
          silentForOver15s: figures.silent,
          teardownSeconds: figures.teardownMs / 1000,
          leftAfterTeardown: figures.left,
          memoryMiB: {
            afterWarmUp: { rss: mib(first?.rss ?? 0), heapUsed: mib(first?.heapUsed ?? 0) },
            atEnd: { rss: mib(last?.rss ?? 0), heapUsed: mib(last?.heapUsed ?? 0) },
            growth: { rss: mib(rssGrowth), heapUsed: mib(heapGrowth) },
            samples: memory.map((sample) => [sample.at, mib(sample.heapUsed)])
          }
        }
        console.log(`load test figures: ${JSON.stringify(report, null, 2)}`)

        assert.strictEqual(report.containersWithStats, containers, "every stream delivered stats")
        assert.strictEqual(figures.silent, 0, "no stream went silent")
        assert.strictEqual(figures.left, 0)
        // Flat: the heap after warm-up grows by less than 40 MiB over the run (GC noise is a few).
        assert.isBelow(mib(heapGrowth), 40)
        yield* assertNoLeftovers(labels)
      }),
    15 * 60_000
  )
})
