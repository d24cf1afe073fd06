/**
 * The Swarm part of the engine contract: services, their tasks in slots, the restart policy
 * replacing a failed task in its slot, a drained node's tasks moving, a replicated job
 * completing, a removed service's tasks going, and the typed error of an engine outside a
 * swarm. Run on MemoryEngine with a simulated 3-node swarm (test/contract/memorySwarm.test.ts)
 * and on a real swarm manager (test/integration/contractSwarm.test.ts).
 */
import { assert } from "@effect/vitest"
import { type Duration, Effect, type Scope } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { caseTester, type Register, uniqueName } from "./engineContract.js"

/** What a task's container does: runs until stopped, or exits by itself after `seconds` with `code`. */
export type TaskBehaviour =
  | { readonly _tag: "Runs" }
  | { readonly _tag: "Exits"; readonly seconds: number; readonly code: number }

/** What the Swarm contract needs from the engine under test. */
export interface SwarmContractEnvironment<R> {
  readonly name: string
  /** Lets engine time pass: `TestClock.adjust` on memory, a real sleep on Docker. */
  readonly advance: (duration: Duration.Input) => Effect.Effect<void>
  /** Labels that mark what this suite creates. */
  readonly labels: Readonly<Record<string, string>>
  /** The container spec of a task that behaves so (an image every node has, and its arguments). */
  readonly program: (
    behaviour: TaskBehaviour
  ) => Effect.Effect<DockerEngine.ServiceSpecOptions["taskTemplate"]["container"], never, R>
  /** An engine that is in no swarm. */
  readonly outsideSwarm: Effect.Effect<DockerEngine.DockerEngineShape, unknown, Scope.Scope | R>
}

