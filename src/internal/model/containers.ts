/**
 * The engine's model of the containers API group: inspect, summary, wait, stats and log
 * values, and the options of create, stop, kill, remove, list, wait and logs. Re-exported
 * by `DockerModel`; no service and no I/O here.
 */
import { type Redacted, Schema, type Stream } from "effect"
import type { DockerError } from "../../DockerError.js"
import { type LabelFilter, Labels } from "./system.js"

/**
 * What the engine knows of a container's run state.
 *
 * `status` is the engine's: `created`, `running`, `paused`, `restarting`, `removing`,
 * `exited` or `dead`. Times are ISO strings as the engine gives them (the zero time
 * `0001-01-01T00:00:00Z` when never started or never finished).
 *
 * @category models
 * @since 0.1.0
 */
export const ContainerRunState = Schema.Struct({
  status: Schema.String,
  running: Schema.Boolean,
  restarting: Schema.Boolean,
  oomKilled: Schema.Boolean,
  pid: Schema.Number,
  exitCode: Schema.Number,
  error: Schema.String,
  startedAt: Schema.String,
  finishedAt: Schema.String,
  /** `starting`, `healthy` or `unhealthy`; absent when the container has no healthcheck. */
  health: Schema.optionalKey(
    Schema.Struct({
      status: Schema.String,
      failingStreak: Schema.Number
    })
  )
})
/**
 * @category models
 * @since 0.1.0
 */
export type ContainerRunState = typeof ContainerRunState.Type

/**
 * A container port published on the host, as the engine bound it: `hostPort` is the one the
 * engine chose when the spec asked for any (it may change at each start).
 *
 * @category models
 * @since 0.1.0
 */
export const PublishedPort = Schema.Struct({
  containerPort: Schema.Number,
  /** `tcp`, `udp` or `sctp`. */
  protocol: Schema.String,
  /** The host address bound (`0.0.0.0` or `::` for all). */
  hostIp: Schema.String,
  hostPort: Schema.Number
})
/**
 * @category models
 * @since 0.1.0
 */
export type PublishedPort = typeof PublishedPort.Type

/**
 * A container as `inspect` shows it.
 *
 * @category models
 * @since 0.1.0
 */
export const ContainerInspect = Schema.Struct({
  id: Schema.String,
  /** Without the leading `/` the engine puts there. */
  name: Schema.String,
  /** The image reference the container was created from. */
  image: Schema.String,
  /** The image's id (`sha256:...`). */
  imageId: Schema.String,
  created: Schema.String,
  labels: Labels,
  /** The engine's own restart count (its restart policy), not the supervisor's. */
  restartCount: Schema.Number,
  state: ContainerRunState,
  /** Networks the container is attached to, by name. */
  networks: Schema.Record(
    Schema.String,
    Schema.Struct({
      networkId: Schema.String,
      ipAddress: Schema.String,
      aliases: Schema.Array(Schema.String)
    })
  ),
  tty: Schema.Boolean,
  /** The engine's restart policy name (`no`, `always`, `on-failure`, `unless-stopped`). */
  restartPolicy: Schema.String,
  /** Published ports as the engine bound them (`NetworkSettings.Ports`); empty while not running. */
  ports: Schema.Array(PublishedPort),
  /** Ports asked to be published (`HostConfig.PortBindings`); `hostPort` 0 means any free one. */
  portBindings: Schema.Array(PublishedPort),
  /** What is mounted into the container (`Mounts`): binds, volumes and tmpfs. */
  mounts: Schema.Array(
    Schema.Struct({
      /** `bind`, `volume` or `tmpfs`. */
      type: Schema.String,
      /** The volume's name (volumes only). */
      name: Schema.optionalKey(Schema.String),
      /** The host path (binds, and where a volume's data lives). */
      source: Schema.String,
      destination: Schema.String,
      readOnly: Schema.Boolean
    })
  )
})
/**
 * @category models
 * @since 0.1.0
 */
export type ContainerInspect = typeof ContainerInspect.Type

/**
 * A container as `list` shows it.
 *
 * @category models
 * @since 0.1.0
 */
export const ContainerSummary = Schema.Struct({
  id: Schema.String,
  /** Without the leading `/`. */
  names: Schema.Array(Schema.String),
  image: Schema.String,
  labels: Labels,
  /** `created`, `running`, `exited`, ... */
  state: Schema.String,
  /** Human text such as `Up 3 seconds`. */
  status: Schema.String,
  /** Unix time in seconds. */
  created: Schema.Number
})
/**
 * @category models
 * @since 0.1.0
 */
export type ContainerSummary = typeof ContainerSummary.Type

/**
 * What `wait` returns when its condition holds.
 *
 * @category models
 * @since 0.1.0
 */
