/**
 * The in-memory engine's Swarm operations (swarm, nodes, services, tasks, service logs) and the
 * control side's node faults (`killNode`, `reviveNode`, `setNodeAvailability`). The records and
 * placement are in `swarmState.ts`, the orchestrator in `swarmOrchestrator.ts`.
 *
 * @internal
 */
import { Clock, Effect, FiberMap, Stream } from "effect"
import type { LogLine, NodeSpec, ServiceSpecOptions } from "../../DockerEngine.js"
import type { MemoryEngineShape, SwarmOptions } from "../../MemoryEngine.js"
import type { Swarm } from "../engine/swarm.js"
import { readServiceSpec } from "../wireSwarm.js"
import { stopContainerNow } from "./containers.js"
import { engineError, matchesLabels } from "./docker.js"
import { emit, events } from "./events.js"
import { guard, guardStream } from "./faults.js"
import { followFrom, toLogLine } from "./logs.js"
import { exitSync } from "./processes.js"
import type { Store } from "./store.js"
import {
  emitNodeUpdate,
  nowMillis,
  reconcile,
  reconcileAll,
  removeTaskContainer,
  shutdownTask
} from "./swarmOrchestrator.js"
import {
  lookupNode,
  lookupService,
  makeSwarm,
  type NodeRecord,
  nextVersion,
  nodeInspect,
  noSuchNode,
  noSuchService,
  notManager,
  type ServiceRecord,
  type SwarmState,
  serviceInspect,
  swarmId,
  type TaskRecord,
  taskInspect
} from "./swarmState.js"

type SwarmOperations = Swarm

/** A line of a task's container as `serviceLogs` gives it: with the task it came from. */
const withTask = (line: LogLine, task: TaskRecord): LogLine => ({
  ...line,
  task: task.nodeId === undefined ? { taskId: task.id } : { taskId: task.id, nodeId: task.nodeId }
})

/** The swarm, or the engine's 503 outside one. */
const managed = (store: Store, operation: string) =>
  Effect.suspend(() =>
    store.swarm === undefined ? Effect.fail(notManager(operation)) : Effect.succeed(store.swarm)
  )

const findNode = (state: SwarmState, operation: string, ref: string) => {
  const node = lookupNode(state, ref)
  return node === undefined ? Effect.fail(noSuchNode(operation, ref)) : Effect.succeed(node)
}

const findService = (state: SwarmState, operation: string, ref: string) => {
  const service = lookupService(state, ref)
  return service === undefined ? Effect.fail(noSuchService(operation, ref)) : Effect.succeed(service)
}

const outOfSequence = (operation: string) =>
  engineError(operation, 500, "rpc error: code = Unknown desc = update out of sequence")

/** A node's new spec: events for what changed, and its tasks moved when it no longer takes them. */
const setNodeSpec = (store: Store, state: SwarmState, node: NodeRecord, spec: NodeSpec) =>
  Effect.gen(function* () {
    const nowNanos = yield* Clock.currentTimeNanos
    const previous = node.spec
    node.spec = { ...spec, labels: { ...spec.labels } }
    node.version = nextVersion(state)
    node.updatedMs = yield* nowMillis
    const change: Record<string, string> = {}
    if (previous.availability !== spec.availability) {
      change["availability.old"] = previous.availability
      change["availability.new"] = spec.availability
    }
    emitNodeUpdate(store, nowNanos, node.id, node.hostname, change)
    yield* reconcileAll(store, state)
  })

/** Removes a service: its tasks desired `remove`, each container stopped with its grace period, then gone. */
const removeServiceNow = (store: Store, state: SwarmState, service: ServiceRecord) =>
  Effect.gen(function* () {
    state.services.delete(service.id)
    emit(store, yield* Clock.currentTimeNanos, "service", "remove", service.id, { name: service.spec.name })
    const tasks = [...state.tasks.values()].filter((task) => task.serviceId === service.id)
    yield* Effect.forEach(
      tasks,
      (task) =>
        Effect.gen(function* () {
          task.desiredState = "remove"
          const container =
            task.containerId === undefined ? undefined : store.containers.get(task.containerId)
          if (container !== undefined && container.status === "running") {
            yield* stopContainerNow(store, container.id).pipe(Effect.ignore)
          }
          yield* removeTaskContainer(store, task)
          state.tasks.delete(task.id)
        }),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.forkIn(store.scope))
  })

