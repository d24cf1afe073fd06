import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import * as ContainerSpec from "../src/ContainerSpec.js"
import * as ContainerState from "../src/ContainerState.js"
import * as DockerEngine from "../src/DockerEngine.js"
import * as Readiness from "../src/internal/supervisorReadiness.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "unit"
const instanceId = "r1"
const nameOf = (component: string) => `${app}-${instanceId}-${component}`

const memoryLayer = (options?: MemoryEngine.Options) => MemoryEngine.layer({ images: [image], ...options })

const makeSupervisor = Supervisor.make({ app, instanceId })

/** Moves the test clock forward in small steps so that every fiber woken on the way runs. */
const advance = (millis: number, step = 50) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += step) yield* TestClock.adjust(`${step} millis`)
  })

/** `start` of `spec` in a scope of its own, run while the clock moves `millis`: its exit. */
const startFor = (spec: Parameters<Supervisor.SupervisorShape["start"]>[0], millis: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const supervisor = yield* makeSupervisor
      const fiber = yield* supervisor.start(spec).pipe(Effect.forkChild)
      yield* advance(millis)
      return yield* Fiber.await(fiber)
    })
  )

const notReady = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "start should have failed")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
  const value = error?._tag === "Fail" ? error.error : undefined
  assert.strictEqual((value as { _tag?: string } | undefined)?._tag, "NotReadyError", String(value))
  return value as Supervisor.NotReadyError
}

describe("readiness (MemoryEngine, TestClock)", () => {
  it.effect("a log line that never appears before the container exits fails start", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("quitter") },
        {
          logs: [{ text: "starting up" }, { text: "giving up", at: "1 second" }],
          exit: { after: "2 seconds", code: 0 }
        }
      )
      // As on a real engine, the end of the log stream comes before the exited state (which waits
      // for the exit's inspect).
      yield* memory.delay("inspectContainer", "500 millis")
      const exit = yield* startFor({ name: "quitter", image, readiness: { logLine: "ready" } }, 5_000)
      const error = notReady(exit)
      assert.include(error.readiness, "ready")
      assert.include(error.outcome, "exited")
      assert.deepStrictEqual(error.lastLogLines, ["starting up", "giving up"])
    }).pipe(Effect.provide(memoryLayer()))
  )
})

