/**
 * Testing your app with MemoryEngine: the job's containers are scripted (health, output,
 * exit codes), failures are injected, and TestClock makes minutes of container time instant.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import { leftovers, runJob } from "./app.js"

const job = { name: "nightly", image: "busybox:latest", command: ["./report"] }

/** The engine every test starts from: busybox present, the database healthy after 2 s. */
const engine = MemoryEngine.layer({
  images: ["busybox:latest"],
  containers: { "nightly-db": { health: [{ at: "2 seconds", status: "healthy" }] } }
})

describe("runJob on MemoryEngine", () => {
  it.effect("returns the worker's output when it exits 0, and removes both containers", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: "nightly-worker" },
        { logs: [{ text: "42 rows", at: "5 minutes" }], exit: { after: "5 minutes", code: 0 } }
      )
      const running = yield* Effect.forkChild(runJob(job))
      yield* TestClock.adjust("2 seconds") // the database turns healthy
      yield* TestClock.adjust("5 minutes") // the worker runs (instantly, under TestClock)
      assert.deepStrictEqual(yield* Fiber.join(running), ["42 rows"])
      assert.deepStrictEqual(yield* leftovers(job), [])
    }).pipe(Effect.provide(engine))
  )

  it.effect("fails with the exit code and last lines when the worker fails", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: "nightly-worker" },
        {
          logs: [{ text: "disk full", stream: "stderr", at: "3 seconds" }],
          exit: { after: "3 seconds", code: 3 }
        }
      )
      const running = yield* Effect.forkChild(Effect.flip(runJob(job)))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(running)
      assert.strictEqual(error._tag, "JobFailed")
      assert.deepStrictEqual(error._tag === "JobFailed" ? error.lastLines : [], ["disk full"])
      assert.deepStrictEqual(yield* leftovers(job), [])
    }).pipe(Effect.provide(engine))
  )

  it.effect("surfaces the worker's start failure (injected) and still removes both containers", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const running = yield* Effect.forkChild(Effect.flip(runJob(job)))
      // The database is created and started at once; then it waits for its health.
      yield* TestClock.adjust("1 second")
      const containers = yield* memory.containers
      assert.deepStrictEqual(
        containers.map((container) => [container.name, container.state.status]),
        [["nightly-db", "running"]]
      )
      // So the next start is the worker's: it fails like a daemon that cannot attach the network.
      yield* memory.failNext("startContainer", "ServerError", { message: "could not find bridge docker0" })
      yield* TestClock.adjust("1 second") // the database turns healthy
      const error = yield* Fiber.join(running)
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error._tag === "DockerError" ? error.reason : undefined, "ServerError")
      assert.include(error.message, "could not find bridge docker0")
      assert.deepStrictEqual(yield* leftovers(job), [])
      const calls = (yield* memory.calls).filter((call) =>
        ["createContainer", "startContainer", "removeContainer"].includes(call.operation)
      )
      const worker = calls.findIndex(
        (call) =>
          call.operation === "createContainer" &&
          (call.args[0] as { readonly name?: string } | undefined)?.name === "nightly-worker"
      )
      assert.isAbove(worker, 0, "the worker was created after the database")
      assert.deepStrictEqual(
        calls.map((call) => call.operation),
        [
          "createContainer",
          "startContainer",
          "createContainer",
          "startContainer",
          "removeContainer",
          "removeContainer"
        ]
      )
    }).pipe(Effect.provide(engine))
  )

  it.effect("does not start the worker when the database turns unhealthy", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: "nightly-db" },
        { health: [{ at: "3 seconds", status: "unhealthy" }] }
      )
      const running = yield* Effect.forkChild(Effect.flip(runJob(job)))
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(running)
      assert.strictEqual(error._tag, "DatabaseUnhealthy")
      const created = (yield* memory.calls).filter((call) => call.operation === "createContainer")
      assert.strictEqual(created.length, 1)
      assert.deepStrictEqual(yield* leftovers(job), [])
    }).pipe(Effect.provide(engine))
  )
})
