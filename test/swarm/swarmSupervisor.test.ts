/**
 * `Supervisor.layerSwarm` on the real 3-node test swarm (scripts/swarm-engines.sh), in real
 * time: replicas spread over the nodes with their slot, node and task in the states, a drained
 * node's replica reported moving, a one-shot job's exit code, and nothing of the instance left
 * on the swarm after release (asserted through the manager).
 *
 * Without a reachable manager the suite is skipped with a message saying why, except under
 * `CI=true`, where it fails.
 */
import { randomBytes } from "node:crypto"
import * as Path from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Context, type Duration, Effect, Layer, Ref, Schedule, type Scope, Stream } from "effect"
import type * as ContainerState from "../../src/ContainerState.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import type { DockerError } from "../../src/DockerError.js"
import * as RestartPolicy from "../../src/RestartPolicy.js"
import * as Supervisor from "../../src/Supervisor.js"
import { runScript } from "../support/engineSetup.js"
import { swarmImage, swarmManager, swarmNodes, swarmUnavailable } from "../support/swarmEnv.js"

const manager = process.env.EFFECT_DOCKER_SWARM_MANAGER ?? swarmManager.host
const app = "test-swarm-sup"
const marker = { "effect-docker-test": `swarm-supervisor-${process.pid}-${randomBytes(3).toString("hex")}` }
const runs = ["sh", "-c", "trap 'exit 143' TERM; sleep 3600 & wait"]

const script = Path.resolve(import.meta.dirname, "../../scripts/swarm-engines.sh")

/** Runs scripts/swarm-engines.sh: `kill K` crashes node K's dockerd, `start` brings it back (idempotent). */
const swarmScript = (args: ReadonlyArray<string>) =>
  Effect.tryPromise({ try: () => runScript(script, args), catch: (cause) => cause })

/** Waits (bounded) until the manager sees every node Ready again, so later files find a whole swarm. */
const untilSwarmWhole = Effect.tryPromise(() => swarmUnavailable()).pipe(
  Effect.flatMap((reason) => (reason === undefined ? Effect.void : Effect.fail(reason))),
  Effect.retry(Schedule.spaced("1 second")),
  Effect.timeoutOrElse({
    duration: "90 seconds",
    orElse: () => Effect.die(new Error("the swarm is not whole again 90 s after restarting a node"))
  })
)

const unreachable = await Effect.runPromise(
  Effect.gen(function* () {
    const engine = yield* DockerEngine.make({ host: manager, connectTimeout: "3 seconds" })
    yield* engine.swarmInspect
  }).pipe(
    Effect.scoped,
    Effect.as(undefined),
    Effect.catch((error: DockerError) => Effect.succeed(`${error.reason}: ${error.message}`))
  )
)

const managerLayer = Layer.effect(DockerEngine.DockerEngine, DockerEngine.make({ host: manager }))

/** Runs `body` with a fresh Swarm Supervisor instance, released when it ends; answers its instance id. */
const withSupervisor = <A, E>(
  body: (
    supervisor: Supervisor.SupervisorShape
  ) => Effect.Effect<A, E, DockerEngine.DockerEngine | Scope.Scope>,
  options: Pick<Supervisor.SwarmOptions, "nodeEngines"> = {}
) =>
  Effect.gen(function* () {
    const instanceId = randomBytes(4).toString("hex")
    const result = yield* Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(
          Supervisor.layerSwarm({
            app,
            instanceId,
            labels: marker,
            taskPollInterval: "500 millis",
            ...options
          })
        )
        return yield* body(Context.get(context, Supervisor.Supervisor))
      })
    )
    return { instanceId, result }
  })

/** Keeps every state a stream emits, in the background of the scope. */
const collect = <E>(stream: Stream.Stream<ContainerState.ContainerState, E>) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<ContainerState.ContainerState>>([])
    yield* stream.pipe(
      Stream.runForEach((state) => Ref.update(seen, (states) => [...states, state])),
      Effect.forkScoped
    )
    return Ref.get(seen)
  })