describe("readiness kinds on the memory engine", () => {
  it.effect("a log line awaited twice: seen twice resolves start at the second", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("db") },
        {
          logs: [
            { text: "db ready to accept connections" },
            { text: "db ready to accept connections", at: "3 seconds" }
          ]
        }
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .start({ name: "db", image, readiness: { logLine: "ready to accept", times: 2 } })
            .pipe(Effect.forkChild)
          yield* advance(2_000)
          assert.isUndefined(fiber.pollUnsafe(), "ready after one line of two")
          yield* advance(1_500)
          const handle = yield* Fiber.join(fiber)
          assert.strictEqual((yield* handle.state).status, "running")
        })
      )
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a log line awaited twice, printed once before the exit: NotReadyError naming it", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("once") },
        { logs: [{ text: "ready" }], exit: { after: "1 second", code: 0 } }
      )
      const error = notReady(
        yield* startFor({ name: "once", image, readiness: { logLine: "ready", times: 2 } }, 3_000)
      )
      assert.strictEqual(error.readiness, "ready (log line ready, 2 times)")
      assert.strictEqual(error.outcome, "exited with code 0")
      assert.deepStrictEqual(error.lastLogLines, ["ready"])
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a log line that never comes times out (default 60 seconds) with the last log lines", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("mute") }, { logs: [{ text: "still warming up" }] })
      const supervisor = yield* makeSupervisor
      const fiber = yield* Effect.scoped(
        supervisor.start({ name: "mute", image, readiness: { logLine: "ready" } })
      ).pipe(Effect.forkChild)
      yield* advance(59_000, 1_000)
      assert.isUndefined(fiber.pollUnsafe(), "still waiting before 60 seconds")
      yield* advance(2_000, 1_000)
      const error = notReady(yield* Fiber.await(fiber))
      assert.match(error.outcome, /^not met within 1m/)
      assert.deepStrictEqual(error.lastLogLines, ["still warming up"])
      assert.include(error.message, "never became ready (log line ready)")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer()))
  )

  it.effect("healthy on a container without a healthcheck fails at once", () =>
    Effect.gen(function* () {
      const error = notReady(
        yield* startFor({ name: "plain", image, command: ["sleep", "60"], readiness: "healthy" }, 100)
      )
      assert.strictEqual(error.readiness, "healthy")
      assert.include(error.outcome, "no healthcheck")
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("healthy waits for the image's own healthcheck", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("checked") },
        { health: [{ at: "2 seconds", status: "healthy" }] }
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .start({ name: "checked", image: "checked:1", readiness: "healthy" })
            .pipe(Effect.forkChild)
          yield* advance(1_500)
          assert.isUndefined(fiber.pollUnsafe(), "not healthy yet")
          yield* advance(1_000)
          assert.strictEqual((yield* (yield* Fiber.join(fiber)).state).health, "healthy")
        })
      )
    }).pipe(
      Effect.provide(memoryLayer({ images: [{ reference: "checked:1", healthcheck: ["CMD", "true"] }] }))
    )
  )

  it.effect("all: ready when every condition holds; a failing one is named", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("both") },
        { logs: [{ text: "listening", at: "1 second" }], health: [{ at: "4 seconds", status: "healthy" }] }
      )
      yield* memory.script({ container: nameOf("half") }, { logs: [{ text: "listening" }] })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .start({
              name: "both",
              image: "checked:1",
              readiness: { all: ["healthy", { logLine: "listening" }] }
            })
            .pipe(Effect.forkChild)
          yield* advance(3_000)
          assert.isUndefined(fiber.pollUnsafe(), "the log line alone is not enough")
          yield* advance(2_000)
          assert.strictEqual((yield* (yield* Fiber.join(fiber)).state).health, "healthy")
        })
      )
      const error = notReady(
        yield* startFor(
          {
            name: "half",
            image,
            readiness: { all: [{ logLine: "listening" }, { logLine: "migrated", timeout: "5 seconds" }] }
          },
          6_000
        )
      )
      assert.strictEqual(error.readiness, "ready (log line migrated)")
      assert.match(error.outcome, /^not met within 5s/)
    }).pipe(
      Effect.provide(
        memoryLayer({ images: [image, { reference: "checked:1", healthcheck: ["CMD", "true"] }] })
      )
    )
  )

  it.effect("a port the spec does not publish fails at once, saying so", () =>
    Effect.gen(function* () {
      const error = notReady(yield* startFor({ name: "closed", image, readiness: { port: 5432 } }, 100))
      assert.strictEqual(error.readiness, "ready (port 5432 accepting connections)")
      assert.include(error.outcome, "port 5432/tcp is not published")
    }).pipe(Effect.provide(memoryLayer()))
  )
})

describe("command readiness (exec in the container)", () => {
  it.effect("retried until the command exits 0", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const answers = [1, 1, 0]
      yield* memory.script(
        { container: nameOf("pg") },
        {
          exec: (command) =>
            command[0] === "pg_isready"
              ? { exitCode: answers.shift() ?? 0, stdout: "no response\n" }
              : undefined
        }
      )
      const exit = yield* startFor({ name: "pg", image, readiness: { command: ["pg_isready", "-q"] } }, 2_000)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(answers, [])
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a command that keeps failing times out with its last exit and output", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("pg") },
        { exec: () => ({ exitCode: 2, stdout: "no response\n" }), logs: [{ text: "initdb running" }] }
      )
      const error = notReady(
        yield* startFor(
          { name: "pg", image, readiness: { command: ["pg_isready"], timeout: "5 seconds" } },
          6_000
        )
      )
      assert.strictEqual(error.readiness, "ready (command pg_isready exiting 0)")
      assert.strictEqual(error.outcome, "not met within 5s (last attempt: exited with code 2: no response)")
      assert.deepStrictEqual(error.lastLogLines, ["initdb running"])
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a command the container does not have fails at once", () =>
    Effect.gen(function* () {
      const error = notReady(
        yield* startFor({ name: "bare", image, readiness: { command: ["pg_isready"] } }, 500)
      )
      assert.match(error.outcome, /^the command exited with code 126: .*executable file not found/)
    }).pipe(Effect.provide(memoryLayer()))
  )
})

