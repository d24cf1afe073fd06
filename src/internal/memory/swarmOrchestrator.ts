/**
 * The in-memory swarm's orchestrator: it keeps each service at its desired tasks (replicas in
 * slots 1..n, one per eligible node for a global service, completions for a job), places new
 * tasks, runs each on a container of this engine, and acts on their ends: the restart policy
 * (condition, delay, attempts within a window) makes a new task in the same slot, a drained or
 * lost node's tasks are replaced elsewhere, a removed service's tasks are stopped and go.
 *
 * Swarm keeps no engine restart policy on task containers: a task runs once, and a new task
 * (a new container) replaces it.
 *
 * @internal
 */
import { Clock, Deferred, Effect, FiberMap } from "effect"
import type { CreateContainerOptions, MountOptions, ServiceMount } from "../../DockerModel.js"
import { createContainerSync, startContainerNow, stopContainerNow } from "./containers.js"
import { emit } from "./events.js"
import { addImageSync } from "./images.js"
import { removeSync } from "./processes.js"
import { lookupImage, nanosToMillis, type Store } from "./store.js"
import {
  activeTasks,
  eligible,
  meetsConstraints,
  nextVersion,
  placeTask,
  type ServiceRecord,
  type SwarmState,
  slotKey,
  swarmId,
  type TaskRecord
} from "./swarmState.js"

/** swarmkit's default restart delay. */
const defaultDelayMs = 5_000

const terminal = new Set(["complete", "failed", "shutdown", "rejected", "orphaned", "remove"])

const toMount = (mount: ServiceMount): MountOptions => {
  const readOnly = mount.readOnly === undefined ? {} : { readOnly: mount.readOnly }
  switch (mount.type) {
    case "bind":
      return { type: "bind", source: mount.source ?? "", target: mount.target, ...readOnly }
    case "volume":
      return {
        type: "volume",
        target: mount.target,
        ...(mount.source !== undefined ? { source: mount.source } : {}),
        ...readOnly
      }
    case "tmpfs":
      return {
        type: "tmpfs",
        target: mount.target,
        ...readOnly,
        ...(mount.sizeBytes !== undefined ? { sizeBytes: mount.sizeBytes } : {}),
        ...(mount.mode !== undefined ? { mode: mount.mode } : {})
      }
  }
}

/** The container Docker creates for a task: its name, the spec's container and Swarm's labels. */
const containerOptions = (service: ServiceRecord, task: TaskRecord): CreateContainerOptions => {
  const container = task.spec.container
  const network = task.spec.networks?.[0]
  const name = `${service.spec.name}.${task.slot ?? task.nodeId}.${task.id}`
  return {
    image: container.image,
    name,
    ...(container.command !== undefined ? { entrypoint: container.command } : {}),
    ...(container.args !== undefined ? { cmd: container.args } : {}),
    ...(container.env !== undefined ? { env: container.env } : {}),
    labels: {
      ...(container.labels ?? {}),
      "com.docker.swarm.node.id": task.nodeId ?? "",
      "com.docker.swarm.service.id": service.id,
      "com.docker.swarm.service.name": service.spec.name,
      "com.docker.swarm.task": "",
      "com.docker.swarm.task.id": task.id,
      "com.docker.swarm.task.name": name
    },
    ...(container.user !== undefined ? { user: container.user } : {}),
    ...(container.dir !== undefined ? { workingDir: container.dir } : {}),
    ...(container.healthcheck !== undefined ? { healthcheck: container.healthcheck } : {}),
    ...(container.stopSignal !== undefined ? { stopSignal: container.stopSignal } : {}),
    stopTimeout: (container.stopGracePeriodMs ?? 10_000) / 1000,
    ...(container.init !== undefined ? { init: container.init } : {}),
    ...(task.spec.limits?.memoryBytes !== undefined ? { memory: task.spec.limits.memoryBytes } : {}),
    ...(task.spec.limits?.nanoCpus !== undefined ? { nanoCpus: task.spec.limits.nanoCpus } : {}),
    ...(container.mounts !== undefined ? { mounts: container.mounts.map(toMount) } : {}),
    ...(network !== undefined
      ? {
          networkMode: network.target,
          ...(network.aliases !== undefined ? { networkAliases: network.aliases } : {})
        }
      : {})
  }
}

const touch = (state: SwarmState, task: TaskRecord, nowMs: number) => {
  task.version = nextVersion(state)
  task.updatedMs = nowMs
}

/** Makes a task for `service` in `slot` (or on `nodeId`, global), placed now when a node fits. */
const newTask = (
  state: SwarmState,
  service: ServiceRecord,
  nowMs: number,
  at: { readonly slot?: number; readonly nodeId?: string },
  desiredState: string
): TaskRecord => {
  state.counters.task += 1
  const placed = at.nodeId ?? placeTask(state, service)?.id
  const task: TaskRecord = {
    id: swarmId("task", state.counters.task),
    serviceId: service.id,
    slot: at.slot,
    nodeId: placed,
    spec: service.spec.taskTemplate,
    labels: {},
    version: nextVersion(state),
    createdMs: nowMs,
    updatedMs: nowMs,
    state: placed === undefined ? "pending" : "assigned",
    desiredState,
    message: placed === undefined ? "pending task scheduling" : "scheduler assigned task to node",
    err:
      placed === undefined
        ? "no suitable node (scheduling constraints not satisfied on any node)"
        : undefined,
    containerId: undefined,
    exitCode: undefined,
    lost: false
  }
  state.tasks.set(task.id, task)
  return task
}

