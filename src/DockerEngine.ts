/**
 * The Docker Engine API as an Effect service.
 *
 * Every method returns the library's own, Schema-decoded types (camelCase, only the
 * fields a user needs), fails with a {@link DockerError}, and aborts its
 * HTTP request when interrupted. Streams (pull progress, stats, events, logs) are
 * decoded with correct framing and hold their socket only while consumed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const engine = yield* DockerEngine.DockerEngine
 *   const { id } = yield* engine.createContainer({ image: "busybox:latest", cmd: ["echo", "hi"] })
 *   yield* engine.startContainer(id)
 *   const { exitCode } = yield* engine.waitContainer(id)
 *   yield* engine.removeContainer(id, { force: true })
 *   return exitCode
 * })
 *
 * program.pipe(Effect.provide(DockerEngine.layer))
 * ```
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Redacted, Schema, type Stream } from "effect"
import type { DockerError } from "./DockerError.js"

// ---------------------------------------------------------------------------------------------
// Values the engine returns (decoded from its JSON into these shapes)
// ---------------------------------------------------------------------------------------------

const Labels = Schema.Record(Schema.String, Schema.String)

/**
 * The engine's version, read once from `/version`.
 *
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
/** @since 0.1.0 */
export type Version = typeof Version.Type

/**
 * What the engine knows of a container's run state.
 *
 * `status` is the engine's: `created`, `running`, `paused`, `restarting`, `removing`,
 * `exited` or `dead`. Times are ISO strings as the engine gives them (the zero time
 * `0001-01-01T00:00:00Z` when never started or never finished).
 *
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
/** @since 0.1.0 */
export type ContainerRunState = typeof ContainerRunState.Type

/**
 * A container as `inspect` shows it.
 *
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
/** @since 0.1.0 */
export type ContainerInspect = typeof ContainerInspect.Type

/**
 * A container as `list` shows it.
 *
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
/** @since 0.1.0 */
export type ContainerSummary = typeof ContainerSummary.Type

/**
 * What `wait` returns when its condition holds.
 *
 * @since 0.1.0
 */
export const WaitResult = Schema.Struct({
  exitCode: Schema.Number,
  /** The engine's error message for the exit, when it gave one. */
  error: Schema.optionalKey(Schema.String)
})
/** @since 0.1.0 */
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
/** @since 0.1.0 */
export type StatsSample = typeof StatsSample.Type

/**
 * One line of a container's output.
 *
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
/** @since 0.1.0 */
export type LogLine = typeof LogLine.Type

/**
 * One line of image pull progress. Lines without an `id` are about the whole image;
 * lines with one are about a layer (`Pulling fs layer`, `Downloading`, `Download complete`,
 * `Extracting`, `Pull complete`, `Already exists`). A line that carries an error fails the
 * pull stream instead.
 *
 * @since 0.1.0
 */
export const PullProgress = Schema.Struct({
  status: Schema.String,
  /** The layer id, when the line is about a layer. */
  id: Schema.optionalKey(Schema.String),
  current: Schema.optionalKey(Schema.Number),
  total: Schema.optionalKey(Schema.Number)
})
/** @since 0.1.0 */
export type PullProgress = typeof PullProgress.Type

/**
 * An image as `inspect` shows it.
 *
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
/** @since 0.1.0 */
export type ImageInspect = typeof ImageInspect.Type

/**
 * A network as `inspect` and `list` show it.
 *
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
/** @since 0.1.0 */
export type NetworkInspect = typeof NetworkInspect.Type

/**
 * One engine event.
 *
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
  /** Unix time in nanoseconds, for ordering and for `since` on reconnect. */
  timeNano: Schema.Number
})
/** @since 0.1.0 */
export type EngineEvent = typeof EngineEvent.Type

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/**
 * A label filter: `true` matches any value of the key, a string matches exactly.
 *
 * @since 0.1.0
 */
export type LabelFilter = Readonly<Record<string, string | true>>

/**
 * A container healthcheck. Durations are milliseconds.
 *
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
// The service
// ---------------------------------------------------------------------------------------------

/**
 * The operations of the Docker Engine API this library uses.
 *
 * @since 0.1.0
 */
