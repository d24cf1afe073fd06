/**
 * The Supervisor under TestClock on the memory engine: readiness of each kind, injected engine
 * failures (each a typed error, nothing left behind), a shared pull losing one of its waiters,
 * and the selectors of `list` and `remove`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const registryImage = "registry.test/app:1"
const app = "clock"
const nameOf = (component: string, instanceId = "i1") => `${app}-${instanceId}-${component}`

const memoryLayer = MemoryEngine.layer({
  images: [image],
  registry: [{ reference: registryImage, layers: [3_000_000], pull: { stepDelay: "100 millis" } }]
})

/** Moves the test clock forward in small steps so that every fiber woken on the way runs. */
const advance = (millis: number, step = 50) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += step) yield* TestClock.adjust(`${step} millis`)
  })

/** Containers of this app the engine still holds, by name. */
const appContainers = Effect.gen(function* () {
  const memory = yield* MemoryEngine.MemoryEngine
  const containers = yield* memory.containers
  return containers
    .filter((container) => container.labels["dev.effect-docker.app"] === app)
    .map((container) => container.name)
})

const healthcheck = { test: ["CMD", "true"], interval: Duration.seconds(1) }

describe("Supervisor readiness (MemoryEngine, TestClock)", () => {
  const cases: ReadonlyArray<{
    readonly readiness: "started" | "healthy" | "exited" | { readonly logLine: RegExp }
    readonly script: MemoryEngine.Script
    readonly readyAt: number
  }> = [
    {
      readiness: "started",
      script: {},
      readyAt: 0
    },
    {
      readiness: "healthy" as const,
      script: { health: [{ at: Duration.seconds(3), status: "healthy" as const }] },
      readyAt: 3_000
    },
    {
      readiness: { logLine: /listening on :\d+/ },
      script: { logs: [{ text: "booting" }, { text: "listening on :8080", at: "2 seconds" }] },
      readyAt: 2_000
    },
    {
      readiness: "exited" as const,
      script: { exit: { after: "4 seconds", code: 0 } },
      readyAt: 4_000
    }
  ]
  for (const { readiness, script, readyAt } of cases) {
    const kind = typeof readiness === "string" ? readiness : "log line"
    it.effect(`start waits for ${kind}: not ready before ${readyAt} ms, ready at it`, () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.script({ container: nameOf("svc") }, script)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
            const starting = yield* supervisor
              .start({ name: "svc", image, readiness, healthcheck })
              .pipe(Effect.forkChild)
            if (readyAt > 0) {
              yield* advance(readyAt - 100)
              assert.isUndefined(starting.pollUnsafe(), "ready too early")
            }
            yield* advance(200)
            const handle = yield* Fiber.join(starting)
            const state = yield* handle.state
            assert.strictEqual(state.status, readiness === "exited" ? "exited" : "running")
          })
        )
        assert.deepStrictEqual(yield* appContainers, [])
      }).pipe(Effect.provide(memoryLayer))
    )
  }

  it.effect("healthy readiness fails with NotReadyError when the container turns unhealthy", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("sick") },
        { health: [{ at: "2 seconds", status: "unhealthy" }] }
      )
      const exit = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
          const starting = yield* supervisor
            .start({ name: "sick", image, readiness: "healthy", healthcheck })
            .pipe(Effect.exit, Effect.forkChild)
          yield* advance(3_000)
          return yield* Fiber.join(starting)
        })
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      if (error?._tag === "Fail") {
        assert.strictEqual(error.error._tag, "NotReadyError")
        if (error.error._tag === "NotReadyError") assert.strictEqual(error.error.outcome, "unhealthy")
      }
      assert.deepStrictEqual(yield* appContainers, [])
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("interrupted while waiting for readiness, start leaves no container", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("slow") },
        { health: [{ at: Duration.seconds(30), status: "healthy" }] }
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
          const starting = yield* Effect.scoped(
            supervisor.start({ name: "slow", image, readiness: "healthy", healthcheck })
          ).pipe(Effect.forkChild)
          yield* advance(2_000)
          assert.deepStrictEqual(yield* appContainers, [nameOf("slow")])
          yield* Fiber.interrupt(starting)
          assert.deepStrictEqual(yield* appContainers, [])
        })
      )
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("stats flow into the states of a running container, one sample a second", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("busy") },
        { stats: (second) => ({ memoryUsage: (second + 1) * 1_000_000, cpuPercent: 50 }) }
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
          const handle = yield* supervisor.start({ name: "busy", image })
          yield* advance(5_200)
          const state = yield* handle.state
          assert.strictEqual(state.memoryUsed, 6_000_000)
          assert.closeTo(state.cpuPercent ?? Number.NaN, 50, 0.5)
        })
      )
    }).pipe(Effect.provide(memoryLayer))
  )
})

