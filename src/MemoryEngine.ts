/**
 * An in-memory Docker engine: the whole {@link DockerEngine.DockerEngine} service with real
 * container lifecycles and real errors, scripted behaviour, fault injection and an inspection
 * API, deterministic under `TestClock`.
 *
 * Use it to test your own container logic in milliseconds, without a daemon. The same
 * contract suite (test/contract/) runs against it and against a real engine, so what passes
 * here behaves the same on Docker.
 *
 * @example
 * ```ts
 * import { Effect, Fiber } from "effect"
 * import { TestClock } from "effect/testing"
 * import { DockerEngine, MemoryEngine } from "effect-docker"
 *
 * const test = Effect.gen(function*() {
 *   const memory = yield* MemoryEngine.MemoryEngine
 *   yield* memory.script({ container: "worker" }, { exit: { after: "30 seconds", code: 3 } })
 *   const engine = yield* DockerEngine.DockerEngine
 *   const { id } = yield* engine.createContainer({ image: "busybox:latest", name: "worker" })
 *   yield* engine.startContainer(id)
 *   const exit = yield* Effect.forkChild(engine.waitContainer(id))
 *   yield* TestClock.adjust("30 seconds")
 *   const { exitCode } = yield* Fiber.join(exit) // 3
 * }).pipe(Effect.provide(MemoryEngine.layer({ images: ["busybox:latest"] })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import {
  type ContainerInspect,
  DockerEngine,
  type DockerEngineShape,
  type EngineEvent,
  type ExecOptions,
  type ImageInspect,
  type LogLine,
  type NetworkInspect,
  type VolumeInspect
} from "./DockerEngine.js"
import type { DockerError, DockerErrorReason } from "./DockerError.js"

// ---------------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------------

/**
 * Resource use at one moment, as `docker stats` would show it. The engine turns these into
 * the cumulative counters Docker streams, so CPU % computed the CLI's way gives `cpuPercent` back.
 *
 * @category scripts
 * @since 0.1.0
 */
export interface StatsValues {
  /** As `docker stats` shows it (100 = one full CPU). Default 1. */
  readonly cpuPercent?: number
  /** Bytes, including the page cache. Default 8 MiB. */
  readonly memoryUsage?: number
  /** Bytes; default the container's `memory` option or the engine's `memoryTotal`. */
  readonly memoryLimit?: number
  /** The cache the CLI subtracts (`total_inactive_file` on cgroup v1). Default 0. */
  readonly inactiveFile?: number
  /** Total bytes received so far on `eth0`. Default 0. */
  readonly rxBytes?: number
  /** Total bytes sent so far on `eth0`. Default 0. */
  readonly txBytes?: number
  /** Default 1. */
  readonly pids?: number
}

/**
 * A line a scripted container writes, `at` a time after its start (default at start).
 *
 * @category scripts
 * @since 0.1.0
 */
export interface ScriptedLog {
  readonly text: string
  readonly stream?: "stdout" | "stderr"
  readonly at?: Duration.Input
}

/**
 * What a command run with `exec` does in a scripted container: its exit code (default 0),
 * its output, and how long it runs (default: it ends at once). With `tty` the engine hands
 * stderr back inside stdout, as a terminal mixes them.
 *
 * @category scripts
 * @since 0.1.0
 */
export interface ExecReply {
  readonly exitCode?: number
  readonly stdout?: string
  readonly stderr?: string
  readonly after?: Duration.Input
}

/**
 * How a scripted container answers `exec`: a function of the command (and the exec's
 * options) giving its reply, or `undefined` for a command the container does not have. Such
 * a command (and every command of a container without an `exec` script) exits 126 with
 * Docker's message on stdout, `OCI runtime exec failed: ... executable file not found in
 * $PATH: unknown`, as `docker exec` does.
 *
 * @example
 * ```ts
 * const database: MemoryEngine.Script = {
 *   exec: (command) =>
 *     command[0] === "pg_isready" ? { stdout: "/var/run/postgresql:5432 - accepting connections\n" } : undefined
 * }
 * ```
 *
 * @category scripts
 * @since 0.1.0
 */
export type ExecScript = (command: ReadonlyArray<string>, options: ExecOptions) => ExecReply | undefined

