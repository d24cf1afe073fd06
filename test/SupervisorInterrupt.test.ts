/**
 * The Supervisor interrupted at its awkward moments, under TestClock on the memory engine:
 * while it records an exit (before it decides on a restart), while a container's teardown is
 * under way, and between forking a lifecycle and registering the finalizer that stops it. Each
 * time a user finds the container gone, the states ended, no error and nothing still acting.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { DockerEngine } from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "interrupt"
const nameOf = (component: string) => `${app}-i1-${component}`

const memoryLayer = MemoryEngine.layer({ images: [image] })

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

/**
 * Nothing of the instance acts any more (besides its shared events subscription): no stats or
 * logs stream open, and no engine call at all over the next half minute.
 */
const quiet = Effect.gen(function* () {
  const memory = yield* MemoryEngine.MemoryEngine
  const open = yield* memory.openStreams
  assert.deepStrictEqual(
    { stats: open.stats, logs: open.logs, pulls: open.pulls },
    { stats: 0, logs: 0, pulls: 0 }
  )
  yield* memory.clearCalls
  yield* advance(30_000, 1_000)
  assert.deepStrictEqual(
    (yield* memory.calls).map((call) => call.operation),
    []
  )
})

describe("Supervisor interrupted (MemoryEngine, TestClock)", () => {
  it.effect(
    "stopped while it records an exit, before it decides on a restart: no restart, the states end, nothing left",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.script({ container: nameOf("flaky") }, { exit: { after: "1 second", code: 1 } })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
            const handle = yield* supervisor.start({
              name: "flaky",
              image,
              restartPolicy: RestartPolicy.onFailure({ maxRetries: 5 })
            })
            const states = yield* handle.states.pipe(Stream.runCollect, Effect.forkChild)
            // Reading the exit's last log lines takes a minute: the exit is being recorded.
            yield* memory.delay("logs", "1 minute")
            yield* advance(1_500)
            const engineView = (yield* memory.containers).find((c) => c.name === nameOf("flaky"))
            assert.strictEqual(engineView?.state.status, "exited", "the process ended")
            assert.strictEqual((yield* handle.state).status, "running", "the exit is not recorded yet")
            assert.isTrue((yield* memory.calls).some((call) => call.operation === "logs"))

            const stopping = yield* Effect.forkChild(handle.stop)
            yield* advance(1_000)
            assert.isDefined(stopping.pollUnsafe(), "stop returned")
            const seen = yield* Fiber.join(states)
            assert.deepStrictEqual(
              seen.map((state) => state.status),
              ["running", "exited"]
            )
            assert.strictEqual(seen.at(-1)?.restartCount, 0)
            const final = yield* Effect.exit(handle.await)
            assert.isTrue(Exit.isSuccess(final), `await ends without an error: ${String(final)}`)
            assert.deepStrictEqual(yield* appContainers, [])
            yield* quiet
          })
        )
        assert.deepStrictEqual(yield* appContainers, [])
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "the consumer of run interrupted again while its container's teardown is under way: the teardown finishes, the states end",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        // SIGTERM ends the process only 5 seconds later: the teardown lasts that long.
        yield* memory.script({ container: nameOf("slowstop") }, { onStopSignal: { after: "5 seconds" } })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "i1" })
            const states: Array<string> = []
            const consumer = yield* supervisor.run({ name: "slowstop", image }).pipe(
              Stream.runForEach((state) =>
                Effect.sync(() => {
                  if (states.at(-1) !== state.status) states.push(state.status)
                })
              ),
              Effect.forkChild
            )
            yield* advance(500)
            assert.deepStrictEqual(states, ["created", "running"])

            // The consumer goes away: the teardown starts (stop, then remove).
            const leaving = yield* Effect.forkChild(Fiber.interrupt(consumer))
            yield* advance(1_000)
            assert.isUndefined(leaving.pollUnsafe(), "the teardown is under way")
            assert.deepStrictEqual(yield* appContainers, [nameOf("slowstop")])
            assert.isTrue((yield* memory.calls).some((call) => call.operation === "stopContainer"))
            // ...and whoever waits for it gives up half-way.
            const givingUp = yield* Effect.forkChild(Fiber.interrupt(leaving))
            yield* advance(5_000)
            assert.isDefined(givingUp.pollUnsafe(), "the interruptions returned")

            const ended = yield* Fiber.await(consumer)
            // Ended by the interruption alone: no error and no defect from the teardown.
            assert.isTrue(
              Exit.isFailure(ended) && Cause.hasInterruptsOnly(ended.cause),
              `the states end by the interruption alone: ${String(ended)}`
            )
            assert.deepStrictEqual(states, ["created", "running"])
            assert.deepStrictEqual(yield* appContainers, [])
            yield* quiet
          })
        )
        assert.deepStrictEqual(yield* appContainers, [])
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "start interrupted right as its lifecycle is forked: the container goes with the caller, not at the instance's close",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine
        let caller: Fiber.Fiber<unknown, unknown> | undefined
        // A lifecycle runs at once when forked, and with pull policy `never` its first engine call
        // (asking for the image) comes before anything async: the caller is interrupted there,
        // inside the fork, before `start` goes on. (Seen failing with the fork and the
        // registration as two steps: the container stayed until the instance closed.)
        const interrupting = {
          ...engine,
          inspectImage: (reference: string) =>
            Effect.suspend(() => {
              const target = caller
              caller = undefined
              target?.interruptUnsafe()
              return engine.inspectImage(reference)
            })
        }
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "i1" }).pipe(
              Effect.provideService(DockerEngine, interrupting)
            )
            const starting = yield* Effect.scoped(
              supervisor.start({ name: "svc", image, pullPolicy: "never" })
            ).pipe(Effect.forkChild)
            caller = starting
            yield* advance(100)
            const exit = yield* Fiber.await(starting)
            assert.isTrue(Exit.hasInterrupts(exit), `start was interrupted: ${String(exit)}`)
            assert.isUndefined(caller, "the interruption landed in the lifecycle's first engine call")
            yield* advance(5_000)
            // The instance is still open: the container did not wait for its close.
            assert.deepStrictEqual(yield* appContainers, [])
            yield* quiet
          })
        )
      }).pipe(Effect.provide(memoryLayer))
  )
})