describe("port and HTTP readiness (probes replaced: the memory engine's ports accept nothing)", () => {
  /** A container created with published ports, started, and its state as the lifecycle publishes it. */
  const running = Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const { id } = yield* engine.createContainer({ image, name: "web", ports: { "8080/tcp": undefined } })
    yield* engine.startContainer(id)
    const startedAt = new Date(yield* Clock.currentTimeMillis)
    return yield* SubscriptionRef.make(
      ContainerState.started(ContainerState.created(ContainerState.initial("web", image), id), startedAt)
    )
  })

  it.effect("port: retried until a connection to the published host port opens", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const latest = yield* running
      const attempts: Array<string> = []
      const probes: Readiness.ProbesShape = {
        tcp: (host, port) =>
          Effect.suspend(() => {
            attempts.push(`${host}:${port}`)
            return attempts.length < 3 ? Effect.fail("connect ECONNREFUSED") : Effect.void
          }),
        http: () => Effect.fail("unused")
      }
      const spec = yield* ContainerSpec.validate({ name: "web", image, readiness: { port: 8080 } })
      const fiber = yield* Readiness.whenReady(engine, spec, latest).pipe(
        Effect.provideService(Readiness.Probes, probes),
        Effect.forkChild
      )
      yield* advance(1_000)
      const state = yield* Fiber.join(fiber)
      assert.strictEqual(state.status, "running")
      const [published] = (yield* engine.inspectContainer(state.id ?? "")).ports
      assert.strictEqual(attempts.length, 3)
      assert.strictEqual(attempts[0], `127.0.0.1:${published?.hostPort}`)
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("http: a 503 is retried, the timeout says what it last answered", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const latest = yield* running
      const requests: Array<Readiness.HttpProbe> = []
      const probes: Readiness.ProbesShape = {
        tcp: () => Effect.fail("unused"),
        http: (request) =>
          Effect.sync(() => {
            requests.push(request)
            return 503
          })
      }
      const spec = yield* ContainerSpec.validate({
        name: "web",
        image,
        readiness: { http: { port: 8080, path: "/health", method: "HEAD" }, timeout: "10 seconds" }
      })
      const fiber = yield* Readiness.whenReady(engine, spec, latest).pipe(
        Effect.provideService(Readiness.Probes, probes),
        Effect.forkChild
      )
      yield* advance(11_000, 250)
      const error = notReady(yield* Fiber.await(fiber))
      assert.strictEqual(error.readiness, "ready (HTTP HEAD /health on port 8080 answering 2xx)")
      assert.match(
        error.outcome,
        /^not met within 10s \(last attempt: 127\.0\.0\.1:\d+\/health answered 503\)$/
      )
      assert.isAbove(requests.length, 10)
      assert.deepInclude(requests[0], { path: "/health", method: "HEAD" })
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("http: the status asked for, not any 2xx", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const latest = yield* running
      const answers = [200, 204, 401]
      const probes: Readiness.ProbesShape = {
        tcp: () => Effect.fail("unused"),
        http: () => Effect.sync(() => answers.shift() ?? 500)
      }
      const spec = yield* ContainerSpec.validate({
        name: "web",
        image,
        readiness: { http: { port: 8080, path: "/", status: 401 } }
      })
      const fiber = yield* Readiness.whenReady(engine, spec, latest).pipe(
        Effect.provideService(Readiness.Probes, probes),
        Effect.forkChild
      )
      yield* advance(1_000)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(answers, [])
    }).pipe(Effect.provide(memoryLayer()))
  )
})

describe("connectHost", () => {
  it("a remote engine's host; else the bound address; else loopback", () => {
    assert.strictEqual(Readiness.connectHost("10.0.0.5", "0.0.0.0"), "10.0.0.5")
    assert.strictEqual(Readiness.connectHost(undefined, "0.0.0.0"), "127.0.0.1")
    assert.strictEqual(Readiness.connectHost(undefined, "::"), "127.0.0.1")
    assert.strictEqual(Readiness.connectHost(undefined, ""), "127.0.0.1")
    assert.strictEqual(Readiness.connectHost(undefined, "127.0.0.2"), "127.0.0.2")
  })
})

describe("readiness validation", () => {
  it.effect("a bad readiness is InvalidSpec naming the field inside it", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [ContainerSpec.ReadinessInput, string, string]> = [
        [{ port: 70000 }, "readiness.port", "the port must be between 1 and 65535"],
        [{ http: { port: 80, path: "health" } }, "readiness.http.path", "the path must start with '/'"],
        [{ command: [] }, "readiness.command", "the command is empty"],
        [{ all: [{ logLine: "" }] }, "readiness.all[0].logLine", "the log line is empty"],
        [{ logLine: "ready", times: 0 }, "readiness.times", "must be 1 or more"],
        [{ port: 80, timeout: "-1 seconds" }, "readiness.timeout", "must not be negative"]
      ]
      for (const [readiness, field, message] of cases) {
        const error = yield* ContainerSpec.validate({ name: "a", image, readiness }).pipe(Effect.flip)
        assert.deepStrictEqual({ field: error.field, message: error.message }, { field, message })
      }
    })
  )
})
