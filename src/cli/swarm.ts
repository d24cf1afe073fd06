/**
 * What `--swarm` changes in the CLI beyond the specs (`Spec.toSpecInput`): the notice that
 * `depends_on` orders the deployment only, and the instances' Swarm services and tasks for
 * `ps --swarm` and `down --swarm`, found on the manager by the instance labels.
 *
 * @since 0.3.0
 */
import { Effect, Schedule } from "effect"
import type { DockerEngineShape, ServiceInspect, SwarmNode, Task } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as Supervisor from "../Supervisor.js"
import type * as Fleet from "./Fleet.js"

const CONDITION_TEXT: Readonly<Record<Fleet.DependencyCondition, string>> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed"
}

/**
 * The one line `up --swarm` says when the fleet has `depends_on`: Swarm deploys in order but
 * waits for no condition, as `docker stack deploy` treats it. `undefined` without `depends_on`.
 *
 * @since 0.3.0
 */
export const dependsOnNotice = (fleet: Fleet.Fleet): string | undefined => {
  const waits = fleet.services.flatMap((service) =>
    service.dependsOn.map(
      (dependency) => `${service.name} on ${dependency.service} ${CONDITION_TEXT[dependency.condition]}`
    )
  )
  if (waits.length === 0) return undefined
  return `depends_on on Swarm orders the deployment only, as docker stack deploy does: no condition is waited for (${waits.join(", ")})`
}

/**
 * One replica slot of a Swarm service: its row name (`web-2`, as `up` shows it), the node it
 * runs on and its task's state.
 *
 * @since 0.3.0
 */
export interface Replica {
  readonly row: string
  readonly node: string | undefined
  readonly state: string
  readonly message: string | undefined
}

/**
 * A Swarm service of an instance with its current replicas (the newest task of each slot).
 *
 * @since 0.3.0
 */
export interface Service {
  readonly id: string
  readonly app: string
  readonly instance: string
  /** The fleet service (the component label). */
  readonly component: string
  readonly owner: string | undefined
  readonly replicas: ReadonlyArray<Replica>
}

const newestPerSlot = (tasks: ReadonlyArray<Task>): ReadonlyArray<Task> => {
  const bySlot = new Map<string, Task>()
  for (const task of tasks) {
    const key = String(task.slot ?? task.nodeId ?? task.id)
    const seen = bySlot.get(key)
    if (seen === undefined || seen.createdAt < task.createdAt) bySlot.set(key, task)
  }
  return [...bySlot.values()].sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0))
}

/**
 * The Swarm services of the library's instances on a manager (of one app, or all), each with
 * the newest task of every slot and the node it is on.
 *
 * @since 0.3.0
 */
export const listServices = (
  engine: DockerEngineShape,
  selection: { readonly app?: string | undefined; readonly labelPrefix?: string | undefined } = {}
): Effect.Effect<ReadonlyArray<Service>, DockerError> =>
  Effect.gen(function* () {
    const keys = Supervisor.labelKeys(selection.labelPrefix)
    const services = yield* engine.listServices({ labels: { [keys.app]: selection.app ?? true } })
    if (services.length === 0) return []
    const [tasks, nodes] = yield* Effect.all(
      [engine.listTasks({ services: services.map((service) => service.id) }), engine.listNodes()],
      { concurrency: 2 }
    )
    const hostname = (nodeId: string | undefined) =>
      nodes.find((node: SwarmNode) => node.id === nodeId)?.hostname ?? nodeId
    return services.map((service: ServiceInspect): Service => {
      const labels = service.spec.labels
      const component = labels[keys.component] ?? service.spec.name
      const own = newestPerSlot(tasks.filter((task) => task.serviceId === service.id))
      const replicated = own.length > 1
      return {
        id: service.id,
        app: labels[keys.app] ?? "",
        instance: labels[keys.instance] ?? "",
        component,
        owner: labels[keys.owner],
        replicas: own.map((task) => ({
          row: replicated && task.slot !== undefined ? `${component}-${task.slot}` : component,
          node: hostname(task.nodeId),
          state: task.status.state,
          message: task.status.err ?? task.status.message
        }))
      }
    })
  })

/** Task states a task does not leave (Swarm's terminal states). */
const ENDED: ReadonlySet<string> = new Set([
  "complete",
  "failed",
  "shutdown",
  "rejected",
  "orphaned",
  "remove"
])

/**
 * Removes Swarm services all at once and waits until their tasks are gone (each stopped within
 * its grace period), so that the instances' networks can go next. Already gone is fine.
 *
 * @since 0.3.0
 */
export const removeServices = (
  engine: DockerEngineShape,
  services: ReadonlyArray<Service>
): Effect.Effect<void, DockerError> =>
  Effect.gen(function* () {
    if (services.length === 0) return
    yield* Effect.forEach(
      services,
      (service) =>
        engine
          .removeService(service.id)
          .pipe(
            Effect.catchTag("DockerError", (error) =>
              error.reason === "NotFound" ? Effect.void : Effect.fail(error)
            )
          ),
      { concurrency: "unbounded", discard: true }
    )
    yield* engine.listTasks({ services: services.map((service) => service.id) }).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("250 millis"),
        until: (tasks) => tasks.every((task) => ENDED.has(task.status.state))
      }),
      Effect.timeoutOrElse({ duration: "2 minutes", orElse: () => Effect.succeed([]) }),
      Effect.catchTag("DockerError", (error) =>
        error.reason === "NotFound" ? Effect.succeed([]) : Effect.fail(error)
      )
    )
  })

/**
 * The `ps --swarm` table: one line per replica slot (`web-2`, as `up` names it), with the node
 * it runs on and its task's state (and why, when it failed).
 *
 * @since 0.3.0
 */
export const render = (services: ReadonlyArray<Service>): ReadonlyArray<string> => {
  if (services.length === 0) return ["no swarm services"]
  const rows: Array<ReadonlyArray<string>> = [["APP", "INSTANCE", "OWNER", "SERVICE", "NODE", "STATE"]]
  for (const service of services) {
    const owner = Supervisor.ownerOf(service.owner)
    const ownerText = owner === undefined ? "unknown" : `${owner.status} (pid ${owner.pid})`
    if (service.replicas.length === 0)
      rows.push([service.app, service.instance, ownerText, service.component, "-", "no task yet"])
    for (const replica of service.replicas) {
      rows.push([
        service.app,
        service.instance,
        ownerText,
        replica.row,
        replica.node ?? "-",
        replica.message !== undefined && replica.state !== "running"
          ? `${replica.state} (${replica.message})`
          : replica.state
      ])
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row
      .map((text, column) => (column === row.length - 1 ? text : text.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd()
  )
}