/** The latest state of each slot. */
const bySlot = (states: ReadonlyArray<ContainerState.ContainerState>) => {
  const latest = new Map<number, ContainerState.ContainerState>()
  for (const state of states) if (state.task !== undefined) latest.set(state.task.slot, state)
  return latest
}

/** Waits (real time, bounded) until `check` holds of what was seen. */
const until = (
  seen: Effect.Effect<ReadonlyArray<ContainerState.ContainerState>>,
  check: (states: ReadonlyArray<ContainerState.ContainerState>) => boolean,
  what: string,
  within: Duration.Input = "60 seconds"
) =>
  seen.pipe(
    Effect.flatMap((states) => (check(states) ? Effect.succeed(states) : Effect.fail(what))),
    Effect.retry(Schedule.spaced("250 millis")),
    Effect.timeoutOrElse({
      duration: within,
      orElse: () => Effect.die(new Error(`timed out: ${what}`))
    })
  )

const allRunningOnDistinctNodes =
  (replicas: number) => (states: ReadonlyArray<ContainerState.ContainerState>) => {
    const latest = [...bySlot(states).values()]
    return (
      latest.length === replicas &&
      latest.every((state) => state.status === "running") &&
      new Set(latest.map((state) => state.task?.nodeId)).size === replicas
    )
  }

/** Nothing of the instance on the swarm: no service, no network with its label. */
const assertReleased = (instanceId: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const filter = { "dev.effect-docker.instance": instanceId }
    assert.deepStrictEqual(
      (yield* engine.listServices({ labels: filter })).map((service) => service.spec.name),
      []
    )
    // The swarm's network is gone at once; the manager node's own copy of it (made when a task
    // ran there) is removed by its agent a moment later, so that one is waited for, bounded.
    const networks = engine
      .listNetworks({ labels: filter })
      .pipe(Effect.map((list) => list.map((network) => network.name)))
    assert.deepStrictEqual(
      yield* networks.pipe(
        Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (names) => names.length === 0 }),
        Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => networks })
      ),
      []
    )
  })

/**
 * No container of the instance left on any node, waiting (bounded) for the swarm agents, which
 * remove a removed task's stopped container a few seconds after the task ends. Asks each node's
 * own engine: the manager lists only its own node's containers. Returns what is left, by node.
 */
const untilNoContainers = (instanceId: string) =>
  Effect.gen(function* () {
    const filter = { "dev.effect-docker.instance": instanceId }
    const engines = yield* Effect.forEach(swarmNodes, (node) =>
      DockerEngine.make({ host: node.host }).pipe(Effect.map((engine) => ({ node, engine })))
    )
    const left = Effect.forEach(engines, ({ node, engine }) =>
      engine.listContainers({ all: true, labels: filter }).pipe(
        Effect.map((containers) =>
          containers.map((container) => `${node.hostname}:${container.names[0] ?? container.id}`)
        ),
        // A node whose engine is down right now (a node-loss test brings it back) holds nothing we can list.
        Effect.catchTag("DockerError", () => Effect.succeed<ReadonlyArray<string>>([]))
      )
    ).pipe(Effect.map((lists) => lists.flat()))
    return yield* left.pipe(
      Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (names) => names.length === 0 }),
      Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => left })
    )
  }).pipe(Effect.scoped)