/** Runs a placed task: its image (pulled from the simulated registry if needed), its container, its exit watched. */
const runTask = (store: Store, state: SwarmState, task: TaskRecord): Effect.Effect<void> =>
  Effect.gen(function* () {
    const service = state.services.get(task.serviceId)
    if (service === undefined || task.nodeId === undefined || task.desiredState !== "running") return
    const nowMs = yield* Clock.currentTimeMillis
    const image = task.spec.container.image
    if (lookupImage(store, image) === undefined) {
      const definition = store.registry.get(image)
      if (definition !== undefined) addImageSync(store, definition, nowMs)
    }
    const started = yield* createContainerSync(store, containerOptions(service, task)).pipe(
      Effect.tap(({ id }) => {
        task.containerId = id
        return startContainerNow(store, id)
      }),
      Effect.result
    )
    if (started._tag === "Failure") {
      return yield* taskEnded(store, state, task, {
        state: "rejected",
        err: started.failure.message
      })
    }
    task.state = "running"
    task.message = "started"
    task.err = undefined
    touch(state, task, nowMs)
    const container = store.containers.get(task.containerId ?? "")
    if (container === undefined) return
    yield* Deferred.await(container.exited).pipe(
      Effect.andThen(
        Effect.suspend(() =>
          taskEnded(store, state, task, {
            state: container.exitCode === 0 ? "complete" : "failed",
            exitCode: container.exitCode,
            ...(container.exitCode === 0 ? {} : { err: `task: non-zero exit (${container.exitCode})` })
          })
        )
      ),
      Effect.forkIn(store.scope)
    )
  })

/** Whether the restart policy replaces a task that ended so, counting the slot's earlier restarts in its window. */
const restarts = (state: SwarmState, service: ServiceRecord, task: TaskRecord, nowMs: number): boolean => {
  const policy = service.spec.taskTemplate.restartPolicy
  const condition = policy?.condition ?? "any"
  const isJob = service.spec.mode._tag === "ReplicatedJob"
  if (condition === "none") return false
  if (task.state === "complete" && (condition === "on-failure" || isJob)) return false
  const max = policy?.maxAttempts ?? 0
  if (max <= 0) return true
  const window = policy?.windowMs ?? 0
  const earlier = [...state.tasks.values()].filter(
    (other) =>
      other.serviceId === task.serviceId &&
      other.id !== task.id &&
      other.slot === task.slot &&
      (task.slot !== undefined || other.nodeId === task.nodeId) &&
      other.desiredState === "shutdown" &&
      terminal.has(other.state) &&
      (window <= 0 || nowMs - other.updatedMs <= window)
  ).length
  return earlier < max
}

/** A task's container ended (or never started): its final state, then the orchestrator's answer. */
const taskEnded = (
  store: Store,
  state: SwarmState,
  task: TaskRecord,
  end: { readonly state: string; readonly exitCode?: number; readonly err?: string }
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const nowMs = yield* Clock.currentTimeMillis
    if (task.lost) return
    if (task.desiredState !== "running") {
      // Stopped by the orchestrator (drain, scale down, update, removal).
      task.state = "shutdown"
      if (end.exitCode !== undefined) task.exitCode = end.exitCode
      touch(state, task, nowMs)
      return
    }
    task.state = end.state
    task.message = end.state === "complete" ? "finished" : end.state
    task.err = end.err
    if (end.exitCode !== undefined) task.exitCode = end.exitCode
    touch(state, task, nowMs)
    const service = state.services.get(task.serviceId)
    if (service === undefined) return
    const isJob = service.spec.mode._tag === "ReplicatedJob"
    if (isJob && task.state === "complete") {
      task.desiredState = "complete"
      return yield* reconcile(store, state, service)
    }
    // Ended: desired `shutdown`, restarted or not (what `docker service ps` shows as Shutdown/Failed).
    task.desiredState = "shutdown"
    if (!restarts(state, service, task, nowMs)) {
      service.deadSlots.add(slotKey(task))
      return yield* reconcile(store, state, service)
    }
    const next = newTask(
      state,
      service,
      nowMs,
      task.slot !== undefined ? { slot: task.slot } : { nodeId: task.nodeId ?? "" },
      "ready"
    )
    const delayMs = service.spec.taskTemplate.restartPolicy?.delayMs ?? defaultDelayMs
    yield* Effect.sleep(delayMs).pipe(
      Effect.andThen(
        Effect.suspend(() => {
          if (next.desiredState !== "ready" || !state.services.has(service.id)) return Effect.void
          next.desiredState = "running"
          return runTask(store, state, next)
        })
      ),
      Effect.forkIn(store.scope)
    )
  })

