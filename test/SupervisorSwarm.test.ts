/**
 * `Supervisor.layerSwarm` on MemoryEngine's simulated 3-node swarm, under TestClock: replica
 * states with their slot, node and task, a drained node's replicas moving, a one-shot job's
 * exit, Swarm's restart policy counted as restarts, stats on the manager's node only, and
 * nothing of the instance left after release.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Redacted, Ref, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as ContainerState from "../src/ContainerState.js"
import * as DockerEngine from "../src/DockerEngine.js"
import type { DockerError } from "../src/DockerError.js"
import * as ServiceSpec from "../src/internal/swarm/serviceSpec.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"

const app = "swarmunit"
const instanceId = "s1"
const runs = "swarm-runs:latest"
const labels = { "dev.effect-docker.app": app }

const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"], swarm: { nodes: 3 } })
const swarmLayer = Supervisor.layerSwarm({ app, instanceId, taskPollInterval: "1 second" })

/** Moves the test clock forward in steps, so that every fiber woken on the way runs. */
const advance = (millis: number, step = 250) =>
  Effect.gen(function* () {
    for (let elapsed = 0; elapsed < millis; elapsed += step) yield* TestClock.adjust(`${step} millis`)
  })

/**
 * Runs `body` with a Swarm Supervisor, then releases it while the test clock moves: the
 * release waits for the services' tasks to stop, which takes (test) time.
 */
const withSwarmOf =
  (
    supervisorLayer: Layer.Layer<
      Supervisor.Supervisor,
      Supervisor.RunError | DockerError,
      DockerEngine.DockerEngine
    >
  ) =>
  <A, E>(
    body: Effect.Effect<A, E, Supervisor.Supervisor | DockerEngine.DockerEngine | MemoryEngine.MemoryEngine>
  ): Effect.Effect<
    A,
    E | Supervisor.RunError | DockerError,
    DockerEngine.DockerEngine | MemoryEngine.MemoryEngine
  > =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(supervisorLayer, scope)
      const result = yield* body.pipe(
        Effect.provide(context),
        Effect.onError(() => Effect.forkDetach(Scope.close(scope, Exit.void)))
      )
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
      yield* advance(5_000)
      yield* Fiber.join(closing)
      return result
    })

const withSwarm = withSwarmOf(swarmLayer)

/** Interrupts a run (its service is removed, its tasks awaited) while the test clock moves. */
const stopRun = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<void> =>
  Effect.gen(function* () {
    const stopping = yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
    yield* advance(3_000)
    yield* Fiber.join(stopping)
  })

/** Runs a stream in the background, keeping what it emits. */
const collect = <E>(stream: Stream.Stream<ContainerState.ContainerState, E>) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<ContainerState.ContainerState>>([])
    const fiber = yield* stream.pipe(
      Stream.runForEach((state) => Ref.update(seen, (states) => [...states, state])),
      Effect.forkChild
    )
    return { seen: Ref.get(seen), fiber }
  })

const addImages = Effect.gen(function* () {
  const memory = yield* MemoryEngine.MemoryEngine
  yield* memory.addImage({ reference: runs, script: { onStopSignal: "exit", stats: [{ cpuPercent: 10 }] } })
  yield* memory.addImage({
    reference: "swarm-exits-3:latest",
    script: { exit: { after: "2 seconds", code: 3 } }
  })
  yield* memory.addImage({
    reference: "swarm-fails:latest",
    script: { exit: { after: "1 second", code: 1 } }
  })
})

/** The latest state of each slot. */
const bySlot = (states: ReadonlyArray<ContainerState.ContainerState>) => {
  const latest = new Map<number, ContainerState.ContainerState>()
  for (const state of states) if (state.task !== undefined) latest.set(state.task.slot, state)
  return latest
}

/** What the engine holds of the app once the layer is released. */
const leftovers = Effect.gen(function* () {
  const engine = yield* DockerEngine.DockerEngine
  const services = yield* engine.listServices({ labels })
  const networks = yield* engine.listNetworks({ labels })
  return { services: services.length, networks: networks.length }
})

