/**
 * The Docker Engine API as an Effect service: the service tag, the shape of its operations
 * and the layers that build it (`make` → `layerWith` → `layerConfig` → `layer`).
 *
 * Every method returns the library's own, Schema-decoded types (camelCase, only the
 * fields a user needs, defined in `DockerModel` and exported here too), fails with a
 * {@link DockerError}, and aborts its HTTP request when interrupted. Streams (pull
 * progress, stats, events, logs) are decoded with correct framing and hold their socket
 * only while consumed. The transport and the endpoints live in `internal/engine/`.
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
import { Config, Context, type Duration, Effect, Layer, Option, type Scope, type Stream } from "effect"
import type { DockerError } from "./DockerError.js"
import type {
  ConnectNetworkOptions,
  ContainerFile,
  ContainerInspect,
  ContainerSummary,
  CreateContainerOptions,
  CreatedContainer,
  CreatedNetwork,
  CreatedService,
  CreateNetworkOptions,
  CreateVolumeOptions,
  DisconnectNetworkOptions,
  EngineEvent,
  EventsOptions,
  ExecOptions,
  ExecResult,
  ImageInspect,
  KillContainerOptions,
  ListContainersOptions,
  ListNetworksOptions,
  ListNodesOptions,
  ListServicesOptions,
  ListTasksOptions,
  ListVolumesOptions,
  LogLine,
  LogsOptions,
  NetworkInspect,
  NodeSpec,
  PullImageOptions,
  PullProgress,
  RemoveContainerOptions,
  RemoveImageOptions,
  RemoveVolumeOptions,
  ServiceInspect,
  ServiceLogsOptions,
  ServiceSpecOptions,
  ServiceWriteOptions,
  StatsSample,
  StopContainerOptions,
  SwarmInitOptions,
  SwarmInspect,
  SwarmJoinOptions,
  SwarmLeaveOptions,
  SwarmNode,
  Task,
  Version,
  VolumeInspect,
  WaitContainerOptions,
  WaitResult
} from "./DockerModel.js"
import * as Connection from "./internal/connection.js"
import * as Containers from "./internal/engine/containers.js"
import * as Exec from "./internal/engine/exec.js"
import * as Images from "./internal/engine/images.js"
import * as Networks from "./internal/engine/networks.js"
import * as Swarm from "./internal/engine/swarm.js"
import * as System from "./internal/engine/system.js"
import * as Transport from "./internal/engine/transport.js"
import * as Volumes from "./internal/engine/volumes.js"

// The model (`ContainerInspect`, `CreateContainerOptions`, `EngineEvent`, ...) has a module of
// its own; it stays importable from here, where it was first exported.
export * from "./DockerModel.js"

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/**
 * The operations of the Docker Engine API this library uses.
 *
 * @category models
 * @since 0.1.0
 */
export interface DockerEngineShape {
  /**
   * The host this process reaches the engine's published ports at: the engine's host for a
   * remote (`tcp://`, `ssh://`) engine; absent for a local socket (the port's own binding,
   * else `127.0.0.1`).
   */
  readonly publishedHost?: string | undefined
  readonly ping: Effect.Effect<void, DockerError>
  readonly version: Effect.Effect<Version, DockerError>

