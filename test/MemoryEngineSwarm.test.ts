/**
 * What only the memory engine's swarm has: node loss (`killNode`, `reviveNode`), placement
 * constraints over named nodes, and the `service` and `node` events.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"

const memoryLayer = MemoryEngine.layer({
  images: ["busybox:latest"],
  swarm: {
    nodes: [{ hostname: "alpha" }, { hostname: "beta" }, { hostname: "gamma", labels: { zone: "b" } }]
  }
})

const spec = (name: string, extra: Partial<DockerEngine.ServiceSpecOptions["taskTemplate"]> = {}) => ({
  name,
  taskTemplate: { container: { image: "busybox:latest" }, ...extra },
  mode: { _tag: "Replicated" as const, replicas: 2 }
})

const running = (tasks: ReadonlyArray<DockerEngine.Task>) =>
  tasks.filter((task) => task.desiredState === "running" && task.status.state === "running")

describe("MemoryEngine swarm", () => {
  it.effect("a lost node's tasks are replaced on the others, in their slots", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      const { id } = yield* engine.createService(spec("web"))
      const before = running(yield* engine.listTasks({ services: [id] }))
      const lost = before[0]?.nodeId ?? ""
      yield* memory.killNode(lost)
      assert.strictEqual((yield* engine.inspectNode(lost)).state, "down")
      const after = yield* engine.listTasks({ services: [id] })
      assert.deepStrictEqual(
        running(after)
          .map((task) => task.slot)
          .sort(),
        [1, 2]
      )
      assert.isTrue(running(after).every((task) => task.nodeId !== lost))
      // The manager last heard it running; it wants it shut down.
      const stale = after.filter((task) => task.nodeId === lost)
      assert.deepStrictEqual(
        stale.map((task) => [task.status.state, task.desiredState]),
        [["running", "shutdown"]]
      )
      yield* memory.reviveNode(lost)
      const revived = yield* engine.listTasks({ services: [id], nodes: [lost] })
      assert.deepStrictEqual(
        revived.map((task) => task.status.state),
        ["shutdown"]
      )
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("constraints place tasks, and a task no node fits stays pending until one does", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      const { id } = yield* engine.createService(spec("zoned", { constraints: ["node.labels.zone==b"] }))
      const gamma = yield* engine.inspectNode("gamma")
      const tasks = yield* engine.listTasks({ services: [id] })
      assert.deepStrictEqual(
        running(tasks).map((task) => task.nodeId),
        [gamma.id, gamma.id]
      )
      const { id: nowhere } = yield* engine.createService(
        spec("nowhere", { constraints: ["node.hostname==delta"] })
      )
      const pending = yield* engine.listTasks({ services: [nowhere] })
      assert.deepStrictEqual(
        pending.map((task) => task.status.state),
        ["pending", "pending"]
      )
      yield* memory.setNodeAvailability("gamma", "drain")
      yield* TestClock.adjust("1 second")
      const drained = yield* engine.listTasks({ services: [id] })
      assert.isTrue(
        drained.every((task) => task.desiredState === "shutdown" || task.status.state === "pending")
      )
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("services and nodes emit their events", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      const { id } = yield* engine.createService(spec("evented"))
      const service = yield* engine.inspectService(id)
      yield* engine.updateService(id, service.version, {
        ...service.spec,
        mode: { _tag: "Replicated", replicas: 1 }
      })
      yield* memory.setNodeAvailability("beta", "drain")
      yield* engine.removeService(id)
      const events = (yield* memory.emittedEvents)
        .filter((event) => event.type === "service" || event.type === "node")
        .map((event) => `${event.type} ${event.action} ${event.attributes.name}`)
      assert.deepStrictEqual(events, [
        "service create evented",
        "service update evented",
        "node update beta",
        "service remove evented"
      ])
      const stale = yield* Effect.flip(engine.updateService(id, service.version, service.spec))
      assert.strictEqual(stale.reason, "NotFound")
    }).pipe(Effect.provide(memoryLayer))
  )
})
