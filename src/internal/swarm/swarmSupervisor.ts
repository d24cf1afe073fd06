/**
 * The Supervisor on Docker Swarm (`Supervisor.layerSwarm`): an instance over an engine that
 * manages a swarm. It owns a labelled, attachable overlay network, the task poller
 * (`taskWatch.ts`) and every service it runs (`serviceRun.ts`); releasing it removes all its
 * services at once (Swarm stops their tasks, each within its stop grace period), waits for
 * their tasks to go, then removes the network. `list`, `isRunning` and `remove` act on
 * services; `removeStale` finds the services and networks of dead instances by the same owner
 * labels as the single-host Supervisor.
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import { Duration, Effect, Option } from "effect"
import * as ContainerSpec from "../../ContainerSpec.js"
import {
  type ContainerSummary,
  DockerEngine,
  type DockerEngineShape,
  type Options as EngineOptions,
  type LabelFilter,
  make as makeEngine,
  type ServiceInspect,
  type SwarmNode
} from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { Options, Selector, SupervisorShape } from "../../Supervisor.js"
import * as Labels from "../labels.js"
import * as SupervisorStats from "../supervisorStats.js"
import * as Volumes from "../supervisorVolumes.js"
import * as Teardown from "../teardown.js"
import * as ServiceRun from "./serviceRun.js"
import * as TaskWatch from "./taskWatch.js"

/**
 * Options of a Swarm Supervisor instance: those of the single-host one, how often the
 * instance polls its tasks, and the engines of other nodes.
 *
 * @internal
 */
export interface SwarmOptions extends Omit<Options, "eventsReconnect" | "publishedHost"> {
  /** Between polls of the instance's tasks (default 1 second); `service`/`node` events poll at once. */
  readonly taskPollInterval?: Duration.Input | undefined
  /**
   * Engines of nodes other than the manager's, keyed by the node's hostname, address or id:
   * connection options (connected for the instance's life) or an engine already built.
   */
  readonly nodeEngines?: Readonly<Record<string, EngineOptions | DockerEngineShape>> | undefined
}

/** The Docker label of a task's container naming its node. */
const nodeIdLabel = "com.docker.swarm.node.id"

/**
 * The node of the engine the Supervisor talks to: the only manager, else the node a container
 * of this engine's own tasks is labelled with; `undefined` when neither says (no stats then).
 */
const selfNode = Effect.fn("Supervisor.swarmSelfNode")(function* () {
  const engine = yield* DockerEngine
  const managers = yield* engine.listNodes({ role: "manager" })
  if (managers.length === 1) return managers[0]?.id
  const local = yield* engine.listContainers({ all: true, labels: { [nodeIdLabel]: true } })
  return local[0]?.labels[nodeIdLabel]
})

/**
 * The engines of `nodeEngines` by node id, each with its stats streams; a key naming no node of
 * the swarm (by hostname, address or id) is an `InvalidSpec`.
 */
const resolveNodeEngines = Effect.fnUntraced(function* (
  nodes: ReadonlyArray<SwarmNode>,
  given: Readonly<Record<string, EngineOptions | DockerEngineShape>>,
  stats: SupervisorStats.Settings
) {
  const resolved = new Map<string, ServiceRun.NodeEngine>()
  for (const [key, value] of Object.entries(given)) {
    const node = nodes.find(
      (candidate) => key === candidate.hostname || key === candidate.addr || key === candidate.id
    )
    if (node === undefined) {
      return yield* new ContainerSpec.InvalidSpec({
        field: `nodeEngines.${key}`,
        message: `no node of the swarm has this hostname, address or id (nodes: ${nodes.map((candidate) => `${candidate.hostname} ${candidate.addr}`).join(", ")})`
      })
    }
    const engine = "inspectContainer" in value ? value : yield* makeEngine(value)
    resolved.set(node.id, { engine, stats: SupervisorStats.make(engine, stats) })
  }
  return resolved
})

/** A service as `list` shows it: one summary per service, `running` while any task runs. */
const summaryOf = (service: ServiceInspect): ContainerSummary => ({
  id: service.id,
  names: [service.spec.name],
  image: service.spec.taskTemplate.container.image,
  labels: service.spec.labels,
  state: (service.tasks?.running ?? 0) > 0 ? "running" : "exited",
  status: `${service.tasks?.running ?? 0}/${service.tasks?.desired ?? 0} tasks running`,
  created: Math.floor(Date.parse(service.createdAt) / 1000)
})

/**
 * Builds a Swarm Supervisor instance in the current scope. Fails with `DockerError` reason
 * `NotSwarmManager` when the engine does not manage a swarm.
 *
 * @internal
 */
