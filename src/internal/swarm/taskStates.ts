/**
 * How one service's tasks become its replicas' `ContainerState`s (pure): each poll's tasks are
 * grouped by slot, the newest task of a slot is its current one, and its Swarm state maps to a
 * status. `new` ... `preparing` → `pulling`, `ready`/`starting` → `created`, `running` →
 * `running` (health from the task's container where known), a task that ended while Swarm will
 * replace it, or a slot whose task was replaced → `restarting` (restart count + 1, once per
 * replacement) until the new task runs, and an ended task Swarm will not replace → `exited`,
 * with its exit code and the task's error. No I/O: the poller feeds it, tests call it.
 *
 * @internal
 */
import { ContainerState, type Health, initial, type Task as TaskInfo } from "../../ContainerState.js"
import type { Task } from "../../DockerModel.js"
import * as Transitions from "../containerState.js"
import type { SwarmRestart } from "./serviceSpec.js"

/** One poll, as one service's states are made from it. @internal */
export interface Observation {
  /** This service's tasks (current and the few ended ones the engine keeps). */
  readonly tasks: ReadonlyArray<Task>
  /** Node id → hostname. */
  readonly nodes: ReadonlyMap<string, string>
  /** The nodes whose engine the Supervisor reaches (the manager's own, `nodeEngines`): stats are read there only. */
  readonly reachableNodes: ReadonlySet<string>
  /** Container id → health, for the containers the engine sees (those on its own node). */
  readonly health: ReadonlyMap<string, Health>
}

/** What the fold knows of a service. @internal */
export interface Settings {
  readonly name: string
  readonly image: string
  readonly replicas: number
  readonly restart: SwarmRestart
}

/** One slot as last seen. @internal */
export interface Slot {
  readonly taskId: string
  readonly state: ContainerState
  /** The current task ended (or was replaced) and that restart is already counted. */
  readonly restartCounted: boolean
  /** The current task replaces an earlier one and has not run yet: the slot is `restarting`. */
  readonly replacing: boolean
  readonly final: boolean
  /** The current task's container, once it has one. */
  readonly containerId: string | undefined
}

/** The fold's state: the slots seen so far. @internal */
export type Slots = ReadonlyMap<number, Slot>

/** No slot seen yet. @internal */
export const empty: Slots = new Map()

const preparing = new Set(["new", "allocated", "pending", "assigned", "accepted", "preparing"])
const creating = new Set(["ready", "starting"])
const ended = new Set(["complete", "failed", "shutdown", "rejected", "orphaned", "remove"])

/** Has the task ended (its container stopped, or it never got one)? @internal */
export const hasEnded = (task: Task): boolean => ended.has(task.status.state)

/** The newest task first: the slot's current one. */
const newer = (a: Task, b: Task): number =>
  a.createdAt === b.createdAt ? b.version - a.version : a.createdAt < b.createdAt ? 1 : -1

const taskInfo = (task: Task, observation: Observation): TaskInfo => ({
  slot: task.slot ?? 0,
  nodeId: task.nodeId,
  node: task.nodeId === undefined ? undefined : observation.nodes.get(task.nodeId),
  taskId: task.id,
  stats:
    task.nodeId !== undefined && observation.reachableNodes.has(task.nodeId) ? "available" : "unavailable"
})

const withTask = (state: ContainerState, task: TaskInfo): ContainerState =>
  new ContainerState({ ...state, task })

const exitOf = (task: Task) => ({
  exitCode: task.status.container?.exitCode,
  error: task.status.err,
  lastLogLines: []
})

/**
 * Will Swarm leave this ended task's slot as it is? Yes when the orchestrator no longer wants
 * it (the service was removed or scaled down: a restart would have come with its replacement),
 * for a job or a `none` policy, for `on-failure` after a clean exit, and once the attempts are
 * used up.
 *
 * @internal
 */
export const isFinalEnd = (task: Task, settings: Settings, restartCount: number): boolean => {
  if (task.desiredState === "shutdown" || task.desiredState === "remove") return true
  const policy = settings.restart.restartPolicy
  if (settings.restart.job || policy.condition === "none") return true
  if (policy.condition === "on-failure" && task.status.state === "complete") return true
  return policy.maxAttempts !== undefined && policy.maxAttempts > 0 && restartCount >= policy.maxAttempts
}

/** The signature of what a state says, to emit changes only. */
const signature = (state: ContainerState): string =>
  JSON.stringify([
    state.status,
    state.id,
    state.health,
    state.restartCount,
    state.exitCode,
    state.error,
    state.task?.taskId,
    state.task?.nodeId,
    state.task?.node
  ])

