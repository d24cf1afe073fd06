/**
 * MemoryEngine's exec and volumes beyond the contract: exec scripted by image and per start,
 * a command outliving its caller, a container that stops under a running exec, volumes that
 * outlive containers, and the control side's read-outs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"

const app = { "dev.effect-docker.app": "memory-exec-volumes-test" }

const testLayer = MemoryEngine.layer({ images: ["busybox:latest", "postgres:17"] })

const started = (name: string, image = "busybox:latest") =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const { id } = yield* engine.createContainer({ image, name, labels: app })
    yield* engine.startContainer(id)
    return id
  })

describe("MemoryEngine exec", () => {
  it.effect("answers from the image's script, and a container-name script wins", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { image: "postgres:17" },
        {
          exec: (command) => (command[0] === "pg_isready" ? { stdout: "accepting connections\n" } : undefined)
        }
      )
      yield* memory.script({ container: "special" }, { exec: () => ({ exitCode: 2, stderr: "special\n" }) })
      const db = yield* started("db", "postgres:17")
      const special = yield* started("special", "postgres:17")
      assert.deepStrictEqual(yield* engine.exec(db, ["pg_isready"]), {
        exitCode: 0,
        stdout: "accepting connections\n",
        stderr: ""
      })
      assert.strictEqual((yield* engine.exec(db, ["psql"])).exitCode, 126)
      assert.deepStrictEqual(yield* engine.exec(special, ["pg_isready"]), {
        exitCode: 2,
        stdout: "",
        stderr: "special\n"
      })
      // Every call is recorded with its arguments.
      const calls = (yield* memory.calls).filter((call) => call.operation === "exec")
      assert.deepStrictEqual(
        calls.map((call) => call.args[1]),
        [["pg_isready"], ["psql"], ["pg_isready"]]
      )
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("a scripted duration is clock time; a caller that gives up does not stop the command", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: "migrate" },
        { exec: () => ({ after: "10 seconds", stdout: "done\n" }) }
      )
      const id = yield* started("migrate")
      const waiting = yield* Effect.forkChild(engine.exec(id, ["migrate"]))
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(waiting.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(waiting), { exitCode: 0, stdout: "done\n", stderr: "" })

      const abandoned = yield* Effect.forkChild(engine.exec(id, ["migrate"]))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(abandoned)
      const dies = () =>
        Effect.map(memory.emittedEvents, (events) => events.filter((e) => e.action === "exec_die").length)
      assert.strictEqual(yield* dies(), 1)
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* dies(), 2)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("a container that stops under a running exec ends it with 137", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "short" }, { exec: () => ({ after: "1 minute", stdout: "never\n" }) })
      const id = yield* started("short")
      const waiting = yield* Effect.forkChild(engine.exec(id, ["sleep", "60"]))
      yield* TestClock.adjust("1 second")
      yield* memory.exit(id, 0)
      assert.deepStrictEqual(yield* Fiber.join(waiting), { exitCode: 137, stdout: "", stderr: "" })
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("an injected failure fails exec with its reason", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      const id = yield* started("faulty")
      yield* memory.failNext("exec", "Unavailable")
      assert.strictEqual((yield* Effect.flip(engine.exec(id, ["true"]))).reason, "Unavailable")
      assert.strictEqual((yield* engine.exec(id, ["true"])).exitCode, 126)
    }).pipe(Effect.provide(testLayer))
  )
})

describe("MemoryEngine volumes", () => {
  it.effect("outlive the containers around them and go only with removeVolume, with events", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* engine.createVolume({ name: "data", labels: app })
      const id = yield* started("user")
      yield* engine.removeContainer(id, { force: true })
      assert.deepStrictEqual(
        (yield* memory.volumes).map((v) => [v.name, v.labels]),
        [["data", app]]
      )
      yield* engine.removeVolume("data")
      assert.deepStrictEqual(yield* memory.volumes, [])
      const volumeEvents = (yield* memory.emittedEvents).filter((e) => e.type === "volume")
      assert.deepStrictEqual(
        volumeEvents.map((e) => [e.action, e.actorId, e.attributes.driver]),
        [
          ["create", "data", "local"],
          ["destroy", "data", "local"]
        ]
      )
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("an unknown driver is NotFound, as a missing volume plugin is", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const refused = yield* Effect.flip(engine.createVolume({ name: "nfs", driver: "nfs" }))
      assert.strictEqual(refused.reason, "NotFound")
      assert.include(refused.message, 'plugin "nfs" not found')
    }).pipe(Effect.provide(testLayer))
  )
})