  readonly createContainer: (options: CreateContainerOptions) => Effect.Effect<CreatedContainer, DockerError>
  readonly startContainer: (id: string) => Effect.Effect<void, DockerError>
  /** Sends the stop signal, waits `timeout` seconds (the container's own stop timeout when absent), then kills. */
  readonly stopContainer: (id: string, options?: StopContainerOptions) => Effect.Effect<void, DockerError>
  readonly killContainer: (id: string, options?: KillContainerOptions) => Effect.Effect<void, DockerError>
  readonly removeContainer: (id: string, options?: RemoveContainerOptions) => Effect.Effect<void, DockerError>
  readonly inspectContainer: (id: string) => Effect.Effect<ContainerInspect, DockerError>
  readonly listContainers: (
    options?: ListContainersOptions
  ) => Effect.Effect<ReadonlyArray<ContainerSummary>, DockerError>
  /** Blocks until the condition holds (default `next-exit`). */
  readonly waitContainer: (
    id: string,
    options?: WaitContainerOptions
  ) => Effect.Effect<WaitResult, DockerError>
  /** Streams samples about once a second while the container runs: it ends when the container exits or is removed. */
  readonly stats: (id: string) => Stream.Stream<StatsSample, DockerError>
  /**
   * One sample, now. The engine waits for a second reading to fill `precpu`, unless
   * `oneShot` (API 1.41+): then it answers at once, with an empty `precpu`.
   */
  readonly statsOnce: (
    id: string,
    options?: { readonly oneShot?: boolean | undefined }
  ) => Effect.Effect<StatsSample, DockerError>
  readonly logs: (id: string, options?: LogsOptions) => Stream.Stream<LogLine, DockerError>
  /** Extracts a tar archive into the container at `path` (a directory). */
  readonly putArchive: <E>(
    id: string,
    path: string,
    tar: Stream.Stream<Uint8Array, E>
  ) => Effect.Effect<void, DockerError | E>
  /** Tars the files (tar-stream, streamed) and extracts them at `/`, keeping their modes. */
  readonly copyFiles: (id: string, files: ReadonlyArray<ContainerFile>) => Effect.Effect<void, DockerError>
  /**
   * Runs `command` in the running container and waits for it to end: its exit code, and its
   * stdout and stderr collected whole (one `stdout` with `tty`). A missing container is
   * `NotFound`, a container that is not running `Conflict`; a command that cannot be started
   * (not found in `PATH`) is not an error but exit code 126 (or 127) with the engine's
   * message in the output, as `docker exec` reports it.
   *
   * Interrupting it closes the exec's stream only: the engine has no call to stop an exec, so
   * the command keeps running in the container until it ends or the container stops.
   */
  readonly exec: (
    id: string,
    command: ReadonlyArray<string>,
    options?: ExecOptions
  ) => Effect.Effect<ExecResult, DockerError>

  /**
   * Pulls `reference` (`name[:tag]`, `name@digest`), streaming progress; an error line fails the
   * stream. Credentials come from `options.auth`, else from the Docker CLI's config; a registry
   * that refuses them (or wants some) fails the pull with reason `Unauthorized`.
   */
  readonly pullImage: (
    reference: string,
    options?: PullImageOptions
  ) => Stream.Stream<PullProgress, DockerError>
  readonly inspectImage: (reference: string) => Effect.Effect<ImageInspect, DockerError>
  readonly removeImage: (reference: string, options?: RemoveImageOptions) => Effect.Effect<void, DockerError>

  readonly createNetwork: (options: CreateNetworkOptions) => Effect.Effect<CreatedNetwork, DockerError>
  readonly connectNetwork: (
    network: string,
    container: string,
    options?: ConnectNetworkOptions
  ) => Effect.Effect<void, DockerError>
  readonly disconnectNetwork: (
    network: string,
    container: string,
    options?: DisconnectNetworkOptions
  ) => Effect.Effect<void, DockerError>
  readonly listNetworks: (
    options?: ListNetworksOptions
  ) => Effect.Effect<ReadonlyArray<NetworkInspect>, DockerError>
  readonly inspectNetwork: (network: string) => Effect.Effect<NetworkInspect, DockerError>
  readonly removeNetwork: (network: string) => Effect.Effect<void, DockerError>

  /** Creates a volume; a name that exists (same driver) gives back the existing one. */
  readonly createVolume: (options?: CreateVolumeOptions) => Effect.Effect<VolumeInspect, DockerError>
  readonly inspectVolume: (name: string) => Effect.Effect<VolumeInspect, DockerError>
  readonly listVolumes: (
    options?: ListVolumesOptions
  ) => Effect.Effect<ReadonlyArray<VolumeInspect>, DockerError>
  /** Removes a volume: `NotFound` when missing (unless `force`), `Conflict` while a container uses it. */
  readonly removeVolume: (name: string, options?: RemoveVolumeOptions) => Effect.Effect<void, DockerError>

  /** The engine's events, oldest first, filtered on the engine's side. */
  readonly events: (options?: EventsOptions) => Stream.Stream<EngineEvent, DockerError>

  // Swarm. Every call but `swarmInit` and `swarmJoin` fails with reason `NotSwarmManager` on an
  // engine that is not a manager of a swarm.