export const WaitResult = Schema.Struct({
  exitCode: Schema.Number,
  /** The engine's error message for the exit, when it gave one. */
  error: Schema.optionalKey(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type WaitResult = typeof WaitResult.Type

const CpuStats = Schema.Struct({
  /** Nanoseconds of CPU time used by the container. */
  totalUsage: Schema.Number,
  /** Per-CPU usage (cgroup v1 only); its length is the CPU count when `onlineCpus` is 0. */
  percpuUsage: Schema.optionalKey(Schema.Array(Schema.Number)),
  /** Nanoseconds of CPU time of the whole host; absent in an empty first `precpu_stats`. */
  systemUsage: Schema.optionalKey(Schema.Number),
  onlineCpus: Schema.optionalKey(Schema.Number)
})

/**
 * One sample of a container's resource use, as the engine streams them (roughly one a
 * second). The first streamed sample has an empty `precpu` (its fields are 0 or absent).
 *
 * @category models
 * @since 0.1.0
 */
export const StatsSample = Schema.Struct({
  /** When the sample was read (ISO). */
  read: Schema.String,
  cpu: CpuStats,
  precpu: CpuStats,
  memory: Schema.Struct({
    usage: Schema.optionalKey(Schema.Number),
    limit: Schema.optionalKey(Schema.Number),
    /** cgroup v1: `total_inactive_file`. */
    totalInactiveFile: Schema.optionalKey(Schema.Number),
    /** cgroup v2: `inactive_file`. */
    inactiveFile: Schema.optionalKey(Schema.Number)
  }),
  /** Per interface; absent when the container has no network. */
  networks: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Struct({ rxBytes: Schema.Number, txBytes: Schema.Number }))
  ),
  pids: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.1.0
 */
export type StatsSample = typeof StatsSample.Type

/**
 * The Swarm task a line of a service's output (`serviceLogs`) came from: the task's id and
 * node as the manager gives them, and its replica slot where it is known (the Swarm
 * Supervisor's `logs` and the CLI look it up; the engine's `serviceLogs` does not).
 *
 * @category models
 * @since 0.3.0
 */
export const LogTask = Schema.Struct({
  taskId: Schema.String,
  nodeId: Schema.optionalKey(Schema.String),
  slot: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.3.0
 */
export type LogTask = typeof LogTask.Type

/**
 * One line of a container's output.
 *
 * @category models
 * @since 0.1.0
 */
export const LogLine = Schema.Struct({
  /** `stdout` or `stderr`; a TTY container has only `stdout`. */
  stream: Schema.Literals(["stdout", "stderr"]),
  /** The line without its newline. */
  text: Schema.String,
  /** When the engine recorded it (ISO), with `timestamps: true`. */
  timestamp: Schema.optionalKey(Schema.String),
  /** The Swarm task it came from, on a line of `serviceLogs`; absent for a container's `logs`. */
  task: Schema.optionalKey(LogTask)
})
/**
 * @category models
 * @since 0.1.0
 */
export type LogLine = typeof LogLine.Type

/**
 * A container healthcheck. Durations are milliseconds.
 *
 * @category options
 * @since 0.1.0
 */
export interface HealthcheckOptions {
  /** `["CMD", "test", "-f", "/ready"]`, `["CMD-SHELL", "test -f /ready"]` or `["NONE"]`. */
  readonly test: ReadonlyArray<string>
  readonly intervalMs?: number
  readonly timeoutMs?: number
  readonly retries?: number
  readonly startPeriodMs?: number
  /** API 1.44+: between checks during the start period. */
  readonly startIntervalMs?: number
}

/**
 * What to create.
 *
 * @category options
 * @since 0.1.0
 */
export interface CreateContainerOptions {
  readonly image: string
  readonly name?: string
  readonly cmd?: ReadonlyArray<string>
  readonly entrypoint?: ReadonlyArray<string>
  /** Values given as `Redacted` are revealed only into the request body. */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly labels?: Readonly<Record<string, string>>
  readonly workingDir?: string
  readonly user?: string
  readonly tty?: boolean
  readonly healthcheck?: HealthcheckOptions
  readonly stopSignal?: string
  /** Seconds the engine waits after the stop signal before it kills. */
  readonly stopTimeout?: number
  /** Bytes. */
  readonly memory?: number
  /** Billionths of a CPU (1e9 = one CPU). */
  readonly nanoCpus?: number
  /** `bridge`, `none`, `host` or a network name; the first network the container joins. */
  readonly networkMode?: string
  /** Aliases on the `networkMode` network. */
  readonly networkAliases?: ReadonlyArray<string>
  /** The engine's own restart policy (the supervisor's restart policy is separate). */
  readonly restartPolicy?: {
    readonly name: "no" | "always" | "on-failure" | "unless-stopped"
    readonly maximumRetryCount?: number
  }
  readonly autoRemove?: boolean
  readonly init?: boolean
  /**
   * `"8080/tcp"` → host port (`"0"` or absent: any). Published on 127.0.0.1.
   *
   * @deprecated Use `portBindings`, which also says the host IP.
   */
  readonly ports?: Readonly<Record<string, string | undefined>>
  /** Ports published on the host (`HostConfig.PortBindings`); each is also exposed. */
  readonly portBindings?: ReadonlyArray<PortBindingOptions>
  /** Ports exposed without publishing: `"5432/tcp"`. */
  readonly exposedPorts?: ReadonlyArray<string>
  readonly mounts?: ReadonlyArray<MountOptions>
  readonly hostname?: string
  /** `"host:ip"` lines added to `/etc/hosts`. */
  readonly extraHosts?: ReadonlyArray<string>
  readonly capAdd?: ReadonlyArray<string>
  readonly capDrop?: ReadonlyArray<string>
  readonly readonlyRootfs?: boolean
  /** Bytes of `/dev/shm`. */
  readonly shmSize?: number
  readonly privileged?: boolean
  /** `os[/arch[/variant]]`, e.g. `linux/arm64`: which image variant to create from. */
  readonly platform?: string
  /**
   * The raw create body (Engine API names: `HostConfig.Ulimits`, `Domainname`, ...) merged
   * last: top-level keys replace, `HostConfig` keys replace one by one.
   */
  readonly raw?: Readonly<Record<string, unknown>>
}

/**
 * A port published on the host.
 *
 * @category options
 * @since 0.2.0
 */
export interface PortBindingOptions {
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
  /** The host address to bind (default all interfaces). */
  readonly hostIp?: string
  /** The host port; absent or 0: a free one the engine chooses. */
  readonly hostPort?: number
}

/**
 * A mount: a host path (`bind`), a named or anonymous volume (`volume`, without `source` for
 * an anonymous one), or a `tmpfs`.
 *
 * @category options
 * @since 0.2.0
 */
export type MountOptions =
  | { readonly type: "bind"; readonly source: string; readonly target: string; readonly readOnly?: boolean }
  | {
      readonly type: "volume"
      readonly source?: string
      readonly target: string
      readonly readOnly?: boolean
    }
  | {
      readonly type: "tmpfs"
      readonly target: string
      readonly readOnly?: boolean
      /** Bytes (default: unlimited, up to half the host's memory). */
      readonly sizeBytes?: number
      /** Permission bits of the mount point (default 0o1777). */
      readonly mode?: number
    }

/**
 * A file to copy into a container. `content` is a string or bytes; for large payloads
 * give a `stream` with its `size` in bytes (a tar entry needs its size up front) and it is
 * streamed, never buffered.
 *
 * @category options
 * @since 0.1.0
 */
export type ContainerFile =
  | {
      /** Absolute, normalised path in the container (no `..`, no NUL). */
      readonly path: string
      readonly content: string | Uint8Array
      /** Permission bits, 0o644 by default. */
      readonly mode?: number
    }
  | {
      readonly path: string
      readonly stream: Stream.Stream<Uint8Array, DockerError>
      readonly size: number
      readonly mode?: number
    }

/**
 * Options for `logs`.
 *
 * @category options
 * @since 0.1.0
 */
export interface LogsOptions {
  /** Keep streaming as the container writes (default false: what is there, then end). */
  readonly follow?: boolean
  readonly stdout?: boolean
  readonly stderr?: boolean
  /** Only the last N lines. */
  readonly tail?: number
  /** Unix seconds. */
  readonly since?: number
  readonly timestamps?: boolean
}

/**
 * What `createContainer` answers: the new container's id and the engine's warnings.
 *
 * @category models
 * @since 0.1.0
 */
export interface CreatedContainer {
  readonly id: string
  readonly warnings: ReadonlyArray<string>
}

/**
 * Options for `stopContainer`.
 *
 * @category options
 * @since 0.1.0
 */
export interface StopContainerOptions {
  /** Seconds between the stop signal and the kill (the container's own stop timeout when absent). */
  readonly timeout?: number
}

/**
 * Options for `killContainer`.
 *
 * @category options
 * @since 0.1.0
 */
export interface KillContainerOptions {
  /** The signal to send (`SIGKILL` when absent). */
  readonly signal?: string
}

/**
 * Options for `removeContainer`.
 *
 * @category options
 * @since 0.1.0
 */
export interface RemoveContainerOptions {
  /** Kill a running container first. */
  readonly force?: boolean
  /** Remove its anonymous volumes too. */
  readonly volumes?: boolean
}

/**
 * Options for `listContainers`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ListContainersOptions {
  /** Stopped containers too (default: running only). */
  readonly all?: boolean
  readonly labels?: LabelFilter
}

/**
 * What `waitContainer` waits for: the next exit, not running (now or later), or removal.
 *
 * @category options
 * @since 0.1.0
 */
export type WaitCondition = "next-exit" | "not-running" | "removed"

/**
 * Options for `waitContainer`.
 *
 * @category options
 * @since 0.1.0
 */
export interface WaitContainerOptions {
  /** Default `next-exit`. */
  readonly condition?: WaitCondition
}