describe("Supervisor.layerSwarm (MemoryEngine swarm, TestClock)", () => {
  it.effect(
    "runs 3 replicas on 3 nodes, each state naming its slot, node and task; release leaves nothing",
    () =>
      Effect.gen(function* () {
        yield* addImages
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const engine = yield* DockerEngine.DockerEngine
          const network = yield* engine.inspectNetwork(supervisor.network)
          assert.strictEqual(network.driver, "overlay")
          assert.strictEqual(network.labels["dev.effect-docker.instance"], instanceId)
          const { seen, fiber } = yield* collect(
            supervisor.run({ name: "web", image: runs, replicas: 3, restartPolicy: RestartPolicy.always() })
          )
          yield* advance(5_000)
          const latest = bySlot(yield* seen)
          assert.deepStrictEqual([...latest.keys()].sort(), [1, 2, 3])
          const running = [...latest.values()]
          assert.isTrue(running.every((state) => state.status === "running"))
          assert.strictEqual(new Set(running.map((state) => state.task?.nodeId)).size, 3)
          assert.strictEqual(new Set(running.map((state) => state.task?.node)).size, 3)
          assert.isTrue(running.every((state) => state.task?.taskId !== undefined && state.id !== undefined))
          // Stats only where the task runs on the manager's own node; never zeros elsewhere.
          const local = running.filter((state) => state.task?.stats === "available")
          assert.strictEqual(local.length, 1)
          assert.isDefined(local[0]?.cpuPercent)
          assert.isTrue(
            running
              .filter((state) => state.task?.stats === "unavailable")
              .every((state) => state.cpuPercent === undefined)
          )
          assert.isTrue(yield* supervisor.isRunning())
          const listed = yield* supervisor.list()
          assert.deepStrictEqual(
            listed.map((summary) => summary.names[0]),
            [`${app}-${instanceId}-web`]
          )
          yield* stopRun(fiber)
        }).pipe(withSwarm)
        yield* advance(2_000)
        assert.deepStrictEqual(yield* leftovers, { services: 0, networks: 0 })
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("a drained node's replica shows restarting, then running on another node with one restart", () =>
    Effect.gen(function* () {
      yield* addImages
      const memory = yield* MemoryEngine.MemoryEngine
      yield* Effect.gen(function* () {
        const supervisor = yield* Supervisor.Supervisor
        const { seen, fiber } = yield* collect(
          supervisor.run({ name: "web", image: runs, replicas: 3, restartPolicy: RestartPolicy.always() })
        )
        yield* advance(5_000)
        const before = bySlot(yield* seen)
        const moved = [...before.values()].find((state) => state.task?.node === "node2")
        assert.isDefined(moved)
        const slot = moved?.task?.slot ?? -1
        const countBefore = (yield* seen).length
        yield* memory.setNodeAvailability("node2", "drain")
        yield* advance(10_000)
        const after = (yield* seen).slice(countBefore).filter((state) => state.task?.slot === slot)
        const statuses = after.map((state) => state.status)
        assert.include(statuses, "restarting")
        const last = after.at(-1)
        assert.strictEqual(last?.status, "running")
        assert.strictEqual(last?.restartCount, 1)
        assert.notStrictEqual(last?.task?.node, "node2")
        assert.notStrictEqual(last?.task?.taskId, moved?.task?.taskId)
        yield* stopRun(fiber)
      }).pipe(withSwarm)
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "a lost node's replica shows restarting, then running on another node; release leaves nothing",
    () =>
      Effect.gen(function* () {
        yield* addImages
        const memory = yield* MemoryEngine.MemoryEngine
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const { seen, fiber } = yield* collect(
            supervisor.run({ name: "web", image: runs, replicas: 3, restartPolicy: RestartPolicy.always() })
          )
          yield* advance(5_000)
          const moved = [...bySlot(yield* seen).values()].find((state) => state.task?.node === "node3")
          assert.isDefined(moved)
          const slot = moved?.task?.slot ?? -1
          const countBefore = (yield* seen).length
          yield* memory.killNode("node3")
          yield* advance(10_000)
          const after = (yield* seen).slice(countBefore).filter((state) => state.task?.slot === slot)
          assert.strictEqual(after[0]?.status, "restarting")
          const last = after.at(-1)
          assert.strictEqual(last?.status, "running")
          assert.strictEqual(last?.restartCount, 1)
          assert.notStrictEqual(last?.task?.node, "node3")
          assert.notStrictEqual(last?.task?.taskId, moved?.task?.taskId)
          // The other slots were not touched.
          const others = (yield* seen).slice(countBefore).filter((state) => state.task?.slot !== slot)
          assert.isTrue(others.every((state) => state.status === "running" && state.restartCount === 0))
          yield* stopRun(fiber)
        }).pipe(withSwarm)
        yield* memory.reviveNode("node3")
        yield* advance(2_000)
        assert.deepStrictEqual(yield* leftovers, { services: 0, networks: 0 })
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "a one-shot (restartPolicy never) runs once per slot: exited with code 3, then the stream ends",
    () =>
      Effect.gen(function* () {
        yield* addImages
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const engine = yield* DockerEngine.DockerEngine
          const { seen, fiber } = yield* collect(
            supervisor.run({ name: "migrate", image: "swarm-exits-3:latest" })
          )
          yield* advance(500)
          const services = yield* engine.listServices({ labels })
          // A replicated service that never restarts, not a ReplicatedJob (20.10 leaves a removed job's tasks running).
          assert.deepStrictEqual(services[0]?.spec.mode, { _tag: "Replicated", replicas: 1 })
          assert.strictEqual(services[0]?.spec.taskTemplate.restartPolicy?.condition, "none")
          yield* advance(7_000)
          const exit = yield* Fiber.await(fiber)
          assert.isTrue(Exit.isSuccess(exit))
          const last = (yield* seen).at(-1)
          assert.strictEqual(last?.status, "exited")
          assert.strictEqual(last?.exitCode, 3)
          assert.strictEqual(last?.task?.slot !== undefined, true)
          // The finished run removed its service.
          yield* advance(2_000)
          assert.strictEqual((yield* engine.listServices({ labels })).length, 0)
        }).pipe(withSwarm)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "onFailure({ maxRetries: 2 }) is Swarm's on-failure: two restarts, then exited with the code",
    () =>
      Effect.gen(function* () {
        yield* addImages
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const engine = yield* DockerEngine.DockerEngine
          const { seen, fiber } = yield* collect(
            supervisor.run({
              name: "flaky",
              image: "swarm-fails:latest",
              restartPolicy: RestartPolicy.onFailure({ maxRetries: 2, backoff: Schedule.spaced("1 second") })
            })
          )
          yield* advance(1_500)
          const [service] = yield* engine.listServices({ labels })
          assert.deepStrictEqual(service?.spec.taskTemplate.restartPolicy, {
            condition: "on-failure",
            delayMs: 1000,
            maxAttempts: 2,
            windowMs: 0
          })
          yield* advance(15_000)
          assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
          const states = yield* seen
          const restarts = states
            .filter((state) => state.status === "restarting")
            .map((state) => state.restartCount)
          assert.deepStrictEqual([...new Set(restarts)], [1, 2])
          const last = states.at(-1)
          assert.strictEqual(last?.status, "exited")
          assert.strictEqual(last?.exitCode, 1)
          assert.strictEqual(last?.restartCount, 2)
        }).pipe(withSwarm)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "handle.logs gives every replica's lines with its slot and task; following shows later lines",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.addImage({
          reference: "swarm-talks:latest",
          script: {
            onStopSignal: "exit",
            logs: [{ text: "ready" }, { text: "tick", stream: "stderr", at: "8 seconds" }]
          }
        })
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          yield* Effect.scoped(
            Effect.gen(function* () {
              const fiber = yield* supervisor
                .start({
                  name: "talks",
                  image: "swarm-talks:latest",
                  replicas: 2,
                  restartPolicy: RestartPolicy.always()
                })
                .pipe(Effect.forkChild)
              yield* advance(3_000)
              const handle = yield* Fiber.join(fiber)
              const following = yield* handle
                .logs({ follow: true })
                .pipe(Stream.take(4), Stream.runCollect, Effect.forkChild)
              const backlog = yield* Stream.runCollect(handle.logs())
              const slotOf = (line: DockerEngine.LogLine) => `${line.task?.slot}:${line.stream}:${line.text}`
              assert.deepStrictEqual(backlog.map(slotOf).sort(), ["1:stdout:ready", "2:stdout:ready"])
              // Each line's task is the replica's task in that slot, as the manager lists it.
              const tasks = yield* (yield* DockerEngine.DockerEngine).listTasks({ services: [handle.id] })
              const slots = new Map(tasks.map((task) => [task.slot, task.id] as const))
              for (const line of backlog) assert.strictEqual(line.task?.taskId, slots.get(line.task?.slot))
              yield* advance(8_000)
              const followed = yield* Fiber.join(following)
              assert.deepStrictEqual(followed.map(slotOf).sort(), [
                "1:stderr:tick",
                "1:stdout:ready",
                "2:stderr:tick",
                "2:stdout:ready"
              ])
              yield* handle.stop
              yield* advance(2_000)
            })
          )
        }).pipe(withSwarm)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("start resolves when every replica runs; its handle's states, logs and stop work", () =>
    Effect.gen(function* () {
      yield* addImages
      yield* Effect.gen(function* () {
        const supervisor = yield* Supervisor.Supervisor
        const engine = yield* DockerEngine.DockerEngine
        const started = yield* Effect.scoped(
          Effect.gen(function* () {
            const fiber = yield* supervisor
              .start({
                name: "api",
                image: runs,
                replicas: 2,
                restartPolicy: RestartPolicy.always(),
                env: { TOKEN: Redacted.make("s3cret") }
              })
              .pipe(Effect.forkChild)
            yield* advance(5_000)
            const handle = yield* Fiber.join(fiber)
            const state = yield* handle.state
            assert.strictEqual(state.status, "running")
            const service = yield* engine.inspectService(handle.id)
            // Revealed into the engine's request only: the service holds the value, no state does.
            assert.strictEqual(service.spec.taskTemplate.container.env?.TOKEN, "s3cret")
            assert.notInclude(JSON.stringify(state), "s3cret")
            const port = yield* Effect.flip(handle.port(80))
            assert.strictEqual(port._tag, "PortNotPublished")
            yield* handle.stop
            yield* advance(2_000)
            return handle.id
          })
        )
        const gone = yield* Effect.flip(engine.inspectService(started))
        assert.strictEqual(gone.reason, "NotFound")
      }).pipe(withSwarm)
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "health comes from the task's container; start with a healthcheck waits for every replica healthy",
    () =>
      Effect.gen(function* () {
        yield* addImages
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const scope = yield* Scope.make()
          const fiber = yield* supervisor
            .start({
              name: "db",
              image: runs,
              replicas: 2,
              restartPolicy: RestartPolicy.always(),
              healthcheck: { test: ["CMD", "true"], interval: "2 seconds" }
            })
            .pipe(Scope.provide(scope), Effect.forkChild)
          yield* advance(1_500)
          assert.isUndefined(fiber.pollUnsafe())
          yield* advance(5_000)
          const handle = yield* Fiber.join(fiber)
          const latest = bySlot(yield* Stream.runCollect(handle.states.pipe(Stream.take(1))))
          assert.strictEqual([...latest.values()][0]?.health, "healthy")
          const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
          yield* advance(3_000)
          yield* Fiber.join(closing)
        }).pipe(withSwarm)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("maps backoffs Swarm can express to its constant delay", () =>
    Effect.gen(function* () {
      const delayOf = (policy: RestartPolicy.RestartPolicy) =>
        Effect.map(ServiceSpec.restartOf(policy), (restart) => restart.restartPolicy)
      assert.deepStrictEqual(yield* delayOf(RestartPolicy.always()), { condition: "any", delayMs: 100 })
      assert.deepStrictEqual(
        yield* delayOf(RestartPolicy.onFailure({ backoff: Schedule.spaced("3 seconds") })),
        {
          condition: "on-failure",
          delayMs: 3000
        }
      )
      // A schedule that ends after 2 delays caps the attempts.
      assert.deepStrictEqual(
        yield* delayOf(
          RestartPolicy.always({ backoff: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })) })
        ),
        { condition: "any", delayMs: 1000, maxAttempts: 2, windowMs: 0 }
      )
      assert.deepStrictEqual(yield* ServiceSpec.restartOf(RestartPolicy.never), {
        job: true,
        restartPolicy: { condition: "none" }
      })
      assert.isTrue(ServiceSpec.swarmExpressible([100, 200, 400, 800, 1000, 1000]))
      assert.isFalse(ServiceSpec.swarmExpressible([100, 300, 200]))
      assert.isFalse(ServiceSpec.swarmExpressible([100, 200, 500]))
    })
  )

  it.effect("refuses what Swarm cannot express, before any service is created", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        const supervisor = yield* Supervisor.Supervisor
        const engine = yield* DockerEngine.DockerEngine
        const refused = (spec: Parameters<typeof supervisor.run>[0]) =>
          Effect.flip(Stream.runDrain(supervisor.run(spec)))
        const predicate = yield* refused({
          name: "p",
          image: runs,
          restartPolicy: RestartPolicy.when((exit) => exit.exitCode === 2)
        })
        assert.strictEqual(predicate._tag, "InvalidSpec")
        assert.include(predicate.message, "when")
        const jittered = yield* refused({
          name: "j",
          image: runs,
          restartPolicy: RestartPolicy.always({
            backoff: Schedule.exponential("100 millis").pipe(Schedule.jittered)
          })
        })
        assert.strictEqual(jittered._tag, "InvalidSpec")
        assert.include(jittered.message, "constant")
        const files = yield* refused({ name: "f", image: runs, files: [{ path: "/etc/x", content: "x" }] })
        assert.strictEqual(files._tag === "InvalidSpec" ? files.field : "", "files")
        const zero = yield* refused({ name: "z", image: runs, replicas: 0 })
        assert.strictEqual(zero._tag === "InvalidSpec" ? zero.field : "", "replicas")
        assert.strictEqual((yield* engine.listServices({ labels })).length, 0)
      }).pipe(withSwarm)
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "nodeEngines: replicas on the nodes given an engine get stats too; a key naming no node is refused",
    () =>
      Effect.gen(function* () {
        yield* addImages
        const engine = yield* DockerEngine.DockerEngine
        // The memory swarm runs every task's container in this one engine: it stands for node2's and node3's.
        const withNodeEngines = withSwarmOf(
          Supervisor.layerSwarm({
            app,
            instanceId,
            taskPollInterval: "1 second",
            nodeEngines: { node2: engine, node3: engine }
          })
        )
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          const { seen, fiber } = yield* collect(
            supervisor.run({ name: "web", image: runs, replicas: 3, restartPolicy: RestartPolicy.always() })
          )
          yield* advance(5_000)
          const running = [...bySlot(yield* seen).values()]
          assert.deepStrictEqual(running.map((state) => state.task?.node).sort(), ["node1", "node2", "node3"])
          assert.isTrue(
            running.every((state) => state.status === "running" && state.task?.stats === "available")
          )
          assert.deepStrictEqual(
            running.map((state) => state.cpuPercent),
            [10, 10, 10]
          )
          assert.isTrue(running.every((state) => state.memoryUsed !== undefined))
          yield* stopRun(fiber)
        }).pipe(withNodeEngines)
        const refused = yield* Effect.flip(
          Layer.build(Supervisor.layerSwarm({ app, instanceId: "s2", nodeEngines: { node9: engine } })).pipe(
            Effect.scoped
          )
        )
        assert.strictEqual(refused._tag, "InvalidSpec")
        assert.strictEqual(refused._tag === "InvalidSpec" ? refused.field : "", "nodeEngines.node9")
        assert.include(refused.message, "node2")
        assert.deepStrictEqual(yield* leftovers, { services: 0, networks: 0 })
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("fails to build on an engine that is not a swarm manager", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(swarmLayer).pipe(
          Effect.scoped,
          Effect.provide(MemoryEngine.layer({ images: ["busybox:latest"] }))
        )
      )
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error._tag === "DockerError" ? error.reason : "", "NotSwarmManager")
    })
  )

  it.effect("the single-host Supervisor refuses replicas > 1, pointing at layerSwarm", () =>
    Effect.gen(function* () {
      const supervisor = yield* Supervisor.Supervisor
      const error = yield* Effect.flip(
        Stream.runDrain(supervisor.run({ name: "web", image: "busybox:latest", replicas: 2 }))
      )
      assert.strictEqual(error._tag, "InvalidSpec")
      assert.include(error.message, "layerSwarm")
    }).pipe(
      Effect.provide(Supervisor.layer({ app, instanceId })),
      Effect.provide(MemoryEngine.layer({ images: ["busybox:latest"] }))
    )
  )
})