describe("Supervisor engine failures (MemoryEngine, TestClock)", () => {
  const cases = [
    { operation: "createContainer" as const, error: "CreateError" },
    { operation: "copyFiles" as const, error: "CopyError" },
    { operation: "startContainer" as const, error: "StartError" },
    { operation: "waitContainer" as const, error: "WaitError" }
  ]
  for (const { operation, error } of cases) {
    it.effect(`a failing ${operation} ends the run with ${error} and leaves no container`, () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const failure = yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
            yield* memory.failNext(operation, "ServerError", { message: `injected ${operation} failure` })
            const fiber = yield* supervisor
              .run({ name: "doomed", image, files: [{ path: "/etc/app.conf", content: "x" }] })
              .pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
            yield* advance(1_000)
            return yield* Fiber.join(fiber)
          })
        )
        assert.strictEqual(failure._tag, error)
        assert.strictEqual(
          failure._tag === "InvalidSpec" ? undefined : failure.cause.message,
          `injected ${operation} failure`
        )
        assert.deepStrictEqual(yield* appContainers, [])
      }).pipe(Effect.provide(memoryLayer))
    )
  }
})

describe("Supervisor shared pull (MemoryEngine, TestClock)", () => {
  it.effect("one waiter of a shared pull interrupted: the other still gets the image and runs", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
          const leaving = yield* supervisor
            .run({ name: "leaving", image: registryImage })
            .pipe(Stream.runDrain, Effect.forkChild)
          const staying = yield* supervisor.run({ name: "staying", image: registryImage }).pipe(
            Stream.takeUntil((state) => state.status === "running"),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* advance(200)
          yield* Fiber.interrupt(leaving)
          yield* advance(5_000)
          const states = yield* Fiber.join(staying)
          assert.strictEqual(states[states.length - 1]?.status, "running")
          assert.isTrue(states.some((state) => state.status === "pulling"))
        })
      )
      const images = yield* memory.images
      assert.isTrue(images.some((present) => present.repoTags.includes(registryImage)))
      const pulls = (yield* memory.calls).filter((call) => call.operation === "pullImage")
      assert.strictEqual(pulls.length, 1)
      assert.deepStrictEqual(yield* appContainers, [])
    }).pipe(Effect.provide(memoryLayer))
  )
})

describe("Supervisor selectors (MemoryEngine, TestClock)", () => {
  it.effect("list and remove act on this instance, a component, or every instance of the app", () =>
    Effect.gen(function* () {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const first = yield* Supervisor.make({ app, instanceId: "i1" })
          const second = yield* Supervisor.make({ app, instanceId: "i2" })
          yield* first.start({ name: "db", image })
          yield* first.start({ name: "web", image })
          yield* second.start({ name: "db", image })
          const names = (summaries: ReadonlyArray<{ readonly names: ReadonlyArray<string> }>) =>
            summaries.flatMap((summary) => summary.names).sort()

          assert.deepStrictEqual(names(yield* first.list()), [nameOf("db"), nameOf("web")])
          assert.deepStrictEqual(names(yield* first.list(Supervisor.thisInstance({ component: "db" }))), [
            nameOf("db")
          ])
          assert.deepStrictEqual(names(yield* first.list(Supervisor.allInstances({ component: "db" }))), [
            nameOf("db"),
            nameOf("db", "i2")
          ])
          assert.deepStrictEqual(names(yield* second.list()), [nameOf("db", "i2")])

          assert.strictEqual(yield* first.remove(Supervisor.thisInstance({ component: "web" })), 1)
          assert.deepStrictEqual(yield* appContainers, [nameOf("db"), nameOf("db", "i2")])
          assert.strictEqual(yield* first.remove(Supervisor.allInstances()), 2)
          assert.deepStrictEqual(yield* appContainers, [])
          // Nothing of a live instance is stale.
          assert.deepStrictEqual(yield* first.removeStale, { containers: 0, networks: 0, volumes: 0 })
        })
      )
    }).pipe(Effect.provide(memoryLayer))
  )
})
