/**
 * The in-memory engine's swarm: its nodes, services and tasks as records, the lookups by id,
 * name or prefix, the placement rules (constraints, spread over active nodes) and the records
 * as the engine's inspect values show them. No effects here.
 *
 * @internal
 */
import type { NodeSpec, ServiceInspect, ServiceSpec, SwarmNode, Task, TaskSpec } from "../../DockerModel.js"
import type { SwarmNodeOptions } from "../../MemoryEngine.js"
import { engineError, makeId } from "./docker.js"
import { iso } from "./store.js"

export interface NodeRecord {
  readonly id: string
  readonly hostname: string
  spec: NodeSpec
  version: number
  state: "ready" | "down"
  readonly addr: string
  readonly createdMs: number
  updatedMs: number
}

export interface ServiceRecord {
  readonly id: string
  spec: ServiceSpec
  version: number
  readonly createdMs: number
  updatedMs: number
  /**
   * Slots (`slot:<n>`, or `node:<id>` for a global service) whose task ended and whose restart
   * policy made no new one: left empty until the service is updated, as swarmkit leaves them.
   */
  readonly deadSlots: Set<string>
}

/** The key of a task's slot in `deadSlots`. */
export const slotKey = (task: { readonly slot: number | undefined; readonly nodeId: string | undefined }) =>
  task.slot !== undefined ? `slot:${task.slot}` : `node:${task.nodeId ?? ""}`

export interface TaskRecord {
  readonly id: string
  readonly serviceId: string
  /** 1..replicas for a replicated service; 0.. for a job; absent for a global one. */
  readonly slot: number | undefined
  nodeId: string | undefined
  readonly spec: TaskSpec
  readonly labels: Readonly<Record<string, string>>
  version: number
  readonly createdMs: number
  updatedMs: number
  state: string
  desiredState: string
  message: string
  err: string | undefined
  containerId: string | undefined
  exitCode: number | undefined
  /** Its node went down: the manager no longer hears of it, its last state stays as it was. */
  lost: boolean
}

export interface SwarmState {
  readonly id: string
  readonly createdMs: number
  readonly nodes: Map<string, NodeRecord>
  readonly services: Map<string, ServiceRecord>
  readonly tasks: Map<string, TaskRecord>
  /** The node this engine is (the manager the API talks to). */
  readonly localNodeId: string
  readonly counters: { node: number; service: number; task: number; version: number }
}

const managerMessage =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'

/** The 503 every swarm call but init and join answers outside a swarm. */
export const notManager = (operation: string) => engineError(operation, 503, managerMessage)

/** A 25-character swarm id (the engine's base-36 ids), deterministic per kind and number. */
export const swarmId = (kind: string, n: number): string =>
  BigInt(`0x${makeId(kind, n)}`)
    .toString(36)
    .slice(0, 25)

/** A new swarm of `nodes` (the first one, this engine, the leading manager). */
export const makeSwarm = (nodes: ReadonlyArray<SwarmNodeOptions>, nowMs: number): SwarmState => {
  const state: SwarmState = {
    id: swarmId("swarm", 1),
    createdMs: nowMs,
    nodes: new Map(),
    services: new Map(),
    tasks: new Map(),
    localNodeId: swarmId("node", 1),
    counters: { node: 0, service: 0, task: 0, version: 10 }
  }
  const all = nodes.length === 0 ? [{}] : nodes
  all.forEach((options, index) => {
    state.counters.node += 1
    const id = swarmId("node", state.counters.node)
    state.nodes.set(id, {
      id,
      hostname: options.hostname ?? `node${index + 1}`,
      spec: {
        labels: { ...(options.labels ?? {}) },
        role: index === 0 ? "manager" : (options.role ?? "worker"),
        availability: "active"
      },
      version: nextVersion(state),
      state: "ready",
      addr: `10.231.77.${index + 2}`,
      createdMs: nowMs,
      updatedMs: nowMs
    })
  })
  return state
}

/** The swarm's object versions come from one counter, as raft's index does. */
export const nextVersion = (state: SwarmState): number => {
  state.counters.version += 1
  return state.counters.version
}

const lookup = <A extends { readonly id: string }>(
  records: Map<string, A>,
  ref: string,
  name: (record: A) => string
): A | undefined => {
  const byId = records.get(ref)
  if (byId !== undefined) return byId
  for (const record of records.values()) if (name(record) === ref) return record
  if (ref.length === 0) return undefined
  const matches = [...records.values()].filter((record) => record.id.startsWith(ref))
  return matches.length === 1 ? matches[0] : undefined
}

export const lookupNode = (state: SwarmState, ref: string) =>
  lookup(state.nodes, ref, (node) => node.hostname)
export const lookupService = (state: SwarmState, ref: string) =>
  lookup(state.services, ref, (service) => service.spec.name)

export const noSuchNode = (operation: string, ref: string) =>
  engineError(operation, 404, `node ${ref} not found`)
export const noSuchService = (operation: string, ref: string) =>
  engineError(operation, 404, `service ${ref} not found`)

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

