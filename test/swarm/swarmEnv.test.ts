/**
 * The test swarm itself (scripts/swarm-engines.sh): every node Ready, and a 3-replica service of
 * the registry image running on 3 distinct nodes, which only holds when every node reaches the
 * registry and the scheduler can place a slot on each. Talks to the manager with dockerode,
 * not the library: this checks the ground the Swarm backend's tests stand on.
 */
import { assert, describe, it } from "@effect/vitest"
import Dockerode from "dockerode"
import { Data, Effect, Schedule } from "effect"
import { testLabels } from "../support/live.js"
import { requireSwarm, swarmImage, swarmManager, swarmNodes } from "../support/swarmEnv.js"

class SwarmCallError extends Data.TaggedError("SwarmCallError")<{
  readonly call: string
  readonly cause: unknown
}> {}

/** What the test reads of a task (dockerode types tasks as `any`). */
interface Task {
  readonly NodeID?: string
  readonly Status?: { readonly State?: string }
}

const manager = new Dockerode({ socketPath: swarmManager.socketPath })

const call = <A>(name: string, promise: () => Promise<A>) =>
  Effect.tryPromise({ try: promise, catch: (cause) => new SwarmCallError({ call: name, cause }) })

const tasksOf = (serviceId: string) =>
  call(
    "listTasks",
    (): Promise<ReadonlyArray<Task>> => manager.listTasks({ filters: { service: [serviceId] } })
  )

const swarmUp = await requireSwarm()

// requireSwarm() throws under CI=true when the test swarm is missing (a failure, never a skip);
// it answers false only outside CI, on a machine without the test swarm.
describe.skipIf(!swarmUp)("the test swarm", () => {
  it.live("has every node Ready and Active, the manager first", () =>
    Effect.gen(function* () {
      const nodes = yield* call("listNodes", () => manager.listNodes())
      const ready = nodes.filter(
        (node) => node.Status?.State === "ready" && node.Spec?.Availability === "active"
      )
      assert.strictEqual(ready.length, swarmNodes.length)
      assert.deepStrictEqual(
        nodes.map((node) => node.Description?.Hostname).sort(),
        swarmNodes.map((node) => node.hostname).sort()
      )
      const leader = nodes.find((node) => node.ManagerStatus?.Leader === true)
      assert.strictEqual(leader?.Status?.Addr, swarmManager.address)
    })
  )

  it.live(
    "runs 3 replicas of the registry image on 3 distinct nodes, and removes them",
    () =>
      Effect.gen(function* () {
        const labels = testLabels("swarm-env")
        const service = yield* Effect.acquireRelease(
          call("createService", () =>
            manager.createService({
              Name: labels["dev.effect-docker.test"],
              Labels: labels,
              TaskTemplate: {
                ContainerSpec: {
                  Image: swarmImage,
                  Command: ["sleep", "300"],
                  StopGracePeriod: 1_000_000_000
                },
                // One replica per node: the spread is then not up to the scheduler's mood.
                Placement: { MaxReplicas: 1 }
              },
              Mode: { Replicated: { Replicas: 3 } }
            })
          ),
          // A failed assertion must not leave the service running on the swarm.
          (created) => call("removeService", () => created.remove()).pipe(Effect.ignore)
        )
        const running = yield* tasksOf(service.id).pipe(
          Effect.map((tasks) => tasks.filter((task) => task.Status?.State === "running")),
          Effect.repeat({ until: (tasks) => tasks.length >= 3, schedule: Schedule.spaced("250 millis") }),
          Effect.timeout("50 seconds")
        )
        assert.strictEqual(running.length, 3)
        assert.strictEqual(new Set(running.map((task) => task.NodeID)).size, 3)

        yield* call("removeService", () => service.remove())
        const left = yield* call("listServices", () =>
          manager.listServices({
            filters: { label: [`dev.effect-docker.test=${labels["dev.effect-docker.test"]}`] }
          })
        )
        assert.deepStrictEqual(left, [])
        // The tasks' containers go with the service, on every node.
        const containers = yield* Effect.forEach(swarmNodes, (node) =>
          call("listContainers", () =>
            new Dockerode({ socketPath: node.socketPath }).listContainers({
              all: true,
              filters: { label: [`com.docker.swarm.service.id=${service.id}`] }
            })
          )
        ).pipe(
          Effect.map((lists) => lists.flat()),
          Effect.repeat({ until: (all) => all.length === 0, schedule: Schedule.spaced("250 millis") }),
          Effect.timeout("30 seconds")
        )
        assert.deepStrictEqual(containers, [])
      }),
    90_000
  )
})
