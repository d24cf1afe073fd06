import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Metric, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as ContainerState from "../src/ContainerState.js"
import { type CheckOutcome, choose, needsCheck } from "../src/internal/supervisorStats.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "unit-stats"
const instanceId = "s1"
const megabyte = 1024 * 1024

const memoryLayer = MemoryEngine.layer({ images: [image] })

/** Moves the test clock forward in small steps so that every fiber woken on the way runs. */
const advance = (millis: number, step = 100) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += step) yield* TestClock.adjust(`${step} millis`)
  })

const chosen = (source: "engine" | "cgroup" | "none") =>
  Metric.value(Metric.withAttributes(Supervisor.metrics.statsSource, { source })).pipe(
    Effect.map((state) => state.count)
  )

/**
 * Runs `worker` (50% CPU, memory growing 1 MiB a second, exiting after `runFor` ms) under a
 * Supervisor with `options`, and returns its states with the time each arrived.
 */
const runWorker = (
  options: Partial<Supervisor.Options>,
  spec: { readonly statsSource?: "auto" | "engine" | "cgroup" } = {},
  runFor = 21_000
) =>
  Effect.gen(function* () {
    const memory = yield* MemoryEngine.MemoryEngine
    yield* memory.script(
      { container: `${app}-${instanceId}-worker` },
      {
        exit: { after: `${runFor} millis`, code: 0 },
        stats: (second) => ({ cpuPercent: 50, memoryUsage: (second + 1) * megabyte })
      }
    )
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const supervisor = yield* Supervisor.make({ app, instanceId, ...options })
        const fiber = yield* supervisor.run({ name: "worker", image, ...spec }).pipe(
          Stream.mapEffect((state) => Effect.map(Clock.currentTimeMillis, (at) => ({ state, at }))),
          Stream.runCollect,
          Effect.forkChild
        )
        const openWhileRunning = yield* advance(runFor / 2).pipe(Effect.andThen(memory.openStreams))
        yield* advance(runFor / 2 + 2_000)
        const states = yield* Fiber.join(fiber)
        return { states, openWhileRunning, calls: yield* memory.calls }
      })
    )
  })

/** Each change of memory used while running, with when it arrived (ms after the first). */
const memoryTimeline = (
  states: ReadonlyArray<{ readonly state: ContainerState.ContainerState; readonly at: number }>
) => {
  const changes: Array<{ at: number; used: number | undefined; cpu: number | undefined }> = []
  for (const { state, at } of states) {
    if (state.status !== "running" || state.memoryUsed === undefined) continue
    if (changes[changes.length - 1]?.used === state.memoryUsed) continue
    changes.push({ at, used: state.memoryUsed, cpu: state.cpuPercent })
  }
  const first = changes[0]?.at ?? 0
  return changes.map((change) => ({ ...change, at: change.at - first }))
}