/** Registers every Swarm contract case against `env`. */
export const engineContractSwarm = <R>(env: SwarmContractEnvironment<R>, test: Register<R>): void => {
  const caseTest = caseTester(env, test)

  /** Checks `ready` every half second of engine time until it holds (at most `seconds`). */
  const eventually = <A>(
    what: string,
    read: Effect.Effect<A, unknown, DockerEngine.DockerEngine>,
    ready: (value: A) => boolean,
    seconds = 30
  ) =>
    Effect.gen(function* () {
      let value = yield* read
      for (let waited = 0; !ready(value); waited += 0.5) {
        if (waited >= seconds) {
          return yield* Effect.fail(new Error(`${what}: not after ${seconds} s: ${JSON.stringify(value)}`))
        }
        yield* env.advance("500 millis")
        value = yield* read
      }
      return value
    })

  /** A labelled service, removed when the test's scope closes. */
  const service = (
    labels: Readonly<Record<string, string>>,
    behaviour: TaskBehaviour,
    extra: Partial<DockerEngine.ServiceSpecOptions> & {
      readonly restartPolicy?: DockerEngine.ServiceRestartPolicy
    } = {}
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const container = yield* env.program(behaviour)
      const { restartPolicy, ...rest } = extra
      const { id } = yield* Effect.acquireRelease(
        engine.createService({
          name: uniqueName("svc"),
          labels,
          taskTemplate: {
            container: { ...container, labels, stopGracePeriodMs: 1000 },
            restartPolicy: restartPolicy ?? { condition: "any", delayMs: 500 }
          },
          ...rest
        }),
        ({ id }) => engine.removeService(id).pipe(Effect.ignore)
      )
      return id
    })

  const tasksOf = (id: string, options: Omit<DockerEngine.ListTasksOptions, "services"> = {}) =>
    Effect.flatMap(DockerEngine.DockerEngine, (engine) => engine.listTasks({ services: [id], ...options }))

  const running = (tasks: ReadonlyArray<DockerEngine.Task>) =>
    tasks.filter((task) => task.desiredState === "running" && task.status.state === "running")

  caseTest("a service of 3 replicas runs 3 tasks, in slots 1 to 3", (labels) =>
    Effect.gen(function* () {
      const id = yield* service(labels, { _tag: "Runs" }, { mode: { _tag: "Replicated", replicas: 3 } })
      const tasks = yield* eventually("3 running tasks", tasksOf(id), (tasks) => running(tasks).length === 3)
      assert.deepStrictEqual(
        running(tasks)
          .map((task) => task.slot)
          .sort(),
        [1, 2, 3]
      )
      for (const task of running(tasks)) {
        assert.strictEqual(task.serviceId, id)
        assert.isDefined(task.nodeId)
        assert.isDefined(task.status.container?.containerId)
      }
      const engine = yield* DockerEngine.DockerEngine
      const inspect = yield* engine.inspectService(id)
      assert.deepStrictEqual(inspect.spec.mode, { _tag: "Replicated", replicas: 3 })
      assert.deepStrictEqual(inspect.spec.labels, labels)
      assert.strictEqual(inspect.spec.taskTemplate.container.stopGracePeriodMs, 1000)
    })
  )

  caseTest("labels select services and their tasks", (labels) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const first = yield* service({ ...labels, "dev.effect-docker.role": "first" }, { _tag: "Runs" })
      const second = yield* service({ ...labels, "dev.effect-docker.role": "second" }, { _tag: "Runs" })
      const both = yield* engine.listServices({ labels })
      assert.deepStrictEqual(both.map((s) => s.id).sort(), [first, second].sort())
      const only = yield* engine.listServices({ labels: { ...labels, "dev.effect-docker.role": "second" } })
      assert.deepStrictEqual(
        only.map((s) => s.id),
        [second]
      )
      yield* eventually(
        "a running task of each",
        Effect.flatMap(DockerEngine.DockerEngine, (engine) => engine.listTasks({ labels })),
        (tasks) => running(tasks).length === 2
      )
      const tasks = yield* engine.listTasks({ labels: { ...labels, "dev.effect-docker.role": "first" } })
      assert.isAbove(tasks.length, 0)
      assert.isTrue(tasks.every((task) => task.serviceId === first))
    })
  )

  caseTest("a task that exits non-zero is replaced in its slot (restart condition on-failure)", (labels) =>
    Effect.gen(function* () {
      const id = yield* service(
        labels,
        { _tag: "Exits", seconds: 1, code: 3 },
        { restartPolicy: { condition: "on-failure", delayMs: 500, maxAttempts: 1 } }
      )
      const tasks = yield* eventually(
        "a failed task and its replacement",
        tasksOf(id),
        (tasks) => tasks.length === 2 && tasks.every((task) => task.status.state === "failed")
      )
      assert.deepStrictEqual(
        tasks.map((task) => task.slot),
        [1, 1]
      )
      assert.isTrue(tasks.every((task) => task.status.container?.exitCode === 3))
      assert.isTrue(tasks.every((task) => task.status.err === "task: non-zero exit (3)"))
      // An ended task is desired `shutdown`, replaced or not; maxAttempts 1: no third task.
      assert.isTrue(tasks.every((task) => task.desiredState === "shutdown"))
      yield* env.advance("2 seconds")
      assert.strictEqual((yield* tasksOf(id)).length, 2)
    })
  )

  caseTest("draining a node moves its tasks to the other nodes", (labels) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const nodes = yield* engine.listNodes()
      assert.isAtLeast(nodes.length, 2, "the swarm needs 2 nodes or more")
      const id = yield* service(labels, { _tag: "Runs" }, { mode: { _tag: "Replicated", replicas: 2 } })
      const before = running(
        yield* eventually("2 running tasks", tasksOf(id), (t) => running(t).length === 2)
      )
      const drained = before[0]?.nodeId ?? ""
      const node = yield* engine.inspectNode(drained)
      yield* Effect.acquireRelease(
        engine.updateNode(drained, node.version, { ...node.spec, availability: "drain" }),
        () =>
          Effect.flatMap(engine.inspectNode(drained), (now) =>
            engine.updateNode(drained, now.version, { ...now.spec, availability: "active" })
          ).pipe(Effect.ignore)
      )
      assert.strictEqual((yield* engine.inspectNode(drained)).spec.availability, "drain")
      const after = yield* eventually(
        "2 running tasks off the drained node",
        tasksOf(id),
        (tasks) => running(tasks).length === 2 && running(tasks).every((task) => task.nodeId !== drained)
      )
      assert.deepStrictEqual(
        running(after)
          .map((task) => task.slot)
          .sort(),
        [1, 2]
      )
      const left = after.filter((task) => task.nodeId === drained)
      assert.isTrue(left.every((task) => task.desiredState === "shutdown"))
    })
  )

  caseTest("a replicated job runs to its completions", (labels) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* service(
        labels,
        { _tag: "Exits", seconds: 1, code: 0 },
        {
          mode: { _tag: "ReplicatedJob", maxConcurrent: 1, totalCompletions: 2 },
          restartPolicy: { condition: "on-failure", delayMs: 500 }
        }
      )
      const tasks = yield* eventually(
        "2 completed tasks",
        tasksOf(id),
        (tasks) => tasks.filter((task) => task.status.state === "complete").length === 2
      )
      assert.strictEqual(tasks.length, 2)
      yield* env.advance("2 seconds")
      assert.strictEqual((yield* tasksOf(id)).length, 2, "no task after the last completion")
      const [listed] = yield* engine.listServices({ labels })
      assert.deepStrictEqual(listed?.spec.mode, {
        _tag: "ReplicatedJob",
        maxConcurrent: 1,
        totalCompletions: 2
      })
    })
  )

  caseTest("removing a service removes its tasks and their containers", (labels) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* service(labels, { _tag: "Runs" }, { mode: { _tag: "Replicated", replicas: 2 } })
      yield* eventually("2 running tasks", tasksOf(id), (tasks) => running(tasks).length === 2)
      yield* engine.removeService(id)
      // A task filter naming a removed service is NotFound: the tasks are found by label.
      const error = yield* Effect.flip(tasksOf(id))
      assert.strictEqual(error.reason, "NotFound")
      yield* eventually(
        "no task",
        Effect.flatMap(DockerEngine.DockerEngine, (engine) => engine.listTasks({ labels })),
        (tasks) => tasks.length === 0
      )
      yield* eventually(
        "no container",
        Effect.flatMap(DockerEngine.DockerEngine, (engine) => engine.listContainers({ all: true, labels })),
        (containers) => containers.length === 0
      )
      const listed = yield* engine.listServices({ labels })
      assert.deepStrictEqual(listed, [])
      const inspect = yield* Effect.flip(engine.inspectService(id))
      assert.strictEqual(inspect.reason, "NotFound")
    })
  )

  caseTest("an engine outside a swarm answers Swarm calls with NotSwarmManager", () =>
    Effect.gen(function* () {
      const outside = yield* env.outsideSwarm
      const inspect = yield* Effect.flip(outside.swarmInspect)
      assert.strictEqual(inspect.reason, "NotSwarmManager")
      assert.strictEqual(inspect.statusCode, 503)
      const list = yield* Effect.flip(outside.listServices())
      assert.strictEqual(list.reason, "NotSwarmManager")
    })
  )
}