export interface DockerEngineShape {
  readonly ping: Effect.Effect<void, DockerError>
  readonly version: Effect.Effect<Version, DockerError>

  readonly createContainer: (
    options: CreateContainerOptions
  ) => Effect.Effect<{ readonly id: string; readonly warnings: ReadonlyArray<string> }, DockerError>
  readonly startContainer: (id: string) => Effect.Effect<void, DockerError>
  /** Sends the stop signal, waits `timeout` seconds (the container's own stop timeout when absent), then kills. */
  readonly stopContainer: (
    id: string,
    options?: { readonly timeout?: number }
  ) => Effect.Effect<void, DockerError>
  readonly killContainer: (
    id: string,
    options?: { readonly signal?: string }
  ) => Effect.Effect<void, DockerError>
  readonly removeContainer: (
    id: string,
    options?: { readonly force?: boolean; readonly volumes?: boolean }
  ) => Effect.Effect<void, DockerError>
  readonly inspectContainer: (id: string) => Effect.Effect<ContainerInspect, DockerError>
  readonly listContainers: (options?: {
    readonly all?: boolean
    readonly labels?: LabelFilter
  }) => Effect.Effect<ReadonlyArray<ContainerSummary>, DockerError>
  /** Blocks until the condition holds (default `next-exit`). */
  readonly waitContainer: (
    id: string,
    options?: { readonly condition?: "next-exit" | "not-running" | "removed" }
  ) => Effect.Effect<WaitResult, DockerError>
  /** Streams samples about once a second until the container is removed or the stream is interrupted. */
  readonly stats: (id: string) => Stream.Stream<StatsSample, DockerError>
  /** One sample, now. */
  readonly statsOnce: (id: string) => Effect.Effect<StatsSample, DockerError>
  readonly logs: (id: string, options?: LogsOptions) => Stream.Stream<LogLine, DockerError>
  /** Extracts a tar archive into the container at `path` (a directory). */
  readonly putArchive: <E>(
    id: string,
    path: string,
    tar: Stream.Stream<Uint8Array, E>
  ) => Effect.Effect<void, DockerError | E>
  /** Tars the files (tar-stream, streamed) and extracts them at `/`, keeping their modes. */
  readonly copyFiles: (id: string, files: ReadonlyArray<ContainerFile>) => Effect.Effect<void, DockerError>

  /** Pulls `reference` (`name[:tag]`, `name@digest`), streaming progress; an error line fails the stream. */
  readonly pullImage: (reference: string) => Stream.Stream<PullProgress, DockerError>
  readonly inspectImage: (reference: string) => Effect.Effect<ImageInspect, DockerError>
  readonly removeImage: (
    reference: string,
    options?: { readonly force?: boolean }
  ) => Effect.Effect<void, DockerError>

  readonly createNetwork: (options: {
    readonly name: string
    readonly driver?: string
    readonly internal?: boolean
    readonly labels?: Readonly<Record<string, string>>
  }) => Effect.Effect<{ readonly id: string }, DockerError>
  readonly connectNetwork: (
    network: string,
    container: string,
    options?: { readonly aliases?: ReadonlyArray<string> }
  ) => Effect.Effect<void, DockerError>
  readonly disconnectNetwork: (
    network: string,
    container: string,
    options?: { readonly force?: boolean }
  ) => Effect.Effect<void, DockerError>
  readonly listNetworks: (options?: {
    readonly labels?: LabelFilter
    readonly names?: ReadonlyArray<string>
  }) => Effect.Effect<ReadonlyArray<NetworkInspect>, DockerError>
  readonly inspectNetwork: (network: string) => Effect.Effect<NetworkInspect, DockerError>
  readonly removeNetwork: (network: string) => Effect.Effect<void, DockerError>

  /** The engine's events, oldest first, filtered on the engine's side. */
  readonly events: (options?: EventsOptions) => Stream.Stream<EngineEvent, DockerError>
}

/**
 * The Docker Engine service.
 *
 * @since 0.1.0
 */
export class DockerEngine extends Context.Service<DockerEngine, DockerEngineShape>()(
  "effect-docker/DockerEngine"
) {}