/** The engine's Swarm operations. */
export const swarmOperations = (store: Store): SwarmOperations => {
  const swarmInspect = guard(
    store,
    "swarmInspect",
    [],
    Effect.map(managed(store, "swarmInspect"), (state) => ({
      id: state.id,
      version: state.counters.version,
      createdAt: new Date(state.createdMs).toISOString(),
      updatedAt: new Date(state.createdMs).toISOString(),
      joinTokens: {
        worker: `SWMTKN-1-${state.id}-worker`,
        manager: `SWMTKN-1-${state.id}-manager`
      }
    }))
  )

  const swarmInit: SwarmOperations["swarmInit"] = (options) =>
    guard(
      store,
      "swarmInit",
      [options],
      Effect.gen(function* () {
        if (store.swarm !== undefined) {
          return yield* Effect.fail(
            engineError(
              "swarmInit",
              503,
              'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.'
            )
          )
        }
        store.swarm = makeSwarm([], yield* nowMillis)
        return store.swarm.localNodeId
      })
    )

  const swarmJoin: SwarmOperations["swarmJoin"] = (options) =>
    guard(
      store,
      "swarmJoin",
      [options],
      Effect.fail(
        engineError(
          "swarmJoin",
          400,
          "the memory engine does not join other engines: give MemoryEngine.layer the swarm option instead"
        )
      )
    )

  const swarmLeave: SwarmOperations["swarmLeave"] = (options) =>
    guard(
      store,
      "swarmLeave",
      [options],
      Effect.gen(function* () {
        const state = store.swarm
        if (state === undefined) {
          return yield* Effect.fail(engineError("swarmLeave", 503, "This node is not part of a swarm"))
        }
        if (options?.force !== true) {
          return yield* Effect.fail(
            engineError(
              "swarmLeave",
              503,
              "You are attempting to leave the swarm on a node that is participating as a manager. Use `--force` to ignore this message."
            )
          )
        }
        for (const service of [...state.services.values()]) yield* removeServiceNow(store, state, service)
        store.swarm = undefined
      })
    )

  const listNodes: SwarmOperations["listNodes"] = (options) =>
    guard(
      store,
      "listNodes",
      [options],
      Effect.map(managed(store, "listNodes"), (state) =>
        [...state.nodes.values()]
          .filter(
            (node) =>
              (options?.role === undefined || node.spec.role === options.role) &&
              matchesLabels(node.spec.labels, options?.labels)
          )
          .map((node) => nodeInspect(state, node))
      )
    )

  const inspectNode: SwarmOperations["inspectNode"] = (ref) =>
    guard(
      store,
      "inspectNode",
      [ref],
      Effect.flatMap(managed(store, "inspectNode"), (state) =>
        Effect.map(findNode(state, "inspectNode", ref), (node) => nodeInspect(state, node))
      )
    )

  const updateNode: SwarmOperations["updateNode"] = (ref, version, spec) =>
    guard(
      store,
      "updateNode",
      [ref, version, spec],
      Effect.gen(function* () {
        const state = yield* managed(store, "updateNode")
        const node = yield* findNode(state, "updateNode", ref)
        if (node.version !== version) return yield* Effect.fail(outOfSequence("updateNode"))
        yield* setNodeSpec(store, state, node, spec)
      })
    )

  const createService: SwarmOperations["createService"] = (spec: ServiceSpecOptions, options) =>
    guard(
      store,
      "createService",
      [spec, options],
      Effect.gen(function* () {
        const state = yield* managed(store, "createService")
        if ([...state.services.values()].some((service) => service.spec.name === spec.name)) {
          return yield* Effect.fail(
            engineError(
              "createService",
              409,
              `rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${spec.name} already exists`
            )
          )
        }
        const nowMs = yield* nowMillis
        state.counters.service += 1
        const service: ServiceRecord = {
          id: swarmId("service", state.counters.service),
          spec: readServiceSpec(spec),
          version: nextVersion(state),
          createdMs: nowMs,
          updatedMs: nowMs,
          deadSlots: new Set()
        }
        state.services.set(service.id, service)
        emit(store, yield* Clock.currentTimeNanos, "service", "create", service.id, {
          name: service.spec.name
        })
        yield* reconcile(store, state, service)
        return { id: service.id, warnings: [] as ReadonlyArray<string> }
      })
    )

  const inspectService: SwarmOperations["inspectService"] = (ref) =>
    guard(
      store,
      "inspectService",
      [ref],
      Effect.flatMap(managed(store, "inspectService"), (state) =>
        Effect.map(findService(state, "inspectService", ref), (service) =>
          serviceInspect(state, service, false)
        )
      )
    )

  const listServices: SwarmOperations["listServices"] = (options) =>
    guard(
      store,
      "listServices",
      [options],
      Effect.map(managed(store, "listServices"), (state) =>
        [...state.services.values()]
          .filter(
            (service) =>
              matchesLabels(service.spec.labels, options?.labels) &&
              (options?.names === undefined || options.names.includes(service.spec.name))
          )
          .map((service) => serviceInspect(state, service, true))
      )
    )

  const updateService: SwarmOperations["updateService"] = (ref, version, spec, options) =>
    guard(
      store,
      "updateService",
      [ref, version, spec, options],
      Effect.gen(function* () {
        const state = yield* managed(store, "updateService")
        const service = yield* findService(state, "updateService", ref)
        if (service.version !== version) return yield* Effect.fail(outOfSequence("updateService"))
        const previous = service.spec
        service.spec = { ...readServiceSpec(spec), name: previous.name }
        service.version = nextVersion(state)
        service.updatedMs = yield* nowMillis
        service.deadSlots.clear()
        emit(store, yield* Clock.currentTimeNanos, "service", "update", service.id, {
          name: service.spec.name
        })
        // A changed task template replaces every task (all at once: the update config's pacing is not simulated).
        if (JSON.stringify(previous.taskTemplate) !== JSON.stringify(service.spec.taskTemplate)) {
          for (const task of state.tasks.values()) {
            if (task.serviceId === service.id && task.desiredState === "running")
              yield* shutdownTask(store, state, task)
          }
        }
        yield* reconcile(store, state, service)
        return { warnings: [] as ReadonlyArray<string> }
      })
    )

  const removeService: SwarmOperations["removeService"] = (ref) =>
    guard(
      store,
      "removeService",
      [ref],
      Effect.gen(function* () {
        const state = yield* managed(store, "removeService")
        const service = yield* findService(state, "removeService", ref)
        yield* removeServiceNow(store, state, service)
      })
    )

  const serviceLogs: SwarmOperations["serviceLogs"] = (ref, options) =>
    guardStream(
      store,
      "serviceLogs",
      [ref, options],
      Stream.unwrap(
        Effect.gen(function* () {
          const state = yield* managed(store, "serviceLogs")
          const service = yield* findService(state, "serviceLogs", ref)
          const selection = {
            stdout: options?.stdout !== false,
            stderr: options?.stderr !== false,
            timestamps: options?.timestamps === true
          }
          const sinceMs = options?.since === undefined ? undefined : options.since * 1000
          // One turn: the backlog, where each running task's output stands now, and the events
          // after it (a task started later is announced), so nothing is missed or shown twice.
          const tasks = [...state.tasks.values()].filter(
            (task) => task.serviceId === service.id && task.containerId !== undefined
          )
          // `tail` counts each task's lines, as each node reads its own tasks' logs.
          const lines = tasks
            .flatMap((task) => {
              const entries = store.containers.get(task.containerId ?? "")?.logs ?? []
              const kept =
                options?.tail === undefined
                  ? entries
                  : entries.slice(Math.max(0, entries.length - options.tail))
              return kept.map((entry) => ({ entry, task }))
            })
            .filter(({ entry }) => sinceMs === undefined || entry.timeMs >= sinceMs)
            .sort((a, b) => a.entry.timeMs - b.entry.timeMs)
            .flatMap(({ entry, task }) => {
              const line = toLogLine(entry, selection)
              return line === undefined ? [] : [withTask(line, task)]
            })
          const backlog = Stream.fromIterable(lines)
          if (options?.follow !== true) return backlog
          const after = store.lastEventNanos + 1n
          const running = tasks.flatMap((task) => {
            const container = store.containers.get(task.containerId ?? "")
            return container === undefined || container.status !== "running"
              ? []
              : [{ container, task, from: container.logs.length }]
          })
          const seen = new Set(running.map(({ container }) => container.id))
          const later = events(store)({ types: ["container", "service"], sinceNano: after }).pipe(
            // The real engine ends a follow when the service goes.
            Stream.takeWhile(
              (event) =>
                !(event.type === "service" && event.action === "remove" && event.actorId === service.id)
            ),
            Stream.filter(
              (event) =>
                event.type === "container" &&
                event.action === "start" &&
                event.attributes["com.docker.swarm.service.id"] === service.id &&
                !seen.has(event.actorId)
            ),
            Stream.flatMap(
              (event) => {
                seen.add(event.actorId)
                const container = store.containers.get(event.actorId)
                const task = [...state.tasks.values()].find((one) => one.containerId === event.actorId)
                return container === undefined || task === undefined
                  ? Stream.empty
                  : followFrom(container, 0, selection).pipe(Stream.map((line) => withTask(line, task)))
              },
              { concurrency: "unbounded" }
            )
          )
          // Pairwise merges, as `Stream.mergeAll` can hold lines back under the TestClock.
          const followed = running
            .map(({ container, task, from }) =>
              followFrom(container, from, selection).pipe(Stream.map((line) => withTask(line, task)))
            )
            .reduce((merged, one) => Stream.merge(merged, one), later)
          return Stream.concat(backlog, followed)
        })
      )
    )

  const listTasks: SwarmOperations["listTasks"] = (options) =>
    guard(
      store,
      "listTasks",
      [options],
      Effect.flatMap(managed(store, "listTasks"), (state) => {
        // As on the engine: a service filter naming no service is an error, not an empty list.
        const missing = options?.services?.find((ref) => lookupService(state, ref) === undefined)
        if (missing !== undefined) return Effect.fail(noSuchService("listTasks", missing))
        const services = options?.services?.map((ref) => lookupService(state, ref)?.id ?? ref)
        const nodes = options?.nodes?.map((ref) => lookupNode(state, ref)?.id ?? ref)
        const tasks = [...state.tasks.values()]
          .filter(
            (task) =>
              (services === undefined || services.includes(task.serviceId)) &&
              (nodes === undefined || (task.nodeId !== undefined && nodes.includes(task.nodeId))) &&
              (options?.desiredState === undefined || task.desiredState === options.desiredState) &&
              matchesLabels(
                { ...(state.services.get(task.serviceId)?.spec.labels ?? {}), ...task.labels },
                options?.labels
              )
          )
          .map(taskInspect)
        return Effect.succeed(tasks)
      })
    )

  return {
    swarmInspect,
    swarmInit,
    swarmJoin,
    swarmLeave,
    listNodes,
    inspectNode,
    updateNode,
    createService,
    inspectService,
    listServices,
    updateService,
    removeService,
    serviceLogs,
    listTasks
  }
}

