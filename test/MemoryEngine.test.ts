import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"

const app = { "dev.effect-docker.app": "memory-engine-test" }

const testLayer = MemoryEngine.layer({
  images: ["busybox:latest"],
  registry: [
    { reference: "example.com/app:1", layers: [1000, 2000], pull: { stepDelay: "100 millis", steps: 2 } }
  ]
})

describe("MemoryEngine", () => {
  it.effect("runs a scripted container to its exit code, in clock time", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "worker" }, { exit: { after: "30 seconds", code: 3 } })
      const { id } = yield* engine.createContainer({ image: "busybox:latest", name: "worker", labels: app })
      yield* engine.startContainer(id)
      const exit = yield* Effect.forkChild(engine.waitContainer(id))
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual((yield* engine.inspectContainer(id)).state.status, "running")
      yield* TestClock.adjust("1 second")
      const { exitCode } = yield* Fiber.join(exit)
      assert.strictEqual(exitCode, 3)
      const inspect = yield* engine.inspectContainer("worker")
      assert.strictEqual(inspect.state.status, "exited")
      assert.strictEqual(inspect.state.exitCode, 3)
      yield* engine.removeContainer(id)
      assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: app }), [])
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("stop honours SIGTERM with 143 and kills an ignoring container after the timeout with 137", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "stubborn" }, { onStopSignal: "ignore" })
      const polite = yield* engine.createContainer({ image: "busybox:latest", name: "polite", labels: app })
      const stubborn = yield* engine.createContainer({
        image: "busybox:latest",
        name: "stubborn",
        labels: app
      })
      yield* engine.startContainer(polite.id)
      yield* engine.startContainer(stubborn.id)
      yield* engine.stopContainer(polite.id)
      assert.strictEqual((yield* engine.inspectContainer(polite.id)).state.exitCode, 143)
      const stopping = yield* Effect.forkChild(engine.stopContainer(stubborn.id, { timeout: 5 }))
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* engine.inspectContainer(stubborn.id)).state.running, true)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      assert.strictEqual((yield* engine.inspectContainer(stubborn.id)).state.exitCode, 137)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("fails the next calls of an operation with an injected reason", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.failNext("createContainer", "Unavailable", { times: 2 })
      const first = yield* Effect.flip(engine.createContainer({ image: "busybox:latest" }))
      const second = yield* Effect.flip(engine.createContainer({ image: "busybox:latest" }))
      assert.strictEqual(first.reason, "Unavailable")
      assert.strictEqual(second.reason, "Unavailable")
      const { id } = yield* engine.createContainer({ image: "busybox:latest", labels: app })
      assert.strictEqual((yield* engine.inspectContainer(id)).state.status, "created")
      const calls = yield* memory.calls
      assert.strictEqual(calls.filter((c) => c.operation === "createContainer").length, 3)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("pulls with per-layer progress in clock time", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const pulling = yield* Effect.forkChild(Stream.runCollect(engine.pullImage("example.com/app:1")))
      yield* TestClock.adjust("10 seconds")
      const lines = yield* Fiber.join(pulling)
      const statuses = lines.map((l) => l.status)
      assert.deepStrictEqual(statuses.slice(0, 3), [
        "Pulling from app",
        "Pulling fs layer",
        "Pulling fs layer"
      ])
      assert.include(statuses, "Pull complete")
      assert.strictEqual(statuses.at(-1), "Status: Downloaded newer image for example.com/app:1")
      const inspect = yield* engine.inspectImage("example.com/app:1")
      assert.strictEqual(inspect.size, 3000)
    }).pipe(Effect.provide(testLayer))
  )
})