// Skipped only outside CI, on a machine where the test swarm (scripts/swarm-engines.sh) is not
// running and the swarm project's global setup could not start it; under CI=true the suite runs
// and fails on the missing manager instead.
if (unreachable !== undefined && process.env.CI !== "true") {
  describe.skip(`Supervisor.layerSwarm (live): no swarm manager at ${manager} (${unreachable})`, () => {})
} else {
  layer(managerLayer, { excludeTestServices: true })("Supervisor.layerSwarm (live swarm)", (it) => {
    it.effect("3 replicas reach running on 3 distinct nodes, each state with its slot, node and task", () =>
      Effect.gen(function* () {
        const { instanceId, result } = yield* withSupervisor((supervisor) =>
          Effect.gen(function* () {
            const seen = yield* collect(
              supervisor.run({
                name: "web",
                image: swarmImage,
                command: runs,
                replicas: 3,
                restartPolicy: RestartPolicy.always(),
                stopTimeout: "2 seconds"
              })
            )
            const states = yield* until(seen, allRunningOnDistinctNodes(3), "3 replicas running on 3 nodes")
            return [...bySlot(states).values()]
          })
        )
        assert.deepStrictEqual(result.map((state) => state.task?.slot).sort(), [1, 2, 3])
        assert.strictEqual(new Set(result.map((state) => state.task?.node)).size, 3)
        assert.isTrue(result.every((state) => state.task?.node?.startsWith("swarm-node") === true))
        assert.isTrue(result.every((state) => state.task?.taskId !== undefined && state.id !== undefined))
        // Stats on the manager's node only; never zeros for the others.
        assert.strictEqual(result.filter((state) => state.task?.stats === "available").length, 1)
        assert.isTrue(
          result
            .filter((state) => state.task?.stats === "unavailable")
            .every((state) => state.cpuPercent === undefined && state.memoryUsed === undefined)
        )
        yield* assertReleased(instanceId)
      })
    )

    it.effect("with the workers' engines as nodeEngines, every replica has cpu and memory figures", () =>
      Effect.gen(function* () {
        const [, second, third] = swarmNodes
        assert.isDefined(second)
        assert.isDefined(third)
        const { instanceId, result } = yield* withSupervisor(
          (supervisor) =>
            Effect.gen(function* () {
              const seen = yield* collect(
                supervisor.run({
                  name: "web",
                  image: swarmImage,
                  command: runs,
                  replicas: 3,
                  restartPolicy: RestartPolicy.always(),
                  stopTimeout: "2 seconds"
                })
              )
              const states = yield* until(
                seen,
                (states) =>
                  allRunningOnDistinctNodes(3)(states) &&
                  [...bySlot(states).values()].every(
                    (state) => state.cpuPercent !== undefined && state.memoryUsed !== undefined
                  ),
                "3 replicas running on 3 nodes, each with stats"
              )
              return [...bySlot(states).values()]
            }),
          // One node by hostname, the other by its address.
          {
            nodeEngines: {
              [second.hostname]: { host: second.host },
              [third.address]: { host: third.host }
            }
          }
        )
        assert.deepStrictEqual(
          result.map((state) => state.task?.node).sort(),
          swarmNodes.map((node) => node.hostname)
        )
        assert.isTrue(result.every((state) => state.task?.stats === "available"))
        assert.isTrue(result.every((state) => (state.memoryUsed ?? 0) > 0 && (state.memoryLimit ?? 0) > 0))
        yield* assertReleased(instanceId)
      })
    )

    it.effect("a drained node's replica is reported restarting, then running on another node", () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const drained = "swarm-node3"
        const setAvailability = (availability: "active" | "drain") =>
          Effect.gen(function* () {
            const node = yield* engine.inspectNode(drained)
            yield* engine.updateNode(node.id, node.version, { ...node.spec, availability })
          })
        const { instanceId, result } = yield* withSupervisor((supervisor) =>
          Effect.gen(function* () {
            const seen = yield* collect(
              supervisor.run({
                name: "web",
                image: swarmImage,
                command: runs,
                replicas: 3,
                restartPolicy: RestartPolicy.always(),
                stopTimeout: "2 seconds"
              })
            )
            const before = yield* until(seen, allRunningOnDistinctNodes(3), "3 replicas running")
            const moved = [...bySlot(before).values()].find((state) => state.task?.node === drained)
            assert.isDefined(moved)
            const slot = moved?.task?.slot
            yield* Effect.acquireRelease(setAvailability("drain"), () =>
              setAvailability("active").pipe(Effect.orDie)
            )
            const after = yield* until(
              seen,
              (states) => {
                const last = bySlot(states).get(slot ?? -1)
                return last?.status === "running" && last.task?.node !== drained
              },
              "the drained node's replica running elsewhere"
            )
            return {
              slot,
              taskId: moved?.task?.taskId,
              states: after.filter((state) => state.task?.slot === slot)
            }
          })
        )
        const statuses = result.states.map((state) => state.status)
        assert.include(statuses, "restarting")
        const last = result.states.at(-1)
        assert.strictEqual(last?.status, "running")
        assert.strictEqual(last?.restartCount, 1)
        assert.notStrictEqual(last?.task?.node, drained)
        assert.notStrictEqual(last?.task?.taskId, result.taskId)
        yield* assertReleased(instanceId)
      })
    )

    it.effect(
      "a killed worker's replica is reported restarting, then running on another node",
      () =>
        Effect.gen(function* () {
          const lost = swarmNodes[2] ?? swarmManager
          const { instanceId, result } = yield* withSupervisor((supervisor) =>
            Effect.gen(function* () {
              const seen = yield* collect(
                supervisor.run({
                  name: "web",
                  image: swarmImage,
                  command: runs,
                  replicas: 3,
                  restartPolicy: RestartPolicy.always(),
                  stopTimeout: "2 seconds"
                })
              )
              const before = yield* until(seen, allRunningOnDistinctNodes(3), "3 replicas running")
              const moved = [...bySlot(before).values()].find((state) => state.task?.node === lost.hostname)
              assert.isDefined(moved)
              const slot = moved?.task?.slot
              const countBefore = before.length
              // Brought back before the instance is released (finalizers run in reverse), whatever happens.
              yield* Effect.acquireRelease(swarmScript(["kill", String(lost.index)]), () =>
                swarmScript(["start"]).pipe(Effect.andThen(untilSwarmWhole), Effect.orDie)
              )
              // Swarm marks the node Down after its heartbeats are missed (~10-15 s), then replaces its task.
              const after = yield* until(
                seen,
                (states) => {
                  const last = bySlot(states).get(slot ?? -1)
                  return last?.status === "running" && last.task?.node !== lost.hostname
                },
                "the lost node's replica running elsewhere",
                "90 seconds"
              )
              return {
                slot,
                taskId: moved?.task?.taskId,
                states: after.slice(countBefore).filter((state) => state.task?.slot === slot)
              }
            })
          )
          const statuses = result.states.map((state) => state.status)
          assert.strictEqual(statuses[0], "restarting")
          assert.strictEqual(statuses.at(-1), "running")
          const last = result.states.at(-1)
          assert.strictEqual(last?.restartCount, 1)
          assert.notStrictEqual(last?.task?.node, lost.hostname)
          assert.notStrictEqual(last?.task?.taskId, result.taskId)
          yield* assertReleased(instanceId)
          assert.deepStrictEqual(yield* untilNoContainers(instanceId), [])
          // The node is back and whole: the next file finds 3 Ready nodes.
          assert.isUndefined(yield* Effect.tryPromise(() => swarmUnavailable()))
        }),
      240_000
    )

    it.effect("a one-shot job exiting 3 ends with exited, exit code 3", () =>
      Effect.gen(function* () {
        const { instanceId, result } = yield* withSupervisor((supervisor) =>
          supervisor
            .run({ name: "migrate", image: swarmImage, command: ["sh", "-c", "sleep 1; exit 3"] })
            .pipe(Stream.runCollect)
        )
        const last = result.at(-1)
        assert.strictEqual(last?.status, "exited")
        assert.strictEqual(last?.exitCode, 3)
        assert.isDefined(last?.task?.taskId)
        yield* assertReleased(instanceId)
        // Its container too, on whichever node ran it (a removed ReplicatedJob's would stay there).
        assert.deepStrictEqual(yield* untilNoContainers(instanceId), [])
      })
    )
  })
}
