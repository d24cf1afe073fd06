/**
 * The engine's model of the Swarm API groups (swarm, nodes, services, tasks): the swarm, its
 * nodes, a service's spec and its inspect value, tasks, and the options of their operations.
 * Re-exported by `DockerModel`; no service and no I/O here.
 *
 * Durations are milliseconds (`Ms`), as in `HealthcheckOptions`; the engine's nanoseconds are
 * converted on the wire. Objects the engine versions (the swarm, a node, a service) carry their
 * `version`: an update must name the version it was read at, and the engine refuses it ("update
 * out of sequence") when another update came in between.
 */
import { type Redacted, Schema } from "effect"
import type { RegistryAuth } from "./images.js"
import { type LabelFilter, Labels } from "./system.js"

// ---------------------------------------------------------------------------------------------
// The swarm
// ---------------------------------------------------------------------------------------------

/**
 * The swarm as a manager sees it (`GET /swarm`).
 *
 * @category models
 * @since 0.3.0
 */
export const SwarmInspect = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  /** The tokens `swarmJoin` takes to join as a worker or as a manager. */
  joinTokens: Schema.Struct({ worker: Schema.String, manager: Schema.String })
})
/**
 * @category models
 * @since 0.3.0
 */
export type SwarmInspect = typeof SwarmInspect.Type

/**
 * Options for `swarmInit`.
 *
 * @category options
 * @since 0.3.0
 */
export interface SwarmInitOptions {
  /** Where managers listen (default `0.0.0.0:2377`). */
  readonly listenAddr?: string
  /** The address other nodes reach this one at (`127.0.0.1`, `10.0.0.1:2377`, an interface name). */
  readonly advertiseAddr?: string
  /** The address of the data path (overlay traffic), default the advertised one. */
  readonly dataPathAddr?: string
  /** Start afresh from this node's state (recovering from a lost quorum). */
  readonly forceNewCluster?: boolean
}

/**
 * Options for `swarmJoin`.
 *
 * @category options
 * @since 0.3.0
 */
export interface SwarmJoinOptions {
  /** Managers to join through (`host:2377`). */
  readonly remoteAddrs: ReadonlyArray<string>
  /** The worker or manager token of `swarmInspect`. */
  readonly joinToken: string | Redacted.Redacted<string>
  readonly listenAddr?: string
  readonly advertiseAddr?: string
  readonly dataPathAddr?: string
}

/**
 * Options for `swarmLeave`.
 *
 * @category options
 * @since 0.3.0
 */
export interface SwarmLeaveOptions {
  /** Leave even as the last manager (which ends the swarm). */
  readonly force?: boolean
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/**
 * What an operator sets on a node: its role, whether it takes tasks (`active`), keeps its tasks
 * but takes no new ones (`pause`) or has its tasks moved away (`drain`), and its labels (what
 * `node.labels.<key>==<value>` constraints match).
 *
 * @category models
 * @since 0.3.0
 */
export const NodeSpec = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  labels: Labels,
  role: Schema.Literals(["worker", "manager"]),
  availability: Schema.Literals(["active", "pause", "drain"])
})
/**
 * @category models
 * @since 0.3.0
 */
export type NodeSpec = typeof NodeSpec.Type

/**
 * A node of the swarm (`GET /nodes`).
 *
 * @category models
 * @since 0.3.0
 */
export const SwarmNode = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  spec: NodeSpec,
  hostname: Schema.String,
  /** `unknown`, `down`, `ready` or `disconnected`. */
  state: Schema.String,
  /** The address the node is reached at. */
  addr: Schema.String,
  /** The node's engine labels (`dockerd --label`), distinct from `spec.labels`. */
  engineLabels: Labels,
  engineVersion: Schema.String,
  /** Present on managers. */
  manager: Schema.optionalKey(
    Schema.Struct({
      leader: Schema.Boolean,
      /** `reachable`, `unreachable` or `unknown`. */
      reachability: Schema.String,
      addr: Schema.String
    })
  )
})
/**
 * @category models
 * @since 0.3.0
 */
export type SwarmNode = typeof SwarmNode.Type