export const make = Effect.fn("Supervisor.makeSwarm")(function* (options: SwarmOptions) {
  const engine = yield* DockerEngine
  const app = options.app
  const instanceId = options.instanceId ?? randomBytes(4).toString("hex")
  const badName = Labels.namesIssue({ app, instanceId })
  if (badName !== undefined) return yield* new ContainerSpec.InvalidSpec(badName)
  const pollInterval = Option.getOrUndefined(Duration.fromInput(options.taskPollInterval ?? "1 second"))
  if (
    pollInterval === undefined ||
    !Duration.isFinite(pollInterval) ||
    !Duration.isGreaterThan(pollInterval, Duration.zero)
  ) {
    return yield* new ContainerSpec.InvalidSpec({
      field: "taskPollInterval",
      message: `must be a positive, finite duration, got ${String(options.taskPollInterval)}`
    })
  }
  yield* engine.swarmInspect.pipe(
    Effect.catchTag("DockerError", (error) =>
      Effect.fail(
        error.reason === "NotSwarmManager"
          ? new DockerError(
              {
                reason: "NotSwarmManager",
                operation: "Supervisor.layerSwarm",
                message: `the engine is not a manager of a swarm: Supervisor.layerSwarm needs one (docker swarm init, or an engine of a manager node); ${error.message}`
              },
              { cause: error }
            )
          : error
      )
    )
  )
  // Before anything is created: a bad stats option or node key fails the build with nothing to undo.
  const selfNodeId = yield* selfNode()
  const statsSettings = yield* SupervisorStats.settings(options)
  const nodeEngines = new Map<string, ServiceRun.NodeEngine>()
  if (selfNodeId !== undefined) {
    nodeEngines.set(selfNodeId, { engine, stats: SupervisorStats.make(engine, statsSettings) })
  }
  if (options.nodeEngines !== undefined && Object.keys(options.nodeEngines).length > 0) {
    const given = yield* resolveNodeEngines(yield* engine.listNodes(), options.nodeEngines, statsSettings)
    for (const [nodeId, node] of given) nodeEngines.set(nodeId, node)
  }
  const keys = Labels.keys(options.labelPrefix)
  const owner = Labels.currentOwner()
  const labels: Record<string, string> = {
    ...options.labels,
    ...Labels.instanceLabels(keys, { app, instance: instanceId, owner })
  }
  const instanceFilter = { [keys.instance]: instanceId }
  const networkName = `${app}-${instanceId}`
  const volumes = Volumes.make(keys, { app, instanceId, labels, userLabels: options.labels })

  const removeServices = (services: ReadonlyArray<ServiceInspect>) =>
    Effect.forEach(
      services,
      (service) =>
        ServiceRun.removeAndWait(
          engine,
          { id: service.id, gracePeriodMs: service.spec.taskTemplate.container.stopGracePeriodMs ?? 10_000 },
          { [keys.instance]: service.spec.labels[keys.instance] ?? instanceId }
        ),
      {
        concurrency: "unbounded",
        discard: true
      }
    )

  // Released in reverse: the runs (each removes its service), then whatever service is left
  // with the instance's label, all at once, then the network once no task holds it.
  yield* Effect.acquireRelease(
    engine.createNetwork({ name: networkName, driver: "overlay", attachable: true, labels }),
    () => Teardown.removeNetworkOrLog(engine, networkName)
  )
  yield* Effect.addFinalizer(() =>
    engine.listServices({ labels: instanceFilter }).pipe(
      Effect.flatMap(removeServices),
      Effect.catchTag("DockerError", (error) =>
        Effect.logWarning("removing the instance's swarm services failed").pipe(
          Effect.annotateLogs({ reason: error.reason, message: error.message })
        )
      )
    )
  )

  const watch = yield* TaskWatch.make(engine, { labels: instanceFilter, interval: pollInterval })
  const { run, start } = ServiceRun.make({
    engine,
    context: {
      keys,
      app,
      instanceId,
      owner,
      userLabels: options.labels,
      network: networkName,
      volumeName: volumes.volumeName
    },
    watch,
    nodeEngines,
    labelPrefix: options.labelPrefix,
    instanceLabels: instanceFilter
  })

  const filterOf = (selector: Selector | undefined): LabelFilter => {
    const chosen = selector ?? { scope: "instance" }
    return {
      ...chosen.labels,
      [keys.app]: app,
      ...(chosen.scope === "instance" ? { [keys.instance]: instanceId } : {}),
      ...(chosen.component === undefined ? {} : { [keys.component]: chosen.component })
    }
  }

  const services = (selector?: Selector) => engine.listServices({ labels: filterOf(selector) })
  const list = (selector?: Selector) => Effect.map(services(selector), (found) => found.map(summaryOf))
  const isRunning = (selector?: Selector) =>
    Effect.map(services(selector), (found) => found.some((service) => (service.tasks?.running ?? 0) > 0))
  const remove = Effect.fn("Supervisor.remove")(function* (selector?: Selector) {
    const found = yield* services(selector)
    yield* removeServices(found)
    return found.length
  })

  const removeStale = Effect.fn("Supervisor.removeStale")(function* () {
    const isStale = (itemLabels: Readonly<Record<string, string>>) => {
      if (itemLabels[keys.instance] === instanceId) return false
      const ownerLabel = itemLabels[keys.owner]
      return ownerLabel !== undefined && Labels.isOwnerGone(ownerLabel)
    }
    const staleServices = (yield* engine.listServices({ labels: { [keys.app]: app } })).filter((service) =>
      isStale(service.spec.labels)
    )
    yield* removeServices(staleServices)
    const networks = yield* engine.listNetworks({ labels: { [keys.app]: app } })
    const staleNetworks = networks.filter((network) => isStale(network.labels))
    yield* Teardown.removeNetworks(engine, staleNetworks)
    return { containers: staleServices.length, networks: staleNetworks.length, volumes: 0 }
  })()

  const removeAppVolumes = Effect.fn("Supervisor.removeAppVolumes")(function* (
    names?: ReadonlyArray<string>
  ) {
    return yield* Volumes.removeAppVolumes(engine, keys, app, names)
  })

  yield* Effect.logDebug("swarm supervisor instance ready").pipe(
    Effect.annotateLogs({ app, instance: instanceId, node: selfNodeId ?? "unknown" })
  )

  const shape: SupervisorShape = {
    app,
    instanceId,
    network: networkName,
    labels,
    run,
    start,
    isRunning,
    list,
    remove,
    removeStale,
    removeAppVolumes,
    eventsConnections: watch.hintConnections
  }
  return shape
})