/** Starts the swarm the options ask for. */
export const initSwarm = (store: Store, options: SwarmOptions | undefined) =>
  Effect.gen(function* () {
    if (options === undefined) return
    const nodes = options.nodes ?? 1
    store.swarm = makeSwarm(
      typeof nodes === "number" ? Array.from({ length: Math.max(1, nodes) }, () => ({})) : nodes,
      yield* nowMillis
    )
  })

/** The control side's swarm node faults. */
export const swarmControl = (
  store: Store
): Pick<MemoryEngineShape, "killNode" | "reviveNode" | "setNodeAvailability"> => ({
  killNode: (ref) =>
    Effect.gen(function* () {
      const state = yield* managed(store, "killNode")
      const node = yield* findNode(state, "killNode", ref)
      if (node.state === "down") return
      const nowNanos = yield* Clock.currentTimeNanos
      node.state = "down"
      node.version = nextVersion(state)
      emitNodeUpdate(store, nowNanos, node.id, node.hostname, { "state.old": "ready", "state.new": "down" })
      for (const task of state.tasks.values()) {
        if (task.nodeId !== node.id || task.lost) continue
        task.lost = true
        if (task.desiredState === "running" || task.desiredState === "ready") task.desiredState = "shutdown"
        const container = task.containerId === undefined ? undefined : store.containers.get(task.containerId)
        if (container !== undefined && container.status === "running") {
          exitSync(store, container, 137, nowNanos)
          yield* FiberMap.remove(store.processes, container.id)
        }
      }
      yield* reconcileAll(store, state)
    }),
  reviveNode: (ref) =>
    Effect.gen(function* () {
      const state = yield* managed(store, "reviveNode")
      const node = yield* findNode(state, "reviveNode", ref)
      if (node.state === "ready") return
      node.state = "ready"
      node.version = nextVersion(state)
      const nowMs = yield* nowMillis
      for (const task of state.tasks.values()) {
        if (task.nodeId !== node.id || !task.lost) continue
        task.state = "shutdown"
        task.updatedMs = nowMs
        task.version = nextVersion(state)
      }
      emitNodeUpdate(store, yield* Clock.currentTimeNanos, node.id, node.hostname, {
        "state.old": "down",
        "state.new": "ready"
      })
      yield* reconcileAll(store, state)
    }),
  setNodeAvailability: (ref, availability) =>
    Effect.gen(function* () {
      const state = yield* managed(store, "setNodeAvailability")
      const node = yield* findNode(state, "setNodeAvailability", ref)
      yield* setNodeSpec(store, state, node, { ...node.spec, availability })
    })
})