/**
 * Options for `listNodes`.
 *
 * @category options
 * @since 0.3.0
 */
export interface ListNodesOptions {
  readonly role?: "worker" | "manager"
  /** Node labels (`spec.labels`). */
  readonly labels?: LabelFilter
}

// ---------------------------------------------------------------------------------------------
// The service spec
// ---------------------------------------------------------------------------------------------

/**
 * A mount of a service's containers, as `MountOptions` of a container.
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceMount = Schema.Struct({
  type: Schema.Literals(["bind", "volume", "tmpfs"]),
  /** The host path (bind) or volume name (volume; absent for an anonymous one). */
  source: Schema.optionalKey(Schema.String),
  target: Schema.String,
  readOnly: Schema.optionalKey(Schema.Boolean),
  /** tmpfs: bytes (default unlimited). */
  sizeBytes: Schema.optionalKey(Schema.Number),
  /** tmpfs: permission bits of the mount point. */
  mode: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceMount = typeof ServiceMount.Type

/**
 * A service container's healthcheck (`TaskTemplate.ContainerSpec.Healthcheck`).
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceHealthcheck = Schema.Struct({
  /** `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`. */
  test: Schema.Array(Schema.String),
  intervalMs: Schema.optionalKey(Schema.Number),
  timeoutMs: Schema.optionalKey(Schema.Number),
  retries: Schema.optionalKey(Schema.Number),
  startPeriodMs: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceHealthcheck = typeof ServiceHealthcheck.Type