/** Whether `node` satisfies one constraint (`node.hostname==x`, `node.role!=manager`, `node.labels.k==v`, `node.id==`). */
const satisfies = (node: NodeRecord, constraint: string): boolean => {
  const match = /^\s*([\w.-]+)\s*(==|!=)\s*(.*?)\s*$/.exec(constraint)
  if (match === null) return false
  const [, key = "", operator, expected = ""] = match
  const actual =
    key === "node.hostname"
      ? node.hostname
      : key === "node.role"
        ? node.spec.role
        : key === "node.id"
          ? node.id
          : key.startsWith("node.labels.")
            ? node.spec.labels[key.slice("node.labels.".length)]
            : undefined
  return operator === "==" ? actual === expected : actual !== expected
}

/** Whether `node` meets every placement constraint of `spec`. */
export const meetsConstraints = (node: NodeRecord, spec: TaskSpec): boolean =>
  (spec.constraints ?? []).every((constraint) => satisfies(node, constraint))

/** Whether a new task of this spec may go to `node`: it is up, active and meets every constraint. */
export const eligible = (node: NodeRecord, spec: TaskSpec): boolean =>
  node.state === "ready" && node.spec.availability === "active" && meetsConstraints(node, spec)

const isActive = (task: TaskRecord) =>
  (task.desiredState === "running" || task.desiredState === "ready") && !task.lost

/**
 * Where a new task of `service` goes: the eligible node with the fewest active tasks of the
 * service, then the fewest in all (swarmkit's spread), then the oldest; undefined when none is.
 */
export const placeTask = (state: SwarmState, service: ServiceRecord): NodeRecord | undefined => {
  const count = (node: NodeRecord, ofService: boolean) =>
    [...state.tasks.values()].filter(
      (task) => task.nodeId === node.id && isActive(task) && (!ofService || task.serviceId === service.id)
    ).length
  const candidates = [...state.nodes.values()].filter((node) => eligible(node, service.spec.taskTemplate))
  candidates.sort((a, b) => count(a, true) - count(b, true) || count(a, false) - count(b, false))
  return candidates[0]
}

/** The tasks that hold a slot now: desired to run (or about to), not lost with their node. */
export const activeTasks = (state: SwarmState, serviceId: string): ReadonlyArray<TaskRecord> =>
  [...state.tasks.values()].filter((task) => task.serviceId === serviceId && isActive(task))

// ---------------------------------------------------------------------------------------------
// As the engine shows them
// ---------------------------------------------------------------------------------------------

export const nodeInspect = (state: SwarmState, node: NodeRecord): SwarmNode => ({
  id: node.id,
  version: node.version,
  spec: node.spec,
  hostname: node.hostname,
  state: node.state,
  addr: node.addr,
  engineLabels: {},
  engineVersion: "20.10.24",
  ...(node.spec.role === "manager"
    ? {
        manager: {
          leader: node.id === state.localNodeId,
          reachability: node.state === "ready" ? "reachable" : "unreachable",
          addr: `${node.addr}:2377`
        }
      }
    : {})
})

export const serviceInspect = (
  state: SwarmState,
  service: ServiceRecord,
  withTasks: boolean
): ServiceInspect => {
  const tasks = [...state.tasks.values()].filter((task) => task.serviceId === service.id)
  const mode = service.spec.mode
  const desired =
    mode._tag === "Replicated"
      ? mode.replicas
      : mode._tag === "Global"
        ? [...state.nodes.values()].filter((node) => eligible(node, service.spec.taskTemplate)).length
        : Math.min(
            mode.maxConcurrent ?? 1,
            (mode.totalCompletions ?? mode.maxConcurrent ?? 1) -
              tasks.filter((task) => task.state === "complete").length
          )
  return {
    id: service.id,
    version: service.version,
    createdAt: iso(service.createdMs),
    updatedAt: iso(service.updatedMs),
    spec: service.spec,
    ports: (service.spec.endpoint?.ports ?? []).map((port, index) =>
      port.publishedPort === undefined || port.publishedPort === 0
        ? { ...port, publishedPort: 30000 + index, publishMode: port.publishMode ?? "ingress" }
        : { ...port, publishMode: port.publishMode ?? "ingress" }
    ),
    ...(withTasks
      ? {
          tasks: {
            running: tasks.filter((task) => task.state === "running" && !task.lost).length,
            desired,
            completed: tasks.filter((task) => task.state === "complete").length
          }
        }
      : {})
  }
}

export const taskInspect = (task: TaskRecord): Task => ({
  id: task.id,
  version: task.version,
  serviceId: task.serviceId,
  ...(task.slot !== undefined && task.slot > 0 ? { slot: task.slot } : {}),
  ...(task.nodeId !== undefined ? { nodeId: task.nodeId } : {}),
  createdAt: iso(task.createdMs),
  updatedAt: iso(task.updatedMs),
  labels: task.labels,
  status: {
    state: task.state,
    timestamp: iso(task.updatedMs),
    message: task.message,
    ...(task.err !== undefined ? { err: task.err } : {}),
    ...(task.containerId !== undefined
      ? {
          container: {
            containerId: task.containerId,
            ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {})
          }
        }
      : {})
  },
  desiredState: task.desiredState,
  spec: task.spec
})