describe("Supervisor stats sources (MemoryEngine, TestClock)", () => {
  it.effect(
    "statsInterval 5 s with the engine source: one one-shot sample every 5 s, CPU % over the interval, no stream",
    () =>
      Effect.gen(function* () {
        const { states, openWhileRunning, calls } = yield* runWorker({
          statsSource: "engine",
          statsInterval: "5 seconds"
        })
        const timeline = memoryTimeline(states)
        assert.deepStrictEqual(
          timeline.map(({ at, used }) => ({ at, used })),
          [0, 5, 10, 15, 20].map((second) => ({ at: second * 1000, used: (second + 1) * megabyte }))
        )
        // The first sample has no previous one; every later one is the CPU of the 5 s before it.
        assert.strictEqual(timeline[0]?.cpu, undefined)
        for (const { cpu } of timeline.slice(1)) assert.closeTo(cpu ?? 0, 50, 0.01)
        assert.strictEqual(openWhileRunning.stats, 0, "no stats stream is opened")
        const statsOnce = calls.filter((call) => call.operation === "statsOnce")
        assert.strictEqual(statsOnce.length, 5)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "the default (auto, 1 s) on the in-memory engine uses the engine's stream, counted once per container",
    () =>
      Effect.gen(function* () {
        const before = yield* chosen("engine")
        const { states, openWhileRunning, calls } = yield* runWorker({}, {}, 4_000)
        assert.deepStrictEqual(
          memoryTimeline(states).map(({ at }) => at),
          [0, 1000, 2000, 3000]
        )
        assert.strictEqual(openWhileRunning.stats, 1)
        assert.isFalse(
          calls.some((call) => call.operation === "statsOnce"),
          "no check sample: not a local engine"
        )
        assert.strictEqual((yield* chosen("engine")) - before, 1)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "statsSource cgroup on the in-memory engine: no stats at all (it has no cgroups), none asked of the engine",
    () =>
      Effect.gen(function* () {
        const before = yield* chosen("none")
        const { states, openWhileRunning, calls } = yield* runWorker(
          { statsSource: "engine" },
          { statsSource: "cgroup" },
          4_000
        )
        assert.deepStrictEqual(memoryTimeline(states), [])
        assert.isTrue(states.some(({ state }) => state.status === "running"))
        assert.strictEqual(openWhileRunning.stats, 0)
        assert.isFalse(calls.some((call) => call.operation === "statsOnce" || call.operation === "stats"))
        assert.strictEqual((yield* chosen("none")) - before, 1, "the spec's source wins")
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("a statsInterval that is not a positive duration is an InvalidSpec", () =>
    Effect.gen(function* () {
      const error = yield* Supervisor.make({ app, statsInterval: "0 seconds" }).pipe(
        Effect.scoped,
        Effect.flip
      )
      assert.deepStrictEqual(error._tag === "InvalidSpec" ? error.field : error._tag, "statsInterval")
    }).pipe(Effect.provide(memoryLayer))
  )
})

describe("choosing the stats source", () => {
  const local = { _tag: "Unix", socketPath: "/var/run/docker.sock" } as const
  const tls = { _tag: "Tcp", host: "10.0.0.5", port: 2376, tls: true } as const
  const agrees: CheckOutcome = { _tag: "Agrees" }

  it("auto checks only a local socket on Linux", () => {
    assert.isTrue(needsCheck("auto", local, "linux"))
    assert.isFalse(needsCheck("auto", local, "darwin"))
    assert.isFalse(needsCheck("auto", tls, "linux"))
    assert.isFalse(needsCheck("auto", { _tag: "Ssh", host: "box", port: 22 }, "linux"))
    assert.isFalse(needsCheck("auto", undefined, "linux"))
    assert.isFalse(needsCheck("engine", local, "linux"))
    assert.isFalse(needsCheck("cgroup", local, "linux"))
  })

  it("auto: cgroup only when the check agrees, else the engine, saying why", () => {
    const auto = (
      check: CheckOutcome | undefined,
      endpoint: Parameters<typeof choose>[0]["endpoint"] = local
    ) => choose({ source: "auto", endpoint, platform: "linux", check })
    assert.strictEqual(auto(agrees).source, "cgroup")
    const disagrees = auto({
      _tag: "Disagrees",
      mismatches: [{ check: "memory", message: "engine 10, cgroup 20" }]
    })
    assert.deepStrictEqual(disagrees.source, "engine")
    assert.include(disagrees.why, "engine 10, cgroup 20")
    const unreadable = auto({ _tag: "Unavailable", reason: "NoPermission", message: "memory.stat: EACCES" })
    assert.strictEqual(unreadable.source, "engine")
    assert.include(unreadable.why, "NoPermission")
    assert.strictEqual(auto({ _tag: "EngineFailed", message: "gone" }).source, "engine")
    assert.strictEqual(auto(undefined).source, "engine")
    // Whatever a check said, a remote or TLS engine's containers are not on this machine.
    assert.deepStrictEqual(auto(agrees, tls), { source: "engine", why: "a TLS engine" })
    assert.strictEqual(
      choose({ source: "auto", endpoint: undefined, platform: "linux", check: agrees }).source,
      "engine"
    )
    assert.strictEqual(
      choose({ source: "auto", endpoint: local, platform: "darwin", check: agrees }).source,
      "engine"
    )
  })

  it("engine and cgroup are taken as asked; cgroup on an in-memory engine gives none", () => {
    assert.strictEqual(choose({ source: "engine", endpoint: local, check: agrees }).source, "engine")
    assert.strictEqual(choose({ source: "cgroup", endpoint: local }).source, "cgroup")
    assert.strictEqual(choose({ source: "cgroup", endpoint: tls }).source, "cgroup")
    assert.strictEqual(choose({ source: "cgroup", endpoint: undefined }).source, "none")
  })
})
