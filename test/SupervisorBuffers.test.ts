/**
 * A slow consumer of states: 20 containers stream stats for 10 minutes while each consumer
 * reads one state a minute. Stats-only states are coalesced (each is a full snapshot), so the
 * backlog stays flat and what the consumer reads is current; lifecycle states are never dropped.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Metric, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as ContainerState from "../src/ContainerState.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "buffers"
const instanceId = "i1"
const containers = 20
const nameOf = (component: string) => `${app}-${instanceId}-${component}`
const components = Array.from({ length: containers }, (_, index) => `c${index}`)

// Each run exits after 5 minutes (the first with 1, restarted once, the second with 0); the
// memory used tells which second of its run a sample was taken at.
const memoryLayer = MemoryEngine.layer({
  images: [image],
  containers: Object.fromEntries(
    components.map((component) => [
      nameOf(component),
      [
        {
          exit: { after: "5 minutes", code: 1 },
          stats: (second: number) => ({ memoryUsage: (second + 1) * 1_000_000 })
        },
        {
          exit: { after: "5 minutes", code: 0 },
          stats: (second: number) => ({ memoryUsage: (second + 1) * 1_000_000 })
        }
      ]
    ])
  )
})

const spec = (component: string) => ({
  name: component,
  image,
  restartPolicy: RestartPolicy.onFailure({ maxRetries: 1 })
})

interface Read {
  readonly state: ContainerState.ContainerState
  readonly at: number
}

/** Reads one state a minute until the stream ends. */
const slowly = <E>(states: Stream.Stream<ContainerState.ContainerState, E>) =>
  Effect.gen(function* () {
    const reads: Array<Read> = []
    yield* states.pipe(
      Stream.runForEach((state) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((at) => Effect.sync(() => reads.push({ state, at }))),
          Effect.andThen(Effect.sleep("1 minute"))
        )
      )
    )
    return reads
  })

const lifecycleOf = (state: ContainerState.ContainerState) =>
  `${state.status}/${state.restartCount}/${state.exitCode ?? "-"}`

/** The lifecycle transitions in the order read (stats-only changes collapsed). */
const transitions = (reads: ReadonlyArray<Read>) =>
  reads
    .map(({ state }) => lifecycleOf(state))
    .filter((lifecycle, index, all) => index === 0 || all[index - 1] !== lifecycle)

const fromRunning = ["running/0/-", "restarting/1/1", "running/1/-", "exited/1/0"]

const queued = Metric.value(Supervisor.metrics.statesQueued).pipe(Effect.map((gauge) => gauge.value))

const checkSlowConsumers = (
  expected: ReadonlyArray<string>,
  consume: (
    supervisor: Supervisor.SupervisorShape
  ) => Effect.Effect<ReadonlyArray<Fiber.Fiber<ReadonlyArray<Read>, unknown>>, unknown, Scope.Scope>
) =>
  Effect.gen(function* () {
    const { reads, backlog } = yield* Effect.scoped(
      Effect.gen(function* () {
        const supervisor = yield* Supervisor.make({ app, instanceId })
        const fibers = yield* consume(supervisor)
        const backlog: Array<number> = []
        // 10 minutes of stats, a second at a time, then 15 more minutes for the slow readers.
        for (let second = 1; second <= 25 * 60; second++) {
          yield* TestClock.adjust("1 second")
          if (second % 60 === 30) backlog.push(yield* queued)
        }
        const reads: Array<ReadonlyArray<Read>> = []
        for (const fiber of fibers) {
          assert.isDefined(fiber.pollUnsafe(), "a consumer still had states to read 15 minutes after the end")
          reads.push(yield* Fiber.join(fiber))
        }
        return { reads, backlog }
      })
    )
    // Memory stays flat: one coalesced snapshot per container while it runs; around the restart
    // `restarting` and `running` wait too, lifecycle states that are never dropped.
    const stated = `queued states by minute: ${backlog.join(", ")}`
    assert.isAtMost(Math.max(...backlog), 3 * containers, stated)
    assert.strictEqual(backlog[9], backlog[1], stated)
    assert.strictEqual(yield* queued, 0)

    for (const consumer of reads) {
      // No lifecycle state lost, in order.
      assert.deepStrictEqual(transitions(consumer), expected)
      // What a slow reader reads is current: a running state's stats are at most 2 s old.
      for (const { state, at } of consumer) {
        if (state.status !== "running" || state.memoryUsed === undefined || state.startedAt === undefined) {
          continue
        }
        const sampledAt = state.startedAt.getTime() + (state.memoryUsed / 1_000_000 - 1) * 1000
        assert.isAtMost(at - sampledAt, 2000, `read at ${at} a sample of ${sampledAt}`)
      }
    }
    const memory = yield* MemoryEngine.MemoryEngine
    assert.deepStrictEqual(yield* memory.containers, [])
  }).pipe(Effect.provide(memoryLayer))

describe("Supervisor slow consumers (MemoryEngine, TestClock)", () => {
  it.effect(
    "run: 20 containers, one state a minute each, flat backlog and every lifecycle state",
    () =>
      checkSlowConsumers(["created/0/-", ...fromRunning], (supervisor) =>
        Effect.forEach(components, (component) => Effect.forkChild(slowly(supervisor.run(spec(component)))))
      ),
    120_000
  )

  it.effect(
    "handle.states: 20 containers, one state a minute each, flat backlog and every lifecycle state",
    () =>
      // The states of a handle start with the latest: `running`, as readiness says.
      checkSlowConsumers(fromRunning, (supervisor) =>
        Effect.forEach(components, (component) =>
          Effect.gen(function* () {
            const handle = yield* supervisor.start({ ...spec(component), readiness: "started" })
            return yield* Effect.forkChild(slowly(handle.states))
          })
        )
      ),
    120_000
  )
})