/**
 * What a scripted container does while it runs. Every time is measured from its start.
 *
 * - no `exit`: it runs until stopped, killed or removed;
 * - `onStopSignal`: `"exit"` (default) exits at once with 128 + the signal (143 for SIGTERM),
 *   `"ignore"` makes `stop` wait for its timeout and then kill (exit 137), `{ after, exitCode }`
 *   shuts down gracefully after a while;
 * - `health`: the health status at given times (without it, a container created with a
 *   healthcheck turns `healthy` after its first interval);
 * - `stats`: one `StatsValues` per second since the start (the last one repeats), or a function
 *   of the second;
 * - `exec`: how commands run with `exec` answer (see {@link ExecScript}).
 *
 * @example
 * ```ts
 * const flaky: MemoryEngine.Script = {
 *   logs: [{ text: "listening on :8080" }, { text: "out of memory", stream: "stderr", at: "9 seconds" }],
 *   health: [{ at: "2 seconds", status: "healthy" }, { at: "8 seconds", status: "unhealthy" }],
 *   exit: { after: "10 seconds", code: 137 },
 *   onStopSignal: "ignore"
 * }
 * ```
 *
 * @category scripts
 * @since 0.1.0
 */
export interface Script {
  readonly exit?: {
    readonly after: Duration.Input
    readonly code: number
    /** The kernel killed it for lack of memory: `OOMKilled` in inspect (with code 137, as Docker shows it). */
    readonly oomKilled?: boolean
    /** The engine's error for the exit: `State.Error` in inspect and the wait result's `error`. */
    readonly error?: string
  }
  readonly logs?: ReadonlyArray<ScriptedLog>
  readonly health?: ReadonlyArray<{
    readonly at: Duration.Input
    readonly status: "starting" | "healthy" | "unhealthy"
  }>
  readonly stats?: ReadonlyArray<StatsValues> | ((second: number) => StatsValues)
  readonly onStopSignal?: "exit" | "ignore" | { readonly after: Duration.Input; readonly exitCode?: number }
  readonly exec?: ExecScript
}

/**
 * A script, or one script per start: the n-th start of a container with that name (or of
 * that image) runs the n-th script, and the last one repeats. Counting survives removing and
 * re-creating a container with the same name, so restarts can be scripted:
 * `[{ exit: { after: "1 second", code: 1 } }, {}]` fails once, then runs.
 *
 * @category scripts
 * @since 0.1.0
 */
export type ScriptInput = Script | ReadonlyArray<Script>

/**
 * Which containers a script applies to: by container name (wins) or by image reference.
 *
 * @category scripts
 * @since 0.1.0
 */
export type ScriptTarget = { readonly container: string } | { readonly image: string }

/**
 * How pulling an image from the registry behaves.
 *
 * @category images
 * @since 0.1.0
 */
export interface PullScript {
  /** Fail the pull: with an error line after `afterLayers` layers were downloaded (default 0). */
  readonly fail?: {
    readonly message: string
    readonly afterLayers?: number
  }
  /** The time each progress step takes (default 0). `"500 millis"` makes a slow pull. */
  readonly stepDelay?: Duration.Input
  /** Progress lines per layer for `Downloading` and for `Extracting` (default 3). */
  readonly steps?: number
}

/**
 * An image: its reference and what `inspect` shows; `layers` are layer sizes in bytes (the
 * pull reports progress against them).
 *
 * @category images
 * @since 0.1.0
 */
export interface ImageDefinition {
  readonly reference: string
  readonly layers?: ReadonlyArray<number>
  readonly cmd?: ReadonlyArray<string>
  readonly entrypoint?: ReadonlyArray<string>
  /** The image's own healthcheck test; containers get health unless they set `["NONE"]`. */
  readonly healthcheck?: ReadonlyArray<string>
  readonly labels?: Readonly<Record<string, string>>
  /** How containers of this image behave (a container-name script wins). */
  readonly script?: ScriptInput
  /** How pulling it behaves (registry images only). */
  readonly pull?: PullScript
  /**
   * The credentials the registry wants for it (registry images only): a pull without them,
   * or with others, fails `Unauthorized` as a registry with basic auth makes the engine fail.
   * The memory engine reads no Docker config: only a pull's own `auth` counts.
   */
  readonly auth?: { readonly username: string; readonly password: string }
}

/**
 * Options of {@link layer}.
 *
 * @category options
 * @since 0.1.0
 */
