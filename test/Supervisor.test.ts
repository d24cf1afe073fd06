import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Metric, Redacted, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as ContainerState from "../src/ContainerState.js"
import type * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const registryImage = "registry.test/app:1"
const app = "unit"
const instanceId = "i1"
/** The engine-side name of a component's container. */
const nameOf = (component: string) => `${app}-${instanceId}-${component}`

const memoryLayer = (options?: MemoryEngine.Options) =>
  MemoryEngine.layer({
    images: [image],
    registry: [
      { reference: registryImage, layers: [3_000_000, 2_000_000], pull: { stepDelay: "100 millis" } }
    ],
    ...options
  })

const makeSupervisor = Supervisor.make({ app, instanceId })

/** Collects a stream's elements with the (test) clock time each arrived at. */
const timed = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  stream.pipe(
    Stream.mapEffect((value) => Clock.currentTimeMillis.pipe(Effect.map((at) => ({ value, at })))),
    Stream.runCollect
  )

/** Moves the test clock forward in small steps so that every fiber woken on the way runs. */
const advance = (millis: number, step = 50) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += step) yield* TestClock.adjust(`${step} millis`)
  })

const leftovers = Effect.gen(function* () {
  const memory = yield* MemoryEngine.MemoryEngine
  const containers = yield* memory.containers
  const networks = yield* memory.networks
  return {
    containers: containers.map((container) => container.name),
    networks: networks
      .filter((network) => network.labels["dev.effect-docker.app"] === app)
      .map((network) => network.name)
  }
})

