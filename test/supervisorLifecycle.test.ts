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

describe("restarts made by the engine's restart policy (engineRestartPolicy)", () => {
  const statusesOf = (states: ReadonlyArray<ContainerState.ContainerState>) =>
    states
      .filter((state, index) => index === 0 || state.status !== states[index - 1]?.status)
      .filter((state) => state.status !== "pulling" && state.status !== "created")
      .map((state) => `${state.status}:${state.restartCount}`)

  it.effect("appear as restarting → running with the engine's RestartCount, never as exited", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("web") }, [
        { exit: { after: "1 second", code: 1 } },
        { exit: { after: "1 second", code: 1 } },
        {}
      ])
      const states: Array<ContainerState.ContainerState> = []
      const supervisor = yield* makeSupervisor
      yield* supervisor.run({ name: "web", image, engineRestartPolicy: "always" }).pipe(
        Stream.runForEach((state) => Effect.sync(() => states.push(state))),
        Effect.forkChild
      )
      yield* advance(5_000)
      assert.deepStrictEqual(statusesOf(states), [
        "running:0",
        "restarting:1",
        "running:1",
        "restarting:2",
        "running:2"
      ])
      const restarting = states.find((state) => state.status === "restarting")
      assert.strictEqual(restarting?.exitCode, 1)
      const [inspect] = yield* memory.containers
      assert.strictEqual(inspect?.state.running, true)
      assert.strictEqual(inspect?.restartCount, 2)
      const starts = (yield* memory.calls).filter((call) => call.operation === "startContainer")
      assert.strictEqual(starts.length, 1, "the engine restarted it, not the supervisor")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("end in exited when the engine gives up (on-failure after a clean exit)", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("job") }, [
        { exit: { after: "1 second", code: 1 } },
        { exit: { after: "1 second", code: 0 } }
      ])
      const supervisor = yield* makeSupervisor
      const run = yield* collect(supervisor.run({ name: "job", image, engineRestartPolicy: "on-failure" }))
      yield* advance(3_000)
      const states = yield* Fiber.join(run)
      assert.deepStrictEqual(statusesOf(states), ["running:0", "restarting:1", "running:1", "exited:1"])
      assert.strictEqual(states.at(-1)?.exitCode, 0)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("end in exited when the container is stopped (unless-stopped does not restart it)", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine
      const supervisor = yield* makeSupervisor
      const run = yield* collect(
        supervisor.run({ name: "web", image, engineRestartPolicy: "unless-stopped" })
      )
      yield* advance(500)
      yield* engine.stopContainer(nameOf("web"))
      yield* advance(1_000)
      const states = yield* Fiber.join(run)
      assert.deepStrictEqual(statusesOf(states), ["running:0", "exited:0"])
      assert.strictEqual(states.at(-1)?.exitCode, 143)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})