export interface Options {
  /** Images present locally from the start. */
  readonly images?: ReadonlyArray<string | ImageDefinition>
  /** Images the (simulated) registry serves: `pullImage` downloads them with progress. */
  readonly registry?: ReadonlyArray<string | ImageDefinition>
  /** Scripts by container name. */
  readonly containers?: Readonly<Record<string, ScriptInput>>
  /** `v1` (default, like this project's CI engine) or `v2`: which cache field stats carry. */
  readonly cgroup?: "v1" | "v2"
  /** CPUs the engine reports (`online_cpus`). Default 2. */
  readonly cpus?: number
  /** Host memory in bytes, the limit of containers without one. Default 8 GiB. */
  readonly memoryTotal?: number
  /** How many past events a `since` resubscription can replay. Default 256, as Docker keeps. */
  readonly eventsBuffer?: number
  /**
   * Makes the engine the leading manager of a simulated swarm from the start (without it the
   * engine is in no swarm, as a fresh dockerd: Swarm calls fail `NotSwarmManager` until
   * `swarmInit`).
   */
  readonly swarm?: SwarmOptions
}

/**
 * A simulated swarm: `nodes` nodes (default 1), or one entry per node. The first node is this
 * engine, the leading manager; the others are workers unless said otherwise. Hostnames default
 * to `node1`, `node2`, ... Every task's container lives in this engine (so `exit`, scripts and
 * `containers` reach the containers of tasks on any node), labelled with
 * `com.docker.swarm.node.id` as Docker labels them.
 *
 * @category options
 * @since 0.3.0
 */
export interface SwarmOptions {
  readonly nodes?: number | ReadonlyArray<SwarmNodeOptions>
}

/**
 * One simulated swarm node.
 *
 * @category options
 * @since 0.3.0
 */
export interface SwarmNodeOptions {
  readonly hostname?: string
  /** Default `worker` (the first node is always the manager). */
  readonly role?: "worker" | "manager"
  /** Node labels, for `node.labels.<key>==<value>` constraints. */
  readonly labels?: Readonly<Record<string, string>>
}

// ---------------------------------------------------------------------------------------------
// The control service
// ---------------------------------------------------------------------------------------------

/**
 * A `DockerEngine` operation by name: `"createContainer"`, `"events"`, ...
 *
 * @category models
 * @since 0.1.0
 */
export type Operation = keyof DockerEngineShape

/**
 * One call made to the engine, with its arguments as given.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call {
  readonly operation: Operation
  readonly args: ReadonlyArray<unknown>
}

/**
 * A file in a container, as copied in.
 *
 * @category models
 * @since 0.1.0
 */
export interface ContainerFileEntry {
  readonly path: string
  readonly type: "file" | "directory" | "symlink"
  readonly mode: number
  readonly content: Uint8Array
}

/**
 * Streams currently held open by consumers.
 *
 * @category models
 * @since 0.1.0
 */
export interface OpenStreams {
  readonly events: number
  readonly stats: number
  readonly logs: number
  readonly pulls: number
}