/** Stops a task for the orchestrator: desired `shutdown`, its container stopped with its grace period. */
export const shutdownTask = (store: Store, state: SwarmState, task: TaskRecord, desired = "shutdown") =>
  Effect.gen(function* () {
    const nowMs = yield* Clock.currentTimeMillis
    task.desiredState = desired
    touch(state, task, nowMs)
    const container = task.containerId === undefined ? undefined : store.containers.get(task.containerId)
    if (container === undefined || container.status !== "running") {
      if (!terminal.has(task.state) && !task.lost) task.state = "shutdown"
      return
    }
    // The API call that caused it returns at once; the container gets its grace period meanwhile.
    yield* stopContainerNow(store, container.id).pipe(Effect.ignore, Effect.forkIn(store.scope))
  })

/** Removes a task's container, as the engine's task reaper does. */
export const removeTaskContainer = (store: Store, task: TaskRecord) =>
  Effect.gen(function* () {
    const container = task.containerId === undefined ? undefined : store.containers.get(task.containerId)
    if (container === undefined || container.removed) return
    yield* FiberMap.remove(store.processes, container.id)
    removeSync(store, container, yield* Clock.currentTimeNanos)
  })

const liveJobTask = (task: TaskRecord) =>
  !task.lost &&
  (task.desiredState === "ready" || (task.desiredState === "running" && !terminal.has(task.state)))

/** Brings a service to its desired tasks: new ones where slots or nodes lack one, extra or misplaced ones stopped. */
export const reconcile = (store: Store, state: SwarmState, service: ServiceRecord): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (!state.services.has(service.id)) return
    const nowMs = yield* Clock.currentTimeMillis
    const mode = service.spec.mode
    const active = activeTasks(state, service.id)
    const started: Array<TaskRecord> = []
    // Tasks on nodes they may no longer run on (drained, constraints changed) make way first.
    for (const task of active) {
      const node = task.nodeId === undefined ? undefined : state.nodes.get(task.nodeId)
      const misplaced =
        node !== undefined &&
        (node.spec.availability === "drain" || !meetsConstraints(node, service.spec.taskTemplate))
      const extra = mode._tag === "Replicated" && task.slot !== undefined && task.slot > mode.replicas
      if (misplaced || extra) yield* shutdownTask(store, state, task)
    }
    const holding = activeTasks(state, service.id)
    if (mode._tag === "Replicated") {
      for (let slot = 1; slot <= mode.replicas; slot++) {
        if (!holding.some((task) => task.slot === slot) && !service.deadSlots.has(`slot:${slot}`))
          started.push(newTask(state, service, nowMs, { slot }, "running"))
      }
    } else if (mode._tag === "Global") {
      for (const node of state.nodes.values()) {
        if (
          eligible(node, service.spec.taskTemplate) &&
          !holding.some((task) => task.nodeId === node.id) &&
          !service.deadSlots.has(`node:${node.id}`)
        )
          started.push(newTask(state, service, nowMs, { nodeId: node.id }, "running"))
      }
    } else {
      const tasks = [...state.tasks.values()].filter((task) => task.serviceId === service.id)
      const total = mode.totalCompletions ?? mode.maxConcurrent ?? 1
      const completedSlots = new Set(
        tasks.filter((task) => task.state === "complete").map((task) => task.slot)
      )
      const busySlots = new Set(tasks.filter(liveJobTask).map((task) => task.slot))
      let room = (mode.maxConcurrent ?? 1) - busySlots.size
      for (let slot = 0; slot < total && room > 0; slot++) {
        if (completedSlots.has(slot) || busySlots.has(slot) || service.deadSlots.has(`slot:${slot}`)) continue
        started.push(newTask(state, service, nowMs, { slot }, "running"))
        room -= 1
      }
    }
    // Pending tasks get a node when one fits now.
    for (const task of holding) {
      if (task.state !== "pending") continue
      const node = placeTask(state, service)
      if (node === undefined) continue
      task.nodeId = node.id
      task.state = "assigned"
      task.err = undefined
      touch(state, task, nowMs)
      if (task.desiredState === "running") started.push(task)
    }
    for (const task of started)
      if (task.nodeId !== undefined && task.desiredState === "running") yield* runTask(store, state, task)
  })

/** Reconciles every service (after a node changed). */
export const reconcileAll = (store: Store, state: SwarmState) =>
  Effect.forEach([...state.services.values()], (service) => reconcile(store, state, service), {
    discard: true
  })

/** A node event as Docker emits them: `node` `update` with the changed attribute's old and new values. */
export const emitNodeUpdate = (
  store: Store,
  nowNanos: bigint,
  nodeId: string,
  hostname: string,
  change: Readonly<Record<string, string>>
) => emit(store, nowNanos, "node", "update", nodeId, { name: hostname, ...change })

/** The clock in milliseconds, as the swarm's records keep time. */
export const nowMillis = Effect.map(Clock.currentTimeNanos, nanosToMillis)