const stepSlot = (
  previous: Slot | undefined,
  tasks: ReadonlyArray<Task>,
  observation: Observation,
  settings: Settings
): [Slot, ReadonlyArray<ContainerState>] => {
  const current = tasks[0] as Task
  const info = taskInfo(current, observation)
  const emitted: Array<ContainerState> = []
  let state = withTask(previous?.state ?? initial(settings.name, settings.image), info)
  let restartCounted = previous?.restartCounted ?? false
  let replacing = previous?.replacing ?? false
  if (previous?.final === true) return [previous, []]
  if (previous !== undefined && previous.taskId !== current.id) {
    if (!restartCounted) {
      const replaced = tasks.find((task) => task.id === previous.taskId)
      state = Transitions.restarting(
        withTask(previous.state, previous.state.task ?? info),
        previous.state.restartCount + 1,
        replaced === undefined || !ended.has(replaced.status.state) ? undefined : exitOf(replaced)
      )
      emitted.push(state)
      state = withTask(state, info)
    }
    restartCounted = false
    replacing = true
  }
  const containerId = current.status.container?.containerId
  let final = false
  const phase = current.status.state
  if (preparing.has(phase) || creating.has(phase)) {
    if (!replacing && creating.has(phase)) state = Transitions.created(state, containerId ?? current.id)
  } else if (phase === "running") {
    if (state.status !== "running" || previous?.taskId !== current.id) {
      const since = new Date(current.status.timestamp)
      state = Transitions.started(state, Number.isNaN(since.getTime()) ? new Date() : since)
      state = new ContainerState({ ...state, id: containerId ?? current.id })
    }
    replacing = false
    const health = containerId === undefined ? undefined : observation.health.get(containerId)
    if (health !== undefined && health !== state.health) state = Transitions.health(state, health)
  } else if (ended.has(phase)) {
    if (isFinalEnd(current, settings, state.restartCount)) {
      state = Transitions.exited(state, exitOf(current))
      final = true
    } else if (!restartCounted) {
      state = Transitions.restarting(state, state.restartCount + 1, exitOf(current))
      restartCounted = true
      replacing = true
    }
  }
  if (previous === undefined || signature(state) !== signature(previous.state)) emitted.push(state)
  return [{ taskId: current.id, state, restartCounted, replacing, final, containerId }, emitted]
}

/**
 * One poll: the slots' new values and the states to emit, in slot order. A slot seen before
 * whose tasks are all gone (the service was removed behind the Supervisor's back) is `exited`.
 *
 * @internal
 */
export const step = (
  slots: Slots,
  observation: Observation,
  settings: Settings
): [Slots, ReadonlyArray<ContainerState>] => {
  const bySlot = new Map<number, Array<Task>>()
  for (const task of observation.tasks) {
    const key = task.slot ?? 0
    const group = bySlot.get(key)
    if (group === undefined) bySlot.set(key, [task])
    else group.push(task)
  }
  const next = new Map(slots)
  const emitted: Array<ContainerState> = []
  for (const slotNumber of [...new Set([...slots.keys(), ...bySlot.keys()])].sort((a, b) => a - b)) {
    const previous = slots.get(slotNumber)
    const tasks = bySlot.get(slotNumber)
    if (tasks === undefined) {
      if (previous !== undefined && !previous.final) {
        const state = Transitions.exited(previous.state, {
          exitCode: undefined,
          error: "the task is gone (its service was removed)",
          lastLogLines: []
        })
        next.set(slotNumber, { ...previous, state, final: true })
        emitted.push(state)
      }
      continue
    }
    const [slot, states] = stepSlot(previous, [...tasks].sort(newer), observation, settings)
    next.set(slotNumber, slot)
    emitted.push(...states)
  }
  return [next, emitted]
}

/** Is every replica's slot finished (the run is over)? @internal */
export const isDone = (slots: Slots, settings: Settings): boolean => {
  const all = [...slots.values()]
  return all.length >= settings.replicas && all.every((slot) => slot.final)
}

/**
 * A stats snapshot for the slot whose current task is `taskId` (a late one for a replaced task
 * is dropped): the slot's new value and the state to emit, if any.
 *
 * @internal
 */
export const withStats = (
  slots: Slots,
  taskId: string,
  update: (state: ContainerState) => ContainerState
): [Slots, ContainerState | undefined] => {
  for (const [slotNumber, slot] of slots) {
    if (slot.taskId !== taskId || slot.final) continue
    const state = update(slot.state)
    if (state === slot.state) return [slots, undefined]
    const next = new Map(slots)
    next.set(slotNumber, { ...slot, state })
    return [next, state]
  }
  return [slots, undefined]
}