  /** The swarm this engine manages, with its join tokens. */
  readonly swarmInspect: Effect.Effect<SwarmInspect, DockerError>
  /** Makes this engine the first manager of a new swarm; answers its node id. */
  readonly swarmInit: (options?: SwarmInitOptions) => Effect.Effect<string, DockerError>
  /** Joins this engine to a swarm as a worker or manager (by the token given). */
  readonly swarmJoin: (options: SwarmJoinOptions) => Effect.Effect<void, DockerError>
  /** Leaves the swarm (a manager only with `force`); its tasks stop. */
  readonly swarmLeave: (options?: SwarmLeaveOptions) => Effect.Effect<void, DockerError>
  readonly listNodes: (options?: ListNodesOptions) => Effect.Effect<ReadonlyArray<SwarmNode>, DockerError>
  /** A node by id or hostname. */
  readonly inspectNode: (node: string) => Effect.Effect<SwarmNode, DockerError>
  /**
   * Replaces a node's spec (`availability: "drain"` moves its tasks away). `version` is the one
   * it was read at: the engine refuses an update of a node changed since ("update out of sequence").
   */
  readonly updateNode: (node: string, version: number, spec: NodeSpec) => Effect.Effect<void, DockerError>
  /** Creates a service: the orchestrator then creates its tasks. */
  readonly createService: (
    spec: ServiceSpecOptions,
    options?: ServiceWriteOptions
  ) => Effect.Effect<CreatedService, DockerError>
  /** A service by id or name. */
  readonly inspectService: (service: string) => Effect.Effect<ServiceInspect, DockerError>
  /** Services, with their running and desired task counts. */
  readonly listServices: (
    options?: ListServicesOptions
  ) => Effect.Effect<ReadonlyArray<ServiceInspect>, DockerError>
  /**
   * Replaces a service's spec (tasks are replaced per its update config). `version` is the one
   * it was read at: the engine refuses an update of a service changed since ("update out of sequence").
   */
  readonly updateService: (
    service: string,
    version: number,
    spec: ServiceSpecOptions,
    options?: ServiceWriteOptions
  ) => Effect.Effect<{ readonly warnings: ReadonlyArray<string> }, DockerError>
  /** Removes a service: its tasks are shut down (each container with its stop grace period) and go. */
  readonly removeService: (service: string) => Effect.Effect<void, DockerError>
  /** The output of every task of a service, demultiplexed as `logs` does for a container. */
  readonly serviceLogs: (service: string, options?: ServiceLogsOptions) => Stream.Stream<LogLine, DockerError>
  /** Tasks, current and past (the engine keeps a few ended ones per slot), filtered on the engine's side. */
  readonly listTasks: (options?: ListTasksOptions) => Effect.Effect<ReadonlyArray<Task>, DockerError>

  /** Where a live engine is (absent for an in-memory one): whether its containers run on this machine. */
  readonly endpoint?: Endpoint | undefined
}

/**
 * Where a live engine is, as resolved from its options: a local socket, a TCP host (with or
 * without TLS) or an SSH host.
 *
 * @category models
 * @since 0.1.0
 */
export type Endpoint = Transport.Transport["endpoint"]

/**
 * The Docker Engine service.
 *
 * @category services
 * @since 0.1.0
 */
export class DockerEngine extends Context.Service<DockerEngine, DockerEngineShape>()(
  "effect-docker/DockerEngine"
) {}

// ---------------------------------------------------------------------------------------------
// The live engine (docker-modem underneath)
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
 * @category options
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
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<DockerEngineShape, DockerError, Scope.Scope> =>
  Effect.map(Transport.make(options), (transport) =>
    DockerEngine.of({
      publishedHost: Connection.publishedHost(transport.endpoint),
      ...System.make(transport),
      ...Containers.make(transport),
      ...Exec.make(transport),
      ...Images.make(transport),
      ...Networks.make(transport),
      ...Volumes.make(transport),
      ...Swarm.make(transport)
    })
  )

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
 * @category layers
 * @since 0.1.0
 */
export const layerWith = (options: Options): Layer.Layer<DockerEngine, DockerError> =>
  Layer.effect(DockerEngine, make(options))

/**
 * The engine for options read from `Config`: one `Config` of all the options, or a record
 * with a `Config` per option (those left out keep their defaults), as the platform's own
 * layers take them.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const engineLayer = DockerEngine.layerConfig({
 *   host: Config.String("MY_APP_DOCKER_HOST"),
 *   connectTimeout: Config.Duration("MY_APP_DOCKER_TIMEOUT")
 * })
 *
 * // or one Config of them all
 * const fromEnv = DockerEngine.layerConfig(DockerEngine.optionsFromEnv)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<Options>
): Layer.Layer<DockerEngine, DockerError | Config.ConfigError> =>
  Layer.effect(DockerEngine, Effect.flatMap(Config.unwrap(config), make))

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
 * @category config
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
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<DockerEngine, DockerError | Config.ConfigError> = layerConfig(optionsFromEnv)
