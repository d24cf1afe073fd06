import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
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
