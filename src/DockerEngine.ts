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
import type { Agent } from "node:http"
import { PassThrough, Readable } from "node:stream"
// The module itself, not the package barrel: the barrel loads redis, http and cluster too.
import * as NodeStream from "@effect/platform-node/NodeStream"
import Dockerode from "dockerode"
import {
  Config,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  type Redacted,
  Result,
  Schema,
  type Scope,
  Stream
} from "effect"
import * as TarStream from "tar-stream"
import { DockerError, decode as decodeError, fromCause } from "./DockerError.js"
import * as Connection from "./internal/connection.js"
import * as LogFrames from "./internal/logFrames.js"
import * as Ndjson from "./internal/ndjson.js"
import * as Tar from "./internal/tar.js"
import * as Wire from "./internal/wire.js"

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

// ---------------------------------------------------------------------------------------------
// The live engine (dockerode's modem underneath)
// ---------------------------------------------------------------------------------------------

/**
 * Where the engine is and how long to wait for a connection.
 *
 * @example
 * ```ts
 * import { DockerEngine } from "effect-docker"
 *
 * const remote = DockerEngine.layerWith({
 *   host: "tcp://10.0.0.5:2376",
 *   tlsVerify: true,
 *   certPath: "/etc/docker/client",
 *   connectTimeout: "3 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * `DOCKER_HOST` syntax: `unix:///var/run/docker.sock`, `tcp://host:2376`, `ssh://user@host`
   * or a socket path. When absent, the local socket is discovered: `/var/run/docker.sock`,
   * then `$XDG_RUNTIME_DIR/docker.sock` (rootless), `~/.docker/run/docker.sock` and
   * `~/.docker/desktop/docker.sock` (Docker Desktop).
   */
  readonly host?: string | undefined
  /** Use TLS and verify the engine's certificate (`DOCKER_TLS_VERIFY`) for a `tcp://` host. */
  readonly tlsVerify?: boolean | undefined
  /** Directory of `ca.pem`, `cert.pem`, `key.pem` (`DOCKER_CERT_PATH`, default `~/.docker`). */
  readonly certPath?: string | undefined
  /**
   * How long a connection to the engine may take before the call fails with `Timeout`
   * (default 5 seconds). Only connecting is bounded: an open stream or a long `wait`
   * is never cut by it.
   */
  readonly connectTimeout?: Duration.Input | undefined
}

const defaultConnectTimeout = Duration.seconds(5)

type Method = "GET" | "POST" | "PUT" | "DELETE"

interface Request {
  readonly method: Method
  /** Without the query; path parameters already encoded. */
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | boolean | object | undefined>>
  readonly body?: unknown
  /** A request body streamed as `application/x-tar`. */
  readonly file?: Readable
  /** Hand back the response as it arrives instead of collecting it. */
  readonly stream?: boolean
}

// Anything else is an error docker-modem turns into one with `statusCode` and the body in `json`.
const success = { 200: true, 201: true, 204: true, 304: true }

const segment = (value: string): string => encodeURIComponent(value)
// Image references keep their slashes: the engine routes `/images/{name:.*}/json`.
const imagePath = (reference: string): string => reference.split("/").map(encodeURIComponent).join("/")

const labelFilter = (labels: LabelFilter | undefined): ReadonlyArray<string> | undefined => {
  if (labels === undefined) return undefined
  const entries = Object.entries(labels)
  return entries.length === 0
    ? undefined
    : entries.map(([key, value]) => (value === true ? key : `${key}=${value}`))
}

const filters = (
  entries: Readonly<Record<string, ReadonlyArray<string> | undefined>>
): Record<string, ReadonlyArray<string>> | undefined => {
  const present = Object.entries(entries).filter(
    (entry): entry is [string, ReadonlyArray<string>] => entry[1] !== undefined && entry[1].length > 0
  )
  return present.length === 0 ? undefined : Object.fromEntries(present)
}

/** `name[:tag]` or `name@digest` → the `fromImage` and `tag` of `POST /images/create`. */
const splitReference = (reference: string): { readonly fromImage: string; readonly tag: string } => {
  const at = reference.indexOf("@")
  if (at !== -1) return { fromImage: reference.slice(0, at), tag: reference.slice(at + 1) }
  const colon = reference.lastIndexOf(":")
  if (colon > reference.lastIndexOf("/")) {
    return { fromImage: reference.slice(0, colon), tag: reference.slice(colon + 1) }
  }
  return { fromImage: reference, tag: "latest" }
}