describe("Supervisor (MemoryEngine, TestClock)", () => {
  it.effect(
    "restarts with the policy's backoff, counts restarts, and resets the backoff after a stable run",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.script({ container: nameOf("flaky") }, [
          { exit: { after: "1 second", code: 1 } },
          { exit: { after: "1 second", code: 1 } },
          { exit: { after: "11 seconds", code: 1 } },
          { exit: { after: "1 second", code: 1 } },
          { exit: { after: "1 second", code: 7 } }
        ])
        const states = yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* makeSupervisor
            const fiber = yield* supervisor
              .run({
                name: "flaky",
                image,
                restartPolicy: RestartPolicy.when((exit) => exit.restartCount < 4)
              })
              .pipe(timed, Effect.forkChild)
            yield* advance(30_000)
            return yield* Fiber.join(fiber)
          })
        )
        const restarting = states.filter(({ value }) => value.status === "restarting")
        assert.deepStrictEqual(
          restarting.map(({ value }) => value.restartCount),
          [1, 2, 3, 4]
        )
        // From each `restarting` state to the next start: 100 ms, 200 ms, then 100 ms again
        // (the third run lasted 11 s, longer than the 10 s stable time), then 200 ms.
        const gaps = restarting.map(({ value, at }) => {
          const next = states.find(
            (entry) =>
              entry.at >= at &&
              entry.value.status === "running" &&
              entry.value.restartCount === value.restartCount
          )
          return (next?.at ?? Number.NaN) - at
        })
        assert.deepStrictEqual(gaps, [100, 200, 100, 200])
        const final = states[states.length - 1]?.value
        assert.strictEqual(final?.status, "exited")
        assert.strictEqual(final?.exitCode, 7)
        assert.strictEqual(final?.restartCount, 4)
        assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
      }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("onFailure({ maxRetries: 2 }) ends with the last exit code after two restarts", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("failing") }, { exit: { after: "500 millis", code: 1 } })
      const states = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .run({ name: "failing", image, restartPolicy: RestartPolicy.onFailure({ maxRetries: 2 }) })
            .pipe(Stream.runCollect, Effect.forkChild)
          yield* advance(5_000)
          return yield* Fiber.join(fiber)
        })
      )
      assert.deepStrictEqual(
        states.filter((state) => state.status === "restarting").map((state) => state.restartCount),
        [1, 2]
      )
      const final = states[states.length - 1]
      assert.strictEqual(final?.status, "exited")
      assert.strictEqual(final?.exitCode, 1)
    }).pipe(Effect.provide(memoryLayer()))
  )

  for (const drop of [{ end: false }, { end: true }]) {
    it.effect(
      `reconnects the events after a drop (${drop.end ? "ended" : "failed"}) and resumes with since: no event lost or repeated`,
      () =>
        Effect.gen(function* () {
          const memory = yield* MemoryEngine.MemoryEngine
          // No stats: every state published is then a lifecycle or health change, so a
          // replayed health event would show as a repeated state.
          yield* memory.failNext("stats", "NotFound")
          yield* Effect.scoped(
            Effect.gen(function* () {
              const supervisor = yield* makeSupervisor
              const states: Array<ContainerState.ContainerState> = []
              yield* supervisor
                .run({
                  name: "watched",
                  image,
                  command: ["sleep", "60"],
                  healthcheck: { test: ["CMD", "true"], interval: "1 second" }
                })
                .pipe(
                  Stream.runForEach((state) => Effect.sync(() => states.push(state))),
                  Effect.forkChild
                )
              yield* advance(1_500)
              assert.strictEqual((yield* memory.openStreams).events, 1)
              const id = states.at(-1)?.id
              assert.isDefined(id)
              const seenBeforeDrop = (yield* memory.emittedEvents).filter((event) => event.actorId === id)
              const lastSeen = seenBeforeDrop.at(-1)
              assert.strictEqual(lastSeen?.action, "health_status: healthy")
              // The connection drops; the health changes before the supervisor reconnects.
              yield* memory.dropEvents(drop)
              yield* memory.setHealth(nameOf("watched"), "unhealthy")
              yield* advance(2_000)
              assert.deepStrictEqual(
                states.map((state) => `${state.status}/${state.health}`),
                ["created/none", "running/starting", "running/healthy", "running/unhealthy"]
              )
              assert.strictEqual(yield* supervisor.eventsConnections, 2)
              assert.strictEqual((yield* memory.openStreams).events, 1)
              const eventsCalls = (yield* memory.calls).filter((call) => call.operation === "events")
              assert.strictEqual(eventsCalls.length, 2)
              // Resumed a window (5 s) before the last event seen, never before the subscription's
              // own start; what the window replays is de-duplicated (no repeated state above).
              const subscribedWith = eventsCalls[0]?.args[0] as DockerEngine.EventsOptions | undefined
              const resumedWith = eventsCalls[1]?.args[0] as DockerEngine.EventsOptions | undefined
              const fromLastSeen = (lastSeen?.timeNanoExact ?? 0n) - 5_000_000_000n
              const subscribedAt = subscribedWith?.sinceNano ?? 0n
              assert.strictEqual(
                resumedWith?.sinceNano,
                subscribedAt > fromLastSeen ? subscribedAt : fromLastSeen
              )
            })
          )
          assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
        }).pipe(Effect.provide(memoryLayer()))
    )
  }

  it.effect("the exit error holds the last run's output only, not every earlier run's", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("noisy") }, [
        { logs: [{ text: "first run failed" }], exit: { after: "1 second", code: 1 } },
        { logs: [{ text: "second run failed" }], exit: { after: "1 second", code: 2 } }
      ])
      const states = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .run({ name: "noisy", image, restartPolicy: RestartPolicy.onFailure({ maxRetries: 1 }) })
            .pipe(Stream.runCollect, Effect.forkChild)
          yield* advance(5_000)
          return yield* Fiber.join(fiber)
        })
      )
      const final = states[states.length - 1]
      assert.strictEqual(final?.exitCode, 2)
      assert.deepStrictEqual(final?.lastLogLines, ["second run failed"])
      assert.notInclude(final?.error ?? "", "first run failed")
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a removal refused by a busy or restarting engine is retried, not left behind", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("short") }, { exit: { after: "1 second", code: 0 } })
      yield* memory.failNext("removeContainer", "Unavailable", { times: 2 })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .run({ name: "short", image })
            .pipe(Stream.runDrain, Effect.forkChild)
          yield* advance(5_000)
          yield* Fiber.join(fiber)
          // Gone before the instance's own final sweep.
          assert.deepStrictEqual(
            (yield* memory.containers).map((container) => container.name),
            []
          )
        })
      )
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a network the engine still holds endpoints on after the release is removed on a retry", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const scope = yield* Scope.make()
      const supervisor = yield* makeSupervisor.pipe(Scope.provide(scope))
      yield* supervisor.run({ name: "web", image }).pipe(Stream.runDrain, Effect.forkDetach)
      yield* advance(100)
      yield* memory.failNext("removeNetwork", "Conflict", {
        times: 3,
        message: `network ${supervisor.network} has active endpoints`
      })
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
      yield* advance(3_000)
      assert.isDefined(closing.pollUnsafe(), "released after the retries")
      assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("one events subscription serves every container of the instance", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          for (let index = 0; index < 5; index++) {
            yield* supervisor.start({ name: `worker-${index}`, image, command: ["sleep", "60"] })
          }
          assert.strictEqual((yield* memory.openStreams).events, 1)
          assert.strictEqual(yield* supervisor.eventsConnections, 1)
        })
      )
      assert.strictEqual((yield* memory.openStreams).events, 0)
    }).pipe(Effect.provide(memoryLayer()))
  )

  /**
   * Runs `count` SIGTERM-ignoring containers (stop timeout 2 s) under a Supervisor made with
   * `options`, releases it, and returns how long the release took (test clock, 100 ms steps).
   */
  const releaseOfStubborn = (count: number, options?: Partial<Supervisor.Options>) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ image }, { onStopSignal: "ignore" })
      const scope = yield* Scope.make()
      const supervisor = yield* Supervisor.make({ app, instanceId, ...options }).pipe(Scope.provide(scope))
      for (let index = 0; index < count; index++) {
        yield* supervisor
          .run({ name: `stubborn-${index}`, image, command: ["sleep", "60"], stopTimeout: "2 seconds" })
          .pipe(Stream.runDrain, Effect.forkDetach)
      }
      yield* advance(100)
      assert.strictEqual(
        (yield* memory.containers).filter((container) => container.state.running).length,
        count
      )
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
      let waited = 0
      while (closing.pollUnsafe() === undefined && waited < 60_000) {
        yield* advance(100)
        waited += 100
      }
      assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
      return waited
    }).pipe(Effect.provide(memoryLayer()))

  it.effect(
    "releasing the layer stops SIGTERM-ignoring containers all at once by default: 20 in one stop timeout",
    () =>
      Effect.gen(function* () {
        const waited = yield* releaseOfStubborn(20)
        assert.isAtLeast(waited, 2_000, "waited for the stop timeout")
        assert.isAtMost(waited, 2_300, "all twenty stopped within one 2 s stop timeout")
      })
  )

  it.effect("teardownConcurrency bounds the stops: 5 containers 2 at a time take three stop timeouts", () =>
    Effect.gen(function* () {
      const waited = yield* releaseOfStubborn(5, { teardownConcurrency: 2 })
      assert.isAtLeast(waited, 6_000)
      assert.isAtMost(waited, 6_500)
    })
  )

  it.effect("a teardownConcurrency below 1 counts as 1: the release still ends", () =>
    Effect.gen(function* () {
      const waited = yield* releaseOfStubborn(2, { teardownConcurrency: 0 })
      assert.isAtLeast(waited, 4_000)
      assert.isAtMost(waited, 4_500)
    })
  )

  it.effect("a scope with five start handles closes in one stop timeout", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ image }, { onStopSignal: "ignore" })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const scope = yield* Scope.make()
          for (let index = 0; index < 5; index++) {
            yield* supervisor
              .start({ name: `handle-${index}`, image, command: ["sleep", "60"], stopTimeout: "2 seconds" })
              .pipe(Scope.provide(scope))
          }
          const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
          yield* advance(2_200)
          assert.isDefined(closing.pollUnsafe())
          assert.deepStrictEqual(yield* supervisor.list(), [])
        })
      )
    }).pipe(Effect.provide(memoryLayer()))
  )

  const steps: ReadonlyArray<{
    readonly step: string
    readonly spec: Partial<Parameters<Supervisor.SupervisorShape["run"]>[0]>
    readonly until: (state: ContainerState.ContainerState) => boolean
    readonly setup?: Effect.Effect<void, never, MemoryEngine.MemoryEngine>
  }> = [
    {
      step: "while pulling",
      spec: { image: registryImage },
      until: (state) => state.status === "pulling" && state.pull !== undefined
    },
    { step: "after create", spec: {}, until: (state) => state.status === "created" },
    { step: "after start", spec: {}, until: (state) => state.status === "running" },
    {
      step: "while restarting",
      spec: { restartPolicy: RestartPolicy.always() },
      until: (state) => state.status === "restarting",
      setup: Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.script({ image }, { exit: { after: "1 second", code: 2 } })
      })
    }
  ]
  for (const { step, spec, until, setup } of steps) {
    it.effect(`interrupted ${step}, it leaves no container and no network`, () =>
      Effect.gen(function* () {
        if (setup !== undefined) yield* setup
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* makeSupervisor
            const fiber = yield* supervisor
              .run({ name: "interrupted", image, command: ["sleep", "60"], ...spec })
              .pipe(Stream.takeUntil(until), Stream.runCollect, Effect.forkChild)
            yield* advance(3_000)
            const states = yield* Fiber.join(fiber)
            assert.isTrue(until(states[states.length - 1] ?? ({} as ContainerState.ContainerState)))
            assert.deepStrictEqual(yield* supervisor.list(), [])
          })
        )
        assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
      }).pipe(Effect.provide(memoryLayer()))
    )
  }

  it.effect(
    "interrupted while copying (a slow stream, cut mid-way), it leaves no container and no network",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const chunk = new Uint8Array(1024).fill(0x62)
        const chunks = 20
        let pulled = 0
        // 20 chunks, one every 100 ms: the copy takes 2 s unless it is cut.
        const slow = Stream.fromIterable(Array.from({ length: chunks }, () => chunk)).pipe(
          Stream.schedule(Schedule.spaced("100 millis")),
          Stream.tap(() =>
            Effect.sync(() => {
              pulled += 1
            })
          )
        )
        const states: Array<ContainerState.ContainerState> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* makeSupervisor
            const running = yield* supervisor
              .run({
                name: "copying",
                image,
                command: ["sleep", "60"],
                files: [{ path: "/tmp/slow.bin", stream: slow, size: chunks * chunk.length }]
              })
              .pipe(
                Stream.runForEach((state) => Effect.sync(() => states.push(state))),
                Effect.forkChild
              )
            yield* advance(500)
            assert.isAbove(pulled, 0, "the copy started")
            assert.isBelow(pulled, chunks, "the copy is not done")
            assert.deepStrictEqual(
              states.map((state) => state.status),
              ["created"]
            )
            yield* Fiber.interrupt(running)
            const cutAt = pulled
            yield* advance(3_000)
            assert.strictEqual(pulled, cutAt, "nothing more of the stream was read after the interruption")
            assert.deepStrictEqual(yield* supervisor.list(), [])
          })
        )
        assert.deepStrictEqual(yield* leftovers, { containers: [], networks: [] })
        const starts = (yield* memory.calls).filter((call) => call.operation === "startContainer")
        assert.deepStrictEqual(starts, [])
      }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("an invalid spec fails with InvalidSpec before any engine call", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          yield* memory.clearCalls
          const error = yield* supervisor
            .run({ name: "bad", image, files: [{ path: "/etc/../passwd", content: "x" }] })
            .pipe(Stream.runDrain, Effect.flip)
          assert.strictEqual(error._tag, "InvalidSpec")
          assert.deepStrictEqual(yield* memory.calls, [])
        })
      )
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a failed pull is a PullError and no container is created", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.addRegistryImage({
        reference: "registry.test/broken:1",
        layers: [1000],
        pull: { fail: { message: "manifest unknown" } }
      })
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          return yield* supervisor
            .run({ name: "broken", image: "registry.test/broken:1" })
            .pipe(Stream.runDrain, Effect.flip)
        })
      )
      assert.strictEqual(error._tag, "PullError")
      assert.include(error.message, "manifest unknown")
      const creates = (yield* memory.calls).filter((call) => call.operation === "createContainer")
      assert.deepStrictEqual(creates, [])
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("concurrent runs of one image share one pull and all see its progress", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const seen = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* Stream.mergeAll(
            Array.from({ length: 5 }, (_, index) =>
              supervisor.run({ name: `same-${index}`, image: registryImage, command: ["sleep", "60"] }).pipe(
                Stream.takeUntil((state) => state.status === "running"),
                Stream.map((state) => ({ run: index, state }))
              )
            ),
            { concurrency: 5 }
          ).pipe(Stream.runCollect, Effect.forkChild)
          yield* advance(5_000)
          return yield* Fiber.join(fiber)
        })
      )
      const pulls = (yield* memory.calls).filter((call) => call.operation === "pullImage")
      assert.strictEqual(pulls.length, 1)
      for (let run = 0; run < 5; run++) {
        const states = seen.filter((entry) => entry.run === run).map((entry) => entry.state)
        const progress = states.flatMap((state) =>
          state.status === "pulling" && state.pull ? [state.pull] : []
        )
        // Every run follows the one pull to its end: the two layers' 5 MB, to 100 %.
        assert.isAbove(progress.length, 1, `run ${run} saw the pull progress`)
        assert.strictEqual(progress.at(-1)?.bytesTotal, 5_000_000, `run ${run}`)
        assert.strictEqual(progress.at(-1)?.percent, 100, `run ${run}`)
        assert.strictEqual(states.at(-1)?.status, "running", `run ${run}`)
      }
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("a Redacted env value never appears in the states, even when the container prints it", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script(
        { container: nameOf("leaky") },
        { logs: [{ text: "connecting with password hunter2" }], exit: { after: "1 second", code: 1 } }
      )
      const states = yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const fiber = yield* supervisor
            .run({ name: "leaky", image, env: { PASSWORD: Redacted.make("hunter2") } })
            .pipe(Stream.runCollect, Effect.forkChild)
          yield* advance(2_000)
          return yield* Fiber.join(fiber)
        })
      )
      const final = states[states.length - 1]
      assert.strictEqual(final?.exitCode, 1)
      assert.include(final?.error ?? "", "connecting with password")
      assert.notInclude(JSON.stringify(states), "hunter2")
    }).pipe(Effect.provide(memoryLayer()))
  )

  it.effect("metrics count running containers, restarts and pulled bytes", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("counted") }, { exit: { after: "1 second", code: 1 } })
      const before = {
        running: (yield* Metric.value(Supervisor.metrics.containersRunning)).value,
        restarts: (yield* Metric.value(Supervisor.metrics.restarts)).count,
        pulled: (yield* Metric.value(Supervisor.metrics.pullBytes)).count
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          const supervisor = yield* makeSupervisor
          const steady = yield* supervisor
            .start({ name: "steady", image: registryImage })
            .pipe(Effect.forkChild)
          const fiber = yield* supervisor
            .run({ name: "counted", image, restartPolicy: RestartPolicy.onFailure({ maxRetries: 2 }) })
            .pipe(Stream.runDrain, Effect.forkChild)
          yield* advance(5_000)
          yield* Fiber.join(steady)
          yield* Fiber.join(fiber)
          assert.strictEqual(
            (yield* Metric.value(Supervisor.metrics.containersRunning)).value,
            before.running + 1
          )
        })
      )
      assert.strictEqual((yield* Metric.value(Supervisor.metrics.containersRunning)).value, before.running)
      assert.strictEqual((yield* Metric.value(Supervisor.metrics.restarts)).count, before.restarts + 2)
      assert.strictEqual((yield* Metric.value(Supervisor.metrics.pullBytes)).count, before.pulled + 5_000_000)
    }).pipe(Effect.provide(memoryLayer()))
  )
})
