/**
 * A supervised container's lifecycle against what the engine does on its own: waits that an
 * engine outage interrupts, restarts the engine makes by its restart policy, OOM kills and
 * the engine's error text. MemoryEngine, TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as ContainerState from "../src/ContainerState.js"
import { DockerEngine } from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const memoryLayer = MemoryEngine.layer({ images: [image] })
const nameOf = (component: string) => `unit-i1-${component}`
const makeSupervisor = Supervisor.make({
  app: "unit",
  instanceId: "i1",
  eventsReconnect: Schedule.spaced("1 second")
})

/** Moves the test clock in steps of 100 ms so every fiber woken on the way runs. */
const advance = (millis: number) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += 100) yield* TestClock.adjust("100 millis")
  })

const collect = (stream: Stream.Stream<ContainerState.ContainerState, Supervisor.RunError>) =>
  stream.pipe(Stream.runCollect, Effect.forkChild)

describe("waiting for the exit through an engine outage", () => {
  it.effect(
    "an Unavailable wait is retried with the instance's backoff: the run ends with the real exit",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.script({ container: nameOf("job") }, { exit: { after: "5 seconds", code: 3 } })
        yield* memory.failNext("waitContainer", "Unavailable", { times: 2 })
        const supervisor = yield* makeSupervisor
        const run = yield* collect(supervisor.run({ name: "job", image }))
        yield* advance(6_000)
        const states = yield* Fiber.join(run)
        const last = states.at(-1)
        assert.strictEqual(last?.status, "exited")
        assert.strictEqual(last?.exitCode, 3)
        const waits = (yield* memory.calls).filter((call) => call.operation === "waitContainer")
        assert.strictEqual(waits.length, 3, "two refused, then the one that saw the exit")
      }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("a Timeout wait, and the container exits meanwhile: the exit code comes from a re-inspect", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("job") }, { exit: { after: "500 millis", code: 4 } })
      yield* memory.failNext("waitContainer", "Timeout")
      const supervisor = yield* makeSupervisor
      const run = yield* collect(supervisor.run({ name: "job", image }))
      yield* advance(2_000)
      const last = (yield* Fiber.join(run)).at(-1)
      assert.strictEqual(last?.status, "exited")
      assert.strictEqual(last?.exitCode, 4)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("the container is gone when the engine answers again: a WaitError with NotFound", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const engine = yield* DockerEngine
      yield* memory.failNext("waitContainer", "Unavailable")
      const supervisor = yield* makeSupervisor
      const run = yield* supervisor
        .run({ name: "job", image })
        .pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("100 millis")
      yield* engine.removeContainer(nameOf("job"), { force: true })
      yield* advance(2_000)
      const error = yield* Fiber.join(run)
      assert.strictEqual(error._tag, "WaitError")
      if (error._tag === "WaitError") assert.strictEqual(error.cause.reason, "NotFound")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("a refused wait that is not an outage (BadRequest) still fails at once", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.failNext("waitContainer", "BadRequest")
      const supervisor = yield* makeSupervisor
      const run = yield* supervisor
        .run({ name: "job", image })
        .pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
      yield* advance(200)
      const error = yield* Fiber.join(run)
      assert.strictEqual(error._tag, "WaitError")
      if (error._tag === "WaitError") assert.strictEqual(error.cause.reason, "BadRequest")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})

describe("how a run ended, as the engine tells it", () => {
  it.effect("an OOM kill: the exited state says oomKilled, and its error says so", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("hog") },
        { exit: { after: "1 second", code: 137, oomKilled: true } }
      )
      const supervisor = yield* makeSupervisor
      const run = yield* collect(supervisor.run({ name: "hog", image }))
      yield* advance(1_500)
      const last = (yield* Fiber.join(run)).at(-1)
      assert.strictEqual(last?.status, "exited")
      assert.strictEqual(last?.exitCode, 137)
      assert.strictEqual(last?.oomKilled, true)
      assert.include(last?.error ?? "", "out of memory")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("a clean exit is not oomKilled and has no error", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("job") }, { exit: { after: "1 second", code: 0 } })
      const supervisor = yield* makeSupervisor
      const run = yield* collect(supervisor.run({ name: "job", image }))
      yield* advance(1_500)
      const last = (yield* Fiber.join(run)).at(-1)
      assert.strictEqual(last?.oomKilled, false)
      assert.strictEqual(last?.error, undefined)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("the engine's error text (State.Error, the wait's error) is in the exited state's error", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("job") },
        { exit: { after: "1 second", code: 128, error: "failed to mount /data: permission denied" } }
      )
      const engine = yield* DockerEngine
      const supervisor = yield* makeSupervisor
      const run = yield* collect(supervisor.run({ name: "job", image }))
      yield* TestClock.adjust("100 millis")
      const waited = yield* engine
        .waitContainer(nameOf("job"), { condition: "not-running" })
        .pipe(Effect.forkChild)
      yield* advance(1_500)
      assert.deepStrictEqual(yield* Fiber.join(waited), {
        exitCode: 128,
        error: "failed to mount /data: permission denied"
      })
      const last = (yield* Fiber.join(run)).at(-1)
      assert.strictEqual(last?.exitCode, 128)
      assert.include(last?.error ?? "", "failed to mount /data: permission denied")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})