const unixSeconds = (seconds: number): string => seconds.toFixed(9)

const resolveEndpoint = (options: Options): Effect.Effect<Connection.Endpoint, DockerError> =>
  Effect.suspend(() => {
    const host = options.host
    if (host === undefined || host.trim().length === 0) {
      return Effect.succeed<Connection.Endpoint>({ _tag: "Unix", socketPath: Connection.discoverSocket() })
    }
    const endpoint = Connection.parseHost(host, { tls: options.tlsVerify ?? false })
    return endpoint === undefined
      ? Effect.fail(
          new DockerError({
            reason: "BadRequest",
            operation: "connect",
            message: `DOCKER_HOST ${JSON.stringify(host)} is not unix://<path>, tcp://<host>:<port> or ssh://<user>@<host>`
          })
        )
      : Effect.succeed(endpoint)
  })

/** dockerode's options plus the agent docker-modem takes (its type omits it). */
type ModemOptions = Dockerode.DockerOptions & { readonly agent?: Agent }

const makeModemOptions = (
  endpoint: Connection.Endpoint,
  options: Options,
  agent: Agent
): Effect.Effect<ModemOptions, DockerError> =>
  Effect.try({
    try: (): ModemOptions => {
      // Every key is given, so that docker-modem's own reading of DOCKER_HOST cannot leak in.
      switch (endpoint._tag) {
        case "Unix":
          return {
            socketPath: endpoint.socketPath,
            host: undefined,
            port: undefined,
            protocol: "http",
            agent
          }
        case "Tcp": {
          if (!endpoint.tls) {
            return {
              socketPath: undefined,
              host: endpoint.host,
              port: endpoint.port,
              protocol: "http",
              agent
            }
          }
          const tls = Connection.readTlsFiles(options.certPath ?? Connection.defaultCertPath())
          return {
            socketPath: undefined,
            host: endpoint.host,
            port: endpoint.port,
            protocol: "https",
            agent,
            ...tls
          }
        }
        case "Ssh":
          return {
            socketPath: undefined,
            host: endpoint.host,
            port: endpoint.port,
            protocol: "ssh",
            ...(endpoint.username !== undefined ? { username: endpoint.username } : {})
          }
      }
    },
    catch: (cause) =>
      new DockerError({
        reason: "BadRequest",
        operation: "connect",
        message: `could not read the TLS certificates: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })

/**
 * A live engine for `options`. Nothing is sent until a method is called (use `ping` to
 * check that the engine answers). The scope owns the connection pool.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const engine = yield* DockerEngine.make({ host: "unix:///var/run/docker.sock" })
 *   yield* engine.ping
 *   return yield* engine.version
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<DockerEngineShape, DockerError, Scope.Scope> =>
  Effect.gen(function* () {
    const endpoint = yield* resolveEndpoint(options)
    const where = Connection.describe(endpoint)
    const connectTimeoutMs = Duration.toMillis(options.connectTimeout ?? defaultConnectTimeout)
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Connection.makeAgent({ secure: endpoint._tag === "Tcp" && endpoint.tls, connectTimeoutMs })
      ),
      (agent) => Effect.sync(() => agent.destroy())
    )
    const modemOptions = yield* makeModemOptions(endpoint, options, agent)
    const modem = yield* Effect.try({
      try: () => new Dockerode(modemOptions).modem,
      catch: (cause) =>
        new DockerError({
          reason: "BadRequest",
          operation: "connect",
          message: `could not set up the connection to ${where}: ${String(cause)}`
        })
    })

    const toError = (operation: string) => fromCause(operation, { endpoint: where })

    const send = (request: Request, signal: AbortSignal): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const query = Object.fromEntries(
          Object.entries(request.query ?? {}).filter((entry) => entry[1] !== undefined)
        )
        modem.dial(
          {
            path: `${request.path}?`,
            method: request.method,
            // `_body: {}` sends no body at all (docker-modem drops an empty object).
            options: { _query: query, _body: request.body ?? {} },
            ...(request.file !== undefined ? { file: request.file } : {}),
            isStream: request.stream ?? false,
            statusCodes: success,
            abortSignal: signal
          },
          (error, result) => (error ? reject(error) : resolve(result))
        )
      })

    /** One request; interruption aborts it. */
    const call = (operation: string, request: Request): Effect.Effect<unknown, DockerError> =>
      Effect.tryPromise({ try: (signal) => send(request, signal), catch: toError(operation) })

    /** One request whose answer `read` turns into a value; what it refuses is a `Decode` error. */
    const readAnswer = <A>(
      operation: string,
      request: Request,
      read: (body: unknown) => Result.Result<A, unknown>
    ): Effect.Effect<A, DockerError> =>
      call(operation, request).pipe(
        Effect.flatMap((body) =>
          Result.match(read(body), {
            onSuccess: Effect.succeed,
            onFailure: (cause) => Effect.fail(decodeError(operation, cause))
          })
        )
      )

    const decoded = <A, I, B>(
      operation: string,
      request: Request,
      schema: Schema.Codec<A, I, never, never>,
      map: (a: A) => B
    ): Effect.Effect<B, DockerError> => {
      const decode = Schema.decodeUnknownResult(schema)
      return readAnswer(operation, request, (body) => Result.map(decode(body), map))
    }

    /**
     * A streamed response as bytes. The response is destroyed (its socket closed) when the
     * stream ends, fails or is interrupted; a response docker-modem collected (a Buffer)
     * is one chunk.
     */
    const bytes = (
      operation: string,
      request: Request,
      /** A span around opening the stream only (see `stats`). */
      openSpan?: { readonly name: string; readonly attributes: Record<string, unknown> }
    ): Stream.Stream<Uint8Array, DockerError> => {
      const open = Effect.interruptible(call(operation, { ...request, stream: true }))
      return Stream.unwrap(
        Effect.acquireRelease(
          openSpan === undefined
            ? open
            : Effect.withSpan(open, openSpan.name, { attributes: openSpan.attributes }),
          (response) =>
            Effect.sync(() => {
              if (response instanceof Readable) response.destroy()
            })
        ).pipe(
          Effect.map((response): Stream.Stream<Uint8Array, DockerError> => {
            if (response instanceof Readable) {
              return NodeStream.fromReadable<Uint8Array, DockerError>({
                evaluate: () => response,
                onError: toError(operation)
              })
            }
            if (response instanceof Uint8Array)
              return response.length > 0 ? Stream.succeed(response) : Stream.empty
            return Stream.empty
          })
        )
      )
    }

    /** Sends `body` as a tar archive to be extracted at `path`, while `feed` writes it. */
    const upload = <E>(
      operation: string,
      id: string,
      path: string,
      body: Readable,
      feed: Effect.Effect<void, E>
    ): Effect.Effect<void, DockerError | E> =>
      Effect.all(
        [
          feed.pipe(Effect.onError(() => Effect.sync(() => body.destroy()))),
          call(operation, {
            method: "PUT",
            path: `/containers/${segment(id)}/archive`,
            query: { path },
            file: body
          })
        ],
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.ensuring(Effect.sync(() => body.destroy())))

    const ping = call("ping", { method: "GET", path: "/_ping" }).pipe(
      Effect.asVoid,
      Effect.withSpan("DockerEngine.ping")
    )

    const version = decoded(
      "version",
      { method: "GET", path: "/version" },
      Wire.WireVersion,
      Wire.toVersion
    ).pipe(Effect.withSpan("DockerEngine.version"))

    const createContainer = (create: CreateContainerOptions) =>
      decoded(
        "createContainer",
        {
          method: "POST",
          path: "/containers/create",
          query: { name: create.name },
          body: Wire.toCreateBody(create)
        },
        Wire.WireCreated,
        (created) => ({ id: created.Id, warnings: created.Warnings ?? [] })
      ).pipe(Effect.withSpan("DockerEngine.createContainer", { attributes: { image: create.image } }))

    const startContainer = (id: string) =>
      call("startContainer", { method: "POST", path: `/containers/${segment(id)}/start` }).pipe(
        Effect.asVoid,
        Effect.withSpan("DockerEngine.startContainer", { attributes: { id } })
      )

    const stopContainer = (id: string, stop?: { readonly timeout?: number }) =>
      call("stopContainer", {
        method: "POST",
        path: `/containers/${segment(id)}/stop`,
        query: { t: stop?.timeout }
      }).pipe(Effect.asVoid, Effect.withSpan("DockerEngine.stopContainer", { attributes: { id } }))

    const killContainer = (id: string, kill?: { readonly signal?: string }) =>
      call("killContainer", {
        method: "POST",
        path: `/containers/${segment(id)}/kill`,
        query: { signal: kill?.signal }
      }).pipe(Effect.asVoid, Effect.withSpan("DockerEngine.killContainer", { attributes: { id } }))

    const removeContainer = (id: string, remove?: { readonly force?: boolean; readonly volumes?: boolean }) =>
      call("removeContainer", {
        method: "DELETE",
        path: `/containers/${segment(id)}`,
        query: { force: remove?.force, v: remove?.volumes }
      }).pipe(Effect.asVoid, Effect.withSpan("DockerEngine.removeContainer", { attributes: { id } }))

    const inspectContainer = (id: string) =>
      decoded(
        "inspectContainer",
        { method: "GET", path: `/containers/${segment(id)}/json` },
        Wire.WireContainerInspect,
        Wire.toContainerInspect
      ).pipe(Effect.withSpan("DockerEngine.inspectContainer", { attributes: { id } }))

    const listContainers = (list?: { readonly all?: boolean; readonly labels?: LabelFilter }) =>
      decoded(
        "listContainers",
        {
          method: "GET",
          path: "/containers/json",
          query: { all: list?.all, filters: filters({ label: labelFilter(list?.labels) }) }
        },
        Wire.WireContainerList,
        (containers) => containers.map(Wire.toContainerSummary)
      ).pipe(Effect.withSpan("DockerEngine.listContainers"))

    const waitContainer = (
      id: string,
      wait?: { readonly condition?: "next-exit" | "not-running" | "removed" }
    ) =>
      decoded(
        "waitContainer",
        {
          method: "POST",
          path: `/containers/${segment(id)}/wait`,
          query: { condition: wait?.condition ?? "next-exit" }
        },
        Wire.WireWait,
        Wire.toWaitResult
      ).pipe(Effect.withSpan("DockerEngine.waitContainer", { attributes: { id } }))

    // The span covers opening the stream, not its life: a stream's span is entered on every
    // pull, and stats are pulled every second per container for as long as it runs.
    const stats = (id: string) =>
      bytes(
        "stats",
        { method: "GET", path: `/containers/${segment(id)}/stats`, query: { stream: true } },
        { name: "DockerEngine.stats", attributes: { id } }
      ).pipe(Ndjson.lines("stats", Wire.readStats))

    const statsOnce = (id: string) =>
      readAnswer(
        "statsOnce",
        { method: "GET", path: `/containers/${segment(id)}/stats`, query: { stream: false } },
        Wire.readStats
      ).pipe(Effect.withSpan("DockerEngine.statsOnce", { attributes: { id } }))

    const toLogLine =
      (timestamps: boolean) =>
      (line: LogFrames.RawLine): LogLine => {
        if (!timestamps) return { stream: line.stream, text: line.text }
        const space = line.text.indexOf(" ")
        return space === -1
          ? { stream: line.stream, text: "", timestamp: line.text }
          : { stream: line.stream, text: line.text.slice(space + 1), timestamp: line.text.slice(0, space) }
      }

    const logs = (id: string, options?: LogsOptions) =>
      Stream.unwrap(
        inspectContainer(id).pipe(
          Effect.map(({ tty }) =>
            bytes("logs", {
              method: "GET",
              path: `/containers/${segment(id)}/logs`,
              query: {
                follow: options?.follow ?? false,
                stdout: options?.stdout ?? true,
                stderr: options?.stderr ?? true,
                tail: options?.tail,
                since: options?.since === undefined ? undefined : unixSeconds(options.since),
                timestamps: options?.timestamps ?? false
              }
            }).pipe(
              Stream.mapAccum(() => LogFrames.initial({ tty }), LogFrames.feed, { onHalt: LogFrames.flush }),
              Stream.map(toLogLine(options?.timestamps ?? false))
            )
          ),
          // The caller asked for logs: a missing container is a failed `logs`, not a failed inspect.
          Effect.mapError(
            (error) =>
              new DockerError({
                reason: error.reason,
                operation: "logs",
                message: error.message,
                ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {})
              })
          )
        )
      ).pipe(Stream.withSpan("DockerEngine.logs", { attributes: { id } }))

    const putArchive = <E>(id: string, path: string, tar: Stream.Stream<Uint8Array, E>) =>
      Effect.suspend(() => {
        if (!path.startsWith("/") || path.includes("\0")) {
          return Effect.fail(
            new DockerError({
              reason: "BadRequest",
              operation: "putArchive",
              message: `invalid archive path ${JSON.stringify(path)}: it must be absolute, without NUL`
            })
          )
        }
        const body = new PassThrough()
        const feed = tar.pipe(
          Stream.runForEach((chunk) => Tar.write(body, chunk)),
          Effect.andThen(Effect.sync(() => body.end()))
        )
        return upload("putArchive", id, path, body, feed)
      }).pipe(Effect.withSpan("DockerEngine.putArchive", { attributes: { id, path } }))

    const copyFiles = (id: string, files: ReadonlyArray<ContainerFile>) =>
      Tar.validateFiles("copyFiles", files).pipe(
        Effect.andThen(
          Effect.suspend(() => {
            const pack = TarStream.pack()
            const body = new PassThrough()
            pack.pipe(body)
            return upload("copyFiles", id, "/", body, Tar.writeEntries("copyFiles", pack, files)).pipe(
              Effect.ensuring(Effect.sync(() => pack.destroy()))
            )
          })
        ),
        Effect.withSpan("DockerEngine.copyFiles", { attributes: { id, files: files.length } })
      )

    const pullImage = (reference: string) =>
      bytes("pullImage", { method: "POST", path: "/images/create", query: splitReference(reference) }).pipe(
        Ndjson.decode("pullImage", Wire.WirePullLine),
        Stream.mapEffect((line) => {
          const error = Wire.pullLineError(line)
          return error === undefined
            ? Effect.succeed(Wire.toPullProgress(line))
            : Effect.fail(
                new DockerError({
                  reason: "ServerError",
                  operation: "pullImage",
                  message: error.includes(reference) ? error : `${reference}: ${error}`
                })
              )
        }),
        Stream.mapError((error) =>
          error.message.includes(reference)
            ? error
            : new DockerError({ ...error, message: `${reference}: ${error.message}` })
        ),
        Stream.withSpan("DockerEngine.pullImage", { attributes: { reference } })
      )

    const inspectImage = (reference: string) =>
      decoded(
        "inspectImage",
        { method: "GET", path: `/images/${imagePath(reference)}/json` },
        Wire.WireImageInspect,
        Wire.toImageInspect
      ).pipe(Effect.withSpan("DockerEngine.inspectImage", { attributes: { reference } }))

    const removeImage = (reference: string, remove?: { readonly force?: boolean }) =>
      call("removeImage", {
        method: "DELETE",
        path: `/images/${imagePath(reference)}`,
        query: { force: remove?.force }
      }).pipe(Effect.asVoid, Effect.withSpan("DockerEngine.removeImage", { attributes: { reference } }))

    const createNetwork = (create: {
      readonly name: string
      readonly driver?: string
      readonly internal?: boolean
      readonly labels?: Readonly<Record<string, string>>
    }) =>
      decoded(
        "createNetwork",
        {
          method: "POST",
          path: "/networks/create",
          body: {
            Name: create.name,
            Driver: create.driver ?? "bridge",
            Internal: create.internal ?? false,
            Labels: create.labels ?? {},
            CheckDuplicate: true
          }
        },
        Wire.WireNetworkCreated,
        (created) => ({ id: created.Id })
      ).pipe(Effect.withSpan("DockerEngine.createNetwork", { attributes: { name: create.name } }))

    const connectNetwork = (
      network: string,
      container: string,
      connect?: { readonly aliases?: ReadonlyArray<string> }
    ) =>
      call("connectNetwork", {
        method: "POST",
        path: `/networks/${segment(network)}/connect`,
        body: {
          Container: container,
          ...(connect?.aliases !== undefined ? { EndpointConfig: { Aliases: connect.aliases } } : {})
        }
      }).pipe(
        Effect.asVoid,
        Effect.withSpan("DockerEngine.connectNetwork", { attributes: { network, container } })
      )

    const disconnectNetwork = (
      network: string,
      container: string,
      disconnect?: { readonly force?: boolean }
    ) =>
      call("disconnectNetwork", {
        method: "POST",
        path: `/networks/${segment(network)}/disconnect`,
        body: { Container: container, Force: disconnect?.force ?? false }
      }).pipe(
        Effect.asVoid,
        Effect.withSpan("DockerEngine.disconnectNetwork", { attributes: { network, container } })
      )

    const listNetworks = (list?: { readonly labels?: LabelFilter; readonly names?: ReadonlyArray<string> }) =>
      decoded(
        "listNetworks",
        {
          method: "GET",
          path: "/networks",
          query: { filters: filters({ label: labelFilter(list?.labels), name: list?.names }) }
        },
        Wire.WireNetworkList,
        (networks) =>
          networks
            .map(Wire.toNetworkInspect)
            // The engine's `name` filter matches substrings; callers mean exact names.
            .filter((network) => list?.names === undefined || list.names.includes(network.name))
      ).pipe(Effect.withSpan("DockerEngine.listNetworks"))

    const inspectNetwork = (network: string) =>
      decoded(
        "inspectNetwork",
        { method: "GET", path: `/networks/${segment(network)}` },
        Wire.WireNetwork,
        Wire.toNetworkInspect
      ).pipe(Effect.withSpan("DockerEngine.inspectNetwork", { attributes: { network } }))

    const removeNetwork = (network: string) =>
      call("removeNetwork", { method: "DELETE", path: `/networks/${segment(network)}` }).pipe(
        Effect.asVoid,
        Effect.withSpan("DockerEngine.removeNetwork", { attributes: { network } })
      )

    const events = (options?: EventsOptions) =>
      bytes("events", {
        method: "GET",
        path: "/events",
        query: {
          filters: filters({
            label: labelFilter(options?.labels),
            type: options?.types,
            event: options?.actions,
            container: options?.containers
          }),
          since: options?.since === undefined ? undefined : unixSeconds(options.since),
          until: options?.until === undefined ? undefined : unixSeconds(options.until)
        }
      }).pipe(
        Ndjson.decode("events", Wire.WireEvent),
        Stream.map(Wire.toEngineEvent),
        Stream.withSpan("DockerEngine.events")
      )

    return DockerEngine.of({
      ping,
      version,
      createContainer,
      startContainer,
      stopContainer,
      killContainer,
      removeContainer,
      inspectContainer,
      listContainers,
      waitContainer,
      stats,
      statsOnce,
      logs,
      putArchive,
      copyFiles,
      pullImage,
      inspectImage,
      removeImage,
      createNetwork,
      connectNetwork,
      disconnectNetwork,
      listNetworks,
      inspectNetwork,
      removeNetwork,
      events
    })
  })

/**
 * The engine for explicit options.
 *
 * @example
 * ```ts
 * import { DockerEngine } from "effect-docker"
 *
 * const engineLayer = DockerEngine.layerWith({ host: "unix:///run/user/1000/docker.sock" })
 * ```
 *
 * @since 0.1.0
 */
export const layerWith = (options: Options): Layer.Layer<DockerEngine, DockerError> =>
  Layer.effect(DockerEngine, make(options))

/**
 * The engine for options read from a `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const engineLayer = DockerEngine.layerConfig(
 *   Config.all({ host: Config.String("MY_APP_DOCKER_HOST"), connectTimeout: Config.Duration("MY_APP_DOCKER_TIMEOUT") })
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<DockerEngine, DockerError | Config.ConfigError> =>
  Layer.effect(
    DockerEngine,
    Effect.gen(function* () {
      const options = yield* config
      return yield* make(options)
    })
  )

const optionalString = (name: string) =>
  Config.String(name).pipe(
    Config.option,
    Config.map(Option.filter((value) => value.trim().length > 0)),
    Config.map(Option.getOrUndefined)
  )

/**
 * The options the Docker CLI reads from the environment: `DOCKER_HOST`,
 * `DOCKER_TLS_VERIFY` (set and not `0` or `false`), `DOCKER_CERT_PATH`.
 *
 * @since 0.1.0
 */
export const optionsFromEnv: Config.Config<Options> = Config.all({
  host: optionalString("DOCKER_HOST"),
  tlsVerify: optionalString("DOCKER_TLS_VERIFY").pipe(
    Config.map((value) => value !== undefined && value !== "0" && value.toLowerCase() !== "false")
  ),
  certPath: optionalString("DOCKER_CERT_PATH")
})

/**
 * The engine the environment names, as the Docker CLI finds it: `DOCKER_HOST`,
 * `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, else the local socket
 * (`/var/run/docker.sock`, rootless, Docker Desktop).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const engine = yield* DockerEngine.DockerEngine
 *   return yield* engine.version
 * }).pipe(Effect.provide(DockerEngine.layer))
 * ```
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<DockerEngine, DockerError | Config.ConfigError> = layerConfig(optionsFromEnv)
