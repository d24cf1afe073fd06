/**
 * The Docker Engine's model as this library hands it to you: the values the engine returns
 * (Schema-decoded, camelCase, only the fields a user needs) and the options its operations
 * take. No service and no I/O lives here: {@link DockerEngine} owns the operations, this
 * module owns what goes in and what comes out. Everything here is also exported from
 * `effect-docker/DockerEngine`, so older imports keep working.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DockerModel } from "effect-docker"
 *
 * const isRunning = (inspect: DockerModel.ContainerInspect) => inspect.state.running
 * const decodeEvent = Schema.decodeUnknownSync(DockerModel.EngineEvent)
 * ```
 *
 * @since 0.1.0
 */
import { type Redacted, Schema, type Stream } from "effect"
import type { DockerError } from "./DockerError.js"

// ---------------------------------------------------------------------------------------------
// Values the engine returns (decoded from its JSON into these shapes)
// ---------------------------------------------------------------------------------------------

const Labels = Schema.Record(Schema.String, Schema.String)

/**
 * The engine's version, read once from `/version`.
 *
 * @category models
 * @since 0.1.0
 */
export const Version = Schema.Struct({
  version: Schema.String,
  apiVersion: Schema.String,
  minApiVersion: Schema.optionalKey(Schema.String),
  os: Schema.String,
  arch: Schema.String,
  kernelVersion: Schema.optionalKey(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type Version = typeof Version.Type

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
  restartPolicy: Schema.String
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
  timestamp: Schema.optionalKey(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type LogLine = typeof LogLine.Type

/**
 * One line of image pull progress. Lines without an `id` are about the whole image;
 * lines with one are about a layer (`Pulling fs layer`, `Downloading`, `Download complete`,
 * `Extracting`, `Pull complete`, `Already exists`). A line that carries an error fails the
 * pull stream instead.
 *
 * @category models
 * @since 0.1.0
 */
export const PullProgress = Schema.Struct({
  status: Schema.String,
  /** The layer id, when the line is about a layer. */
  id: Schema.optionalKey(Schema.String),
  current: Schema.optionalKey(Schema.Number),
  total: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.1.0
 */
export type PullProgress = typeof PullProgress.Type

/**
 * An image as `inspect` shows it.
 *
 * @category models
 * @since 0.1.0
 */
export const ImageInspect = Schema.Struct({
  id: Schema.String,
  repoTags: Schema.Array(Schema.String),
  size: Schema.Number,
  cmd: Schema.optionalKey(Schema.Array(Schema.String)),
  entrypoint: Schema.optionalKey(Schema.Array(Schema.String)),
  /** The image's own healthcheck test, when it has one. */
  healthcheck: Schema.optionalKey(Schema.Array(Schema.String)),
  labels: Labels
})
/**
 * @category models
 * @since 0.1.0
 */
export type ImageInspect = typeof ImageInspect.Type

/**
 * A network as `inspect` and `list` show it.
 *
 * @category models
 * @since 0.1.0
 */
export const NetworkInspect = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  driver: Schema.String,
  internal: Schema.Boolean,
  labels: Labels,
  /** Attached containers by id (filled by `inspect`; `list` leaves it empty). */
  containers: Schema.Record(Schema.String, Schema.Struct({ name: Schema.String, ipv4Address: Schema.String }))
})
/**
 * @category models
 * @since 0.1.0
 */
export type NetworkInspect = typeof NetworkInspect.Type

/**
 * One engine event.
 *
 * @category models
 * @since 0.1.0
 */
export const EngineEvent = Schema.Struct({
  /** `container`, `image`, `network`, `volume`, ... */
  type: Schema.String,
  /** `create`, `start`, `die`, `health_status: healthy`, `connect`, ... */
  action: Schema.String,
  /** The object's id (container id, network id, image reference). */
  actorId: Schema.String,
  /** The object's attributes: labels, `name`, `image`, `exitCode`, `container` for network events. */
  attributes: Labels,
  /** Unix time in seconds. */
  time: Schema.Number,
  /**
   * Unix time in nanoseconds, as a double: exact only to about 256 ns (the engine's value has
   * 19 digits). Use `timeNanoExact` to order, compare or de-duplicate events.
   */
  timeNano: Schema.Number,
  /** Unix time in nanoseconds, exactly as the engine stamped it. */
  timeNanoExact: Schema.BigInt
})
/**
 * @category models
 * @since 0.1.0
 */
export type EngineEvent = typeof EngineEvent.Type

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/**
 * A label filter: `true` matches any value of the key, a string matches exactly.
 *
 * @category options
 * @since 0.1.0
 */
export type LabelFilter = Readonly<Record<string, string | true>>

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
  /** `"8080/tcp"` → host port (`"0"` or absent: any). Published on 127.0.0.1. */
  readonly ports?: Readonly<Record<string, string | undefined>>
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
 * Filters for `events`. `since` and `until` are Unix times in seconds (fractions allowed,
 * so a reconnect can resume exactly after the last event seen).
 *
 * @category options
 * @since 0.1.0
 */
export interface EventsOptions {
  readonly labels?: LabelFilter
  /** `container`, `network`, `image`, ... */
  readonly types?: ReadonlyArray<string>
  /** `create`, `start`, `die`, ... */
  readonly actions?: ReadonlyArray<string>
  /** Only these containers (by id or name). */
  readonly containers?: ReadonlyArray<string>
  readonly since?: number
  readonly until?: number
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

// ---------------------------------------------------------------------------------------------
// Per-operation options and answers
// ---------------------------------------------------------------------------------------------

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

/**
 * Options for `removeImage`.
 *
 * @category options
 * @since 0.1.0
 */
export interface RemoveImageOptions {
  /** Remove it even when tagged more than once or used by a stopped container. */
  readonly force?: boolean
}

/**
 * What to create with `createNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface CreateNetworkOptions {
  readonly name: string
  /** Default `bridge`. */
  readonly driver?: string
  /** No route to the outside. */
  readonly internal?: boolean
  readonly labels?: Readonly<Record<string, string>>
}

/**
 * What `createNetwork` answers.
 *
 * @category models
 * @since 0.1.0
 */
export interface CreatedNetwork {
  readonly id: string
}

/**
 * Options for `connectNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ConnectNetworkOptions {
  /** Names the container answers to on this network. */
  readonly aliases?: ReadonlyArray<string>
}

/**
 * Options for `disconnectNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface DisconnectNetworkOptions {
  readonly force?: boolean
}

/**
 * Options for `listNetworks`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ListNetworksOptions {
  readonly labels?: LabelFilter
  /** Exact names (the engine's own filter matches substrings; this one does not). */
  readonly names?: ReadonlyArray<string>
}