/**
 * What each task's container runs (`TaskTemplate.ContainerSpec`). `command` replaces the
 * image's entrypoint, `args` its command, as `docker service create --entrypoint` and its
 * trailing arguments do.
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceContainerSpec = Schema.Struct({
  image: Schema.String,
  command: Schema.optionalKey(Schema.Array(Schema.String)),
  args: Schema.optionalKey(Schema.Array(Schema.String)),
  /** As read back: the values as the engine stores them (a `Redacted` given at create is revealed there). */
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** Labels of the containers (the service's own are `ServiceSpec.labels`). */
  labels: Schema.optionalKey(Labels),
  user: Schema.optionalKey(Schema.String),
  dir: Schema.optionalKey(Schema.String),
  mounts: Schema.optionalKey(Schema.Array(ServiceMount)),
  /** How long a task's container gets between its stop signal and the kill (engine default 10 s). */
  stopGracePeriodMs: Schema.optionalKey(Schema.Number),
  stopSignal: Schema.optionalKey(Schema.String),
  healthcheck: Schema.optionalKey(ServiceHealthcheck),
  init: Schema.optionalKey(Schema.Boolean)
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceContainerSpec = typeof ServiceContainerSpec.Type

/**
 * When a task that ended is replaced by a new one in its slot: never (`none`), after a non-zero
 * exit (`on-failure`) or always (`any`, the engine's default), `delayMs` after the end, at most
 * `maxAttempts` times (0: no limit) within `windowMs` (0: ever).
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceRestartPolicy = Schema.Struct({
  condition: Schema.Literals(["none", "on-failure", "any"]),
  delayMs: Schema.optionalKey(Schema.Number),
  maxAttempts: Schema.optionalKey(Schema.Number),
  windowMs: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceRestartPolicy = typeof ServiceRestartPolicy.Type

/**
 * A network a service's tasks join, with the names they answer to on it.
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceNetwork = Schema.Struct({
  /** The network's name or id (an overlay network, for a service spanning nodes). */
  target: Schema.String,
  aliases: Schema.optionalKey(Schema.Array(Schema.String))
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceNetwork = typeof ServiceNetwork.Type

/**
 * What every task of a service is (`TaskTemplate`): its container, resource limits, restart
 * policy, placement constraints (`node.hostname==n1`, `node.role==manager`,
 * `node.labels.zone!=a`) and networks.
 *
 * @category models
 * @since 0.3.0
 */
export const TaskSpec = Schema.Struct({
  container: ServiceContainerSpec,
  /** `Resources.Limits`: billionths of a CPU and bytes. */
  limits: Schema.optionalKey(
    Schema.Struct({
      nanoCpus: Schema.optionalKey(Schema.Number),
      memoryBytes: Schema.optionalKey(Schema.Number)
    })
  ),
  restartPolicy: Schema.optionalKey(ServiceRestartPolicy),
  constraints: Schema.optionalKey(Schema.Array(Schema.String)),
  networks: Schema.optionalKey(Schema.Array(ServiceNetwork))
})
/**
 * @category models
 * @since 0.3.0
 */
export type TaskSpec = typeof TaskSpec.Type

/**
 * How many tasks a service runs: `replicas` of them (slots 1..n), one per node (`Global`), or,
 * for a job, `totalCompletions` successful runs with at most `maxConcurrent` at once
 * (`ReplicatedJob`, API 1.41+; both default 1).
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceMode = Schema.Union([
  Schema.TaggedStruct("Replicated", { replicas: Schema.Number }),
  Schema.TaggedStruct("ReplicatedJob", {
    maxConcurrent: Schema.optionalKey(Schema.Number),
    totalCompletions: Schema.optionalKey(Schema.Number)
  }),
  Schema.TaggedStruct("Global", {})
])
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceMode = typeof ServiceMode.Type

/**
 * A port of a service published on the swarm: through the routing mesh on every node
 * (`ingress`, the default) or on the node of each task (`host`). `publishedPort` absent or 0:
 * the engine picks one (ingress only).
 *
 * @category models
 * @since 0.3.0
 */
export const ServicePort = Schema.Struct({
  protocol: Schema.Literals(["tcp", "udp", "sctp"]),
  targetPort: Schema.Number,
  publishedPort: Schema.optionalKey(Schema.Number),
  publishMode: Schema.optionalKey(Schema.Literals(["ingress", "host"]))
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServicePort = typeof ServicePort.Type

/**
 * How a service is reached: a virtual IP in front of its tasks (`vip`, default) or DNS
 * round-robin over them (`dnsrr`), and its published ports.
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceEndpointSpec = Schema.Struct({
  mode: Schema.optionalKey(Schema.Literals(["vip", "dnsrr"])),
  ports: Schema.optionalKey(Schema.Array(ServicePort))
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceEndpointSpec = typeof ServiceEndpointSpec.Type

/**
 * How a spec change rolls out: `parallelism` tasks at a time (0: all), `delayMs` between
 * batches, what a failed task does to the rollout, how long a new task is watched, and whether
 * the old task stops before the new one starts (`stop-first`, default) or after.
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceUpdateConfig = Schema.Struct({
  parallelism: Schema.optionalKey(Schema.Number),
  delayMs: Schema.optionalKey(Schema.Number),
  failureAction: Schema.optionalKey(Schema.Literals(["continue", "pause", "rollback"])),
  monitorMs: Schema.optionalKey(Schema.Number),
  maxFailureRatio: Schema.optionalKey(Schema.Number),
  order: Schema.optionalKey(Schema.Literals(["stop-first", "start-first"]))
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceUpdateConfig = typeof ServiceUpdateConfig.Type

/**
 * A service as read back from the engine (`Spec` of `GET /services/{id}`).
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceSpec = Schema.Struct({
  name: Schema.String,
  labels: Labels,
  taskTemplate: TaskSpec,
  mode: ServiceMode,
  endpoint: Schema.optionalKey(ServiceEndpointSpec),
  updateConfig: Schema.optionalKey(ServiceUpdateConfig)
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceSpec = typeof ServiceSpec.Type

/**
 * What `createService` and `updateService` take: a {@link ServiceSpec} (a spec read back is
 * one), whose `env` values may be `Redacted` (revealed only into the request body), and whose
 * `labels` and `mode` may be left out (none; one replica).
 *
 * @category options
 * @since 0.3.0
 */
export interface ServiceSpecOptions {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly taskTemplate: Omit<TaskSpec, "container"> & {
    readonly container: Omit<ServiceContainerSpec, "env"> & {
      readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>>
    }
  }
  readonly mode?: ServiceMode
  readonly endpoint?: ServiceEndpointSpec
  readonly updateConfig?: ServiceUpdateConfig
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

/**
 * A service (`GET /services/{id}`): its spec, the ports the engine published for it, and the
 * task counts of `listServices` (`running`/`desired`, API 1.41+).
 *
 * @category models
 * @since 0.3.0
 */
export const ServiceInspect = Schema.Struct({
  id: Schema.String,
  /** Give it to `updateService`. */
  version: Schema.Number,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  spec: ServiceSpec,
  /** The published ports as the engine assigned them (an `ingress` port left to the engine gets one). */
  ports: Schema.Array(ServicePort),
  /** The state of the last update's rollout (`updating`, `completed`, `paused`, `rollback_*`). */
  updateState: Schema.optionalKey(Schema.String),
  /** Present in `listServices` answers. */
  tasks: Schema.optionalKey(
    Schema.Struct({ running: Schema.Number, desired: Schema.Number, completed: Schema.Number })
  )
})
/**
 * @category models
 * @since 0.3.0
 */
export type ServiceInspect = typeof ServiceInspect.Type

/**
 * What `createService` answers.
 *
 * @category models
 * @since 0.3.0
 */
export interface CreatedService {
  readonly id: string
  readonly warnings: ReadonlyArray<string>
}

/**
 * Options for `createService` and `updateService`.
 *
 * @category options
 * @since 0.3.0
 */
export interface ServiceWriteOptions {
  /**
   * The image registry's credentials, handed to the nodes that pull it. Without them, the live
   * engine uses those the Docker CLI's config holds for the image's registry, if any.
   */
  readonly auth?: RegistryAuth | undefined
}

/**
 * Options for `listServices`.
 *
 * @category options
 * @since 0.3.0
 */
export interface ListServicesOptions {
  readonly labels?: LabelFilter
  /** Exact names. */
  readonly names?: ReadonlyArray<string>
}

/**
 * Options for `serviceLogs`.
 *
 * @category options
 * @since 0.3.0
 */
export interface ServiceLogsOptions {
  readonly follow?: boolean
  readonly stdout?: boolean
  readonly stderr?: boolean
  readonly tail?: number
  /** Unix seconds. */
  readonly since?: number
  readonly timestamps?: boolean
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

/**
 * A task's state: `new`, `allocated`, `pending`, `assigned`, `accepted`, `preparing`, `ready`,
 * `starting`, `running`, then `complete`, `shutdown`, `failed`, `rejected`, `remove` or
 * `orphaned`.
 *
 * @category models
 * @since 0.3.0
 */
export type TaskState = string

/**
 * One task: one run of a service's container in a slot (replicated) or on a node (global).
 * A task is never restarted: when it ends the orchestrator makes a new one in the same slot.
 *
 * @category models
 * @since 0.3.0
 */
export const Task = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  serviceId: Schema.String,
  /** Replicated services and jobs only. */
  slot: Schema.optionalKey(Schema.Number),
  /** Absent until the task is scheduled. */
  nodeId: Schema.optionalKey(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  /** The task's labels (the service spec's container labels are in `spec`). */
  labels: Labels,
  status: Schema.Struct({
    state: Schema.String,
    timestamp: Schema.String,
    message: Schema.String,
    /** Why it failed or was rejected. */
    err: Schema.optionalKey(Schema.String),
    container: Schema.optionalKey(
      Schema.Struct({
        containerId: Schema.String,
        exitCode: Schema.optionalKey(Schema.Number)
      })
    )
  }),
  /** What the orchestrator wants of it: `running`, `shutdown`, `complete`, ... */
  desiredState: Schema.String,
  spec: TaskSpec
})
/**
 * @category models
 * @since 0.3.0
 */
export type Task = typeof Task.Type

/**
 * Options for `listTasks`.
 *
 * @category options
 * @since 0.3.0
 */
export interface ListTasksOptions {
  /** Services by id or name. */
  readonly services?: ReadonlyArray<string>
  readonly labels?: LabelFilter
  /** `running`, `shutdown` or `accepted`. */
  readonly desiredState?: "running" | "shutdown" | "accepted"
  /** Nodes by id or hostname. */
  readonly nodes?: ReadonlyArray<string>
}