/**
 * The control side of a memory engine: scripts, fault injection, time-independent pokes at
 * containers, and inspection for assertions.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryEngineShape {
  /** Makes an image present locally (as if pulled or built). */
  readonly addImage: (image: string | ImageDefinition) => Effect.Effect<void>
  /** Makes an image available in the registry, so `pullImage` downloads it. */
  readonly addRegistryImage: (image: string | ImageDefinition) => Effect.Effect<void>
  /** Scripts the containers of a name or an image (applies from their next start). */
  readonly script: (target: ScriptTarget, script: ScriptInput) => Effect.Effect<void>

  /** Fails the next `times` (default 1) calls of `operation` with this reason. */
  readonly failNext: (
    operation: Operation,
    reason: DockerErrorReason,
    options?: { readonly times?: number; readonly message?: string }
  ) => Effect.Effect<void>
  /** Delays every call of `operation` by `duration` (clock time); `undefined` removes the delay. */
  readonly delay: (operation: Operation, duration: Duration.Input | undefined) => Effect.Effect<void>
  /**
   * Drops every open events stream, as a lost connection does: they fail with an `Unavailable`
   * error (or end, with `{ end: true }`). Events keep being recorded, so a resubscription with
   * `since` gets those emitted meanwhile.
   */
  readonly dropEvents: (options?: { readonly end?: boolean }) => Effect.Effect<void>

  /** Makes a running container exit now with `code`, as if its process ended. */
  readonly exit: (container: string, code: number) => Effect.Effect<void, DockerError>
  /** Sets a running container's health now (emits `health_status` on a change). */
  readonly setHealth: (
    container: string,
    status: "starting" | "healthy" | "unhealthy"
  ) => Effect.Effect<void, DockerError>
  /** Writes a line to a container's output now. */
  readonly writeLog: (
    container: string,
    text: string,
    stream?: "stdout" | "stderr"
  ) => Effect.Effect<void, DockerError>

  /** Every container, as `inspect` shows it, oldest first. */
  readonly containers: Effect.Effect<ReadonlyArray<ContainerInspect>>
  /** Every network (the predefined `bridge`, `host`, `none` included) with its running containers. */
  readonly networks: Effect.Effect<ReadonlyArray<NetworkInspect>>
  /** The images present locally. */
  readonly images: Effect.Effect<ReadonlyArray<ImageInspect>>
  /** Every volume, oldest first. Volumes outlive containers: they go only with `removeVolume`. */
  readonly volumes: Effect.Effect<ReadonlyArray<VolumeInspect>>
  /** The files copied into a container. */
  readonly files: (container: string) => Effect.Effect<ReadonlyArray<ContainerFileEntry>, DockerError>
  /** One file's content as text, or undefined when absent. */
  readonly readFile: (container: string, path: string) => Effect.Effect<string | undefined, DockerError>
  /** A container's output so far. */
  readonly output: (container: string) => Effect.Effect<ReadonlyArray<LogLine>, DockerError>
  /** Every event emitted so far (beyond the replay buffer too), oldest first. */
  readonly emittedEvents: Effect.Effect<ReadonlyArray<EngineEvent>>
  /** Every call made so far, oldest first. */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  /** Forgets the calls recorded so far. */
  readonly clearCalls: Effect.Effect<void>
  /** How many events, stats, logs and pull streams are open now. */
  readonly openStreams: Effect.Effect<OpenStreams>

  /**
   * Loses a swarm node (by id or hostname), as a crashed daemon or a cut network does: the node
   * is `down`, its tasks' containers die, the tasks keep their last known state (desired
   * `shutdown`) and the orchestrator replaces them on other nodes.
   */
  readonly killNode: (node: string) => Effect.Effect<void, DockerError>
  /** Brings a lost node back: `ready`, its lost tasks reported `shutdown`, pending tasks placed. */
  readonly reviveNode: (node: string) => Effect.Effect<void, DockerError>
  /** Sets a node's availability without a version (as `updateNode` would): `drain` moves its tasks. */
  readonly setNodeAvailability: (
    node: string,
    availability: "active" | "pause" | "drain"
  ) => Effect.Effect<void, DockerError>
}

/**
 * The control service of a memory engine, provided by {@link layer} beside `DockerEngine`.
 *
 * @category services
 * @since 0.1.0
 */
export class MemoryEngine extends Context.Service<MemoryEngine, MemoryEngineShape>()(
  "effect-docker/MemoryEngine"
) {}

// The engine's rooms (src/internal/memory/) load on first use: `effect-docker` re-exports this
// module, and a production import of the package should not load a testing engine. Node caches
// the module, so only the first engine pays for the import. test/lazyMemoryEngine.test.ts
// checks that no static import from src/index.ts reaches them.
const loadEngine = Effect.promise(() => import("./internal/memory/engine.js"))

/**
 * Builds a memory engine in the current scope: the engine and its control side. Processes of
 * running containers are fibers of that scope; closing it stops them.
 *
 * @example
 * ```ts
 * const { engine, control } = yield* MemoryEngine.make({ images: ["busybox:latest"] })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options?: Options
) => Effect.Effect<
  { readonly engine: DockerEngineShape; readonly control: MemoryEngineShape },
  never,
  Scope.Scope
> = (options) => Effect.flatMap(loadEngine, (internal) => internal.make(options))

/**
 * A layer providing both `DockerEngine` (in memory) and its {@link MemoryEngine} control side.
 * All timing goes through Effect's `Clock`, so it is deterministic under `TestClock` and runs
 * in real time elsewhere (the CLI's simulated demo).
 *
 * @example
 * ```ts
 * const testLayer = MemoryEngine.layer({
 *   images: ["busybox:latest"],
 *   registry: [{ reference: "example.com/app:1", layers: [5_000_000], pull: { stepDelay: "100 millis" } }],
 *   containers: { "app-worker": { exit: { after: "5 seconds", code: 1 } } }
 * })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<DockerEngine | MemoryEngine> =>
  Layer.effectContext(
    Effect.map(make(options), ({ control, engine }) =>
      Context.make(DockerEngine, engine).pipe(Context.add(MemoryEngine, control))
    )
  )
