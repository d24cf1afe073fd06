/**
 * Containers as scoped resources, with one merged, typed state stream each.
 *
 * A Supervisor instance owns a labelled bridge network, one engine events subscription
 * shared by all its containers, and every container it runs: releasing its layer stops and
 * removes them all in parallel (each with its own stop timeout), then the network. This
 * module holds the service, its options and selectors, and the few helpers for instances
 * found on an engine by their labels (`labelKeys`, `ownerOf`, `tearDown`, as the CLI's `ps`,
 * `down` and `sweep` use them); a container's lifecycle lives in `internal/supervisorContainer.ts`,
 * the `run` and `start` wiring (and the handle `start` returns) in
 * `internal/supervisorLifecycles.ts`, the instance's volumes in `internal/supervisorVolumes.ts`,
 * readiness in `internal/supervisorReadiness.ts`, and how anything is taken down in
 * `internal/teardown.ts`.
 *
 * @example
 * ```ts
 * import { Console, Effect, Stream } from "effect"
 * import { DockerEngine, Supervisor } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const supervisor = yield* Supervisor.Supervisor
 *   yield* supervisor.run({ name: "hello", image: "busybox:latest", command: ["echo", "hi"] }).pipe(
 *     Stream.tap((state) => Console.log(state.status, state.exitCode)),
 *     Stream.runDrain
 *   )
 * })
 *
 * program.pipe(
 *   Effect.provide(Supervisor.layer({ app: "demo" })),
 *   Effect.provide(DockerEngine.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import {
  Clock,
  Context,
  type Duration,
  Effect,
  type Fiber,
  FiberSet,
  Layer,
  Ref,
  type Schedule,
  type Scope,
  Semaphore,
  type Stream
} from "effect"
import * as ContainerSpec from "./ContainerSpec.js"
import type * as ContainerState from "./ContainerState.js"
import {
  type ContainerSummary,
  DockerEngine,
  type ExecOptions,
  type ExecResult,
  type LabelFilter,
  type LogLine,
  type LogsOptions
} from "./DockerEngine.js"
import type { DockerError } from "./DockerError.js"
import * as Labels from "./internal/labels.js"
import * as PullProgress from "./internal/pullProgress.js"
import * as StateMailbox from "./internal/stateMailbox.js"
import type { PortNotPublished } from "./internal/supervisorAddress.js"
import * as Address from "./internal/supervisorAddress.js"
import * as Container from "./internal/supervisorContainer.js"
import type {
  CopyError,
  CreateError,
  NotReadyError,
  PullError,
  StartError,
  WaitError
} from "./internal/supervisorErrors.js"
import * as Events from "./internal/supervisorEvents.js"
import * as Lifecycles from "./internal/supervisorLifecycles.js"
import * as Pulls from "./internal/supervisorPulls.js"
import * as SupervisorStats from "./internal/supervisorStats.js"
import * as Volumes from "./internal/supervisorVolumes.js"
import * as Teardown from "./internal/teardown.js"

export {
  /**
   * @category errors
   * @since 0.2.0
   */
  PortNotPublished
} from "./internal/supervisorAddress.js"
export {
  /**
   * @category errors
   * @since 0.1.0
   */
  CopyError,
  /**
   * @category errors
   * @since 0.1.0
   */
  CreateError,
  /**
   * @category errors
   * @since 0.1.0
   */
  NotReadyError,
  /**
   * @category errors
   * @since 0.1.0
   */
  PullError,
  /**
   * @category errors
   * @since 0.1.0
   */
  StartError,
  /**
   * @category errors
   * @since 0.1.0
   */
  WaitError
} from "./internal/supervisorErrors.js"

export {
  /**
   * @category instances
   * @since 0.1.0
   */
  type LabelKeys,
  /**
   * @category instances
   * @since 0.1.0
   */
  labelKeys,
  /**
   * @category instances
   * @since 0.1.0
   */
  type Owner,
  /**
   * @category instances
   * @since 0.1.0
   */
  type OwnerStatus,
  /**
   * @category instances
   * @since 0.1.0
   */
  ownerOf,
  /**
   * @category instances
   * @since 0.1.0
   */
  tearDown
} from "./internal/supervisorInstances.js"

/**
 * Metrics: supervised containers running now (gauge), restarts made by restart policies
 * and bytes downloaded by pulls (counters), and states waiting for slow consumers of `run`
 * and `states` (gauge), over every instance of this process.
 *
 * @example
 * ```ts
 * const running = yield* Metric.value(Supervisor.metrics.containersRunning)
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const metrics = {
  containersRunning: Container.containersRunning,
  restarts: Container.restarts,
  pullBytes: Pulls.pullBytes,
  /** Containers by the stats source chosen for them (`source`: `engine`, `cgroup`, `none`). */
  statsSource: SupervisorStats.statsSourceChosen,
  /** States queued for consumers slower than their containers (stats-only states coalesced). */
  statesQueued: StateMailbox.statesQueued
} as const

/**
 * Why a run failed, by step: the spec was invalid (no Docker call was made), or pulling,
 * creating, copying files, starting or waiting failed (each carries the engine's
 * `DockerError` as `cause`). A container exiting with a non-zero code is not an error: it is
 * the final `exited` state.
 *
 * @example
 * ```ts
 * supervisor.run(spec).pipe(
 *   Stream.catchTag("PullError", (error) => Stream.fromEffect(Console.error(error.message)))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type RunError =
  | ContainerSpec.InvalidSpec
  | PullError
  | CreateError
  | CopyError
  | StartError
  | WaitError

/**
 * Options of a Supervisor instance.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The application's name: in labels, and in container and network names (`<app>-<instance>-<name>`). */
  readonly app: string
  /** The label prefix (default `dev.effect-docker.`). */
  readonly labelPrefix?: string | undefined
  /** Extra labels on every container and network of the instance. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /**
   * How many containers are stopped and removed at once on release and by `remove`: a number
   * (at least 1), or `"unbounded"` (the default: all at once, as `docker compose down`, so that
   * tearing down N containers takes about one stop timeout, not N).
   */
  readonly teardownConcurrency?: number | "unbounded" | undefined
  /** The instance id (default: 8 random hex characters). */
  readonly instanceId?: string | undefined
  /**
   * The backoff between reconnections of the events subscription, also used to retry a wait
   * for an exit through an engine outage (default: exponential from 100 ms, jittered, capped
   * at 10 s, retrying forever). A schedule that ends gives up: every lifecycle of the instance,
   * running or started later, then fails with a `WaitError` whose `cause` is the events
   * stream's last error, and its container is removed.
   */
  readonly eventsReconnect?: Schedule.Schedule<unknown, DockerError> | undefined
  /**
   * The host `handle.port` answers for published ports (default: the engine's host for a
   * `tcp://` or `ssh://` engine, else `127.0.0.1`). Set it when the engine's ports are reached
   * through another name.
   */
  readonly publishedHost?: string | undefined
  /**
   * Where containers' stats come from (a spec's `statsSource` wins). `engine`: the engine's
   * stats. `cgroup`: the container's cgroup and `/proc` counters read on this machine, the
   * engine never asked (an engine whose containers are not here, or the in-memory engine,
   * gives no stats, with a warning). `auto` (default): `cgroup` when the engine is on a local
   * unix socket and one cgroup sample agrees with one engine sample, checked once per
   * container, else `engine`; the choice is logged (debug) and counted in
   * `metrics.statsSource`.
   */
  readonly statsSource?: "auto" | "engine" | "cgroup" | undefined
  /**
   * Between stats samples (default 1 second, as the engine streams). Any other interval
   * samples the engine with one-shot requests, or the cgroup at that interval.
   */
  readonly statsInterval?: Duration.Input | undefined
}

/**
 * Which containers `list`, `isRunning` and `remove` act on: this instance's or those of every
 * instance of the app, optionally narrowed to one component or to extra labels.
 *
 * @category selectors
 * @since 0.1.0
 */
export interface Selector {
  readonly scope: "instance" | "app"
  readonly component?: string | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
}

/**
 * This instance's containers (the default selector).
 *
 * @example
 * ```ts
 * supervisor.isRunning(Supervisor.thisInstance({ component: "db" }))
 * ```
 *
 * @category selectors
 * @since 0.1.0
 */
export const thisInstance = (options?: Omit<Selector, "scope">): Selector => ({
  scope: "instance",
  ...options
})

/**
 * The containers of every instance of the app, live or not.
 *
 * @example
 * ```ts
 * supervisor.remove(Supervisor.allInstances())
 * ```
 *
 * @category selectors
 * @since 0.1.0
 */
export const allInstances = (options?: Omit<Selector, "scope">): Selector => ({ scope: "app", ...options })

/**
 * A container running in the background of a scope (see `start`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ContainerHandle {
  readonly id: string
  /** The container's name: `<app>-<instance>-<name>`. */
  readonly name: string
  /** The latest state. */
  readonly state: Effect.Effect<ContainerState.ContainerState>
  /** The latest state, then every change, ending after the final `exited` state. */
  readonly states: Stream.Stream<ContainerState.ContainerState>
  /** Stops and removes the container now (the scope would do it when it closes). */
  readonly stop: Effect.Effect<void>
  /** The container's output (on Swarm, every replica's: each line's `task` says which). */
  readonly logs: (options?: LogsOptions) => Stream.Stream<LogLine, DockerError>
  /** The final state: `exited`, with the exit code, after restarts (or the state at `stop`). */
  readonly await: Effect.Effect<ContainerState.ContainerState, RunError>
  /**
   * Where this process connects to a published container port (`protocol` default `tcp`): the
   * engine's host (the loopback address for a local engine) and the host port bound at the
   * last start. Fails with {@link PortNotPublished} for a port the spec does not publish, or
   * while the container is not running.
   */
  readonly port: (
    containerPort: number,
    protocol?: "tcp" | "udp"
  ) => Effect.Effect<{ readonly host: string; readonly port: number }, PortNotPublished>
  /**
   * Runs a command in the running container (`docker exec`): its exit code, stdout and stderr.
   * Interrupting it closes the stream; the command itself goes on in the container.
   *
   * @example
   * ```ts
   * const { exitCode, stdout } = yield* handle.exec(["psql", "-U", "postgres", "-c", "select 1"])
   * ```
   */
  readonly exec: (
    command: ReadonlyArray<string>,
    options?: ExecOptions
  ) => Effect.Effect<ExecResult, DockerError>
}

/**
 * What `removeStale` removed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Removed {
  readonly containers: number
  readonly networks: number
  /** `instance`-scoped volumes of dead instances. */
  readonly volumes: number
}

/**
 * The Supervisor service.
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorShape {
  readonly app: string
  readonly instanceId: string
  /** The instance's bridge network (its name). */
  readonly network: string
  /** The labels every container and network of the instance carries. */
  readonly labels: Readonly<Record<string, string>>
  /**
   * Runs a container: the stream emits a state on every observed change and ends after the
   * final `exited` state. Ending the stream early stops and removes the container.
   */
  readonly run: (spec: ContainerSpec.Input) => Stream.Stream<ContainerState.ContainerState, RunError>
  /**
   * Runs a container in the background of the scope and resolves when its readiness holds
   * (`started`, `healthy`, `exited`, a log line seen N times, a published port accepting
   * connections, an HTTP answer, a command exiting 0, or all of several; default `healthy`
   * when it has a healthcheck, else `started`); else fails with `NotReadyError`. Closing the scope stops and removes it; the handles of one scope are
   * stopped in parallel.
   */
  readonly start: (
    spec: ContainerSpec.Input
  ) => Effect.Effect<ContainerHandle, RunError | NotReadyError, Scope.Scope>
  /** Whether any selected container is running or restarting. */
  readonly isRunning: (selector?: Selector) => Effect.Effect<boolean, DockerError>
  /** The selected containers, running or not. */
  readonly list: (selector?: Selector) => Effect.Effect<ReadonlyArray<ContainerSummary>, DockerError>
  /** Stops and removes the selected containers in parallel; returns how many. */
  readonly remove: (selector?: Selector) => Effect.Effect<number, DockerError>
  /**
   * Removes the containers, networks and `instance`-scoped volumes of this app's instances
   * whose owning process is gone (on this host). Live instances, other hosts' instances,
   * `app` and `external` volumes and foreign containers are kept.
   */
  readonly removeStale: Effect.Effect<Removed, DockerError>
  /**
   * Removes the app's `app`-scoped volumes (all, or those of the given spec names): the only
   * way they go, as `docker compose down -v` removes a project's. A volume still mounted by a
   * container is refused (`Conflict`). Returns how many were removed.
   */
  readonly removeAppVolumes: (names?: ReadonlyArray<string>) => Effect.Effect<number, DockerError>
  /** How many times the shared events subscription has connected (1 unless it dropped). */
  readonly eventsConnections: Effect.Effect<number>
}

/**
 * The Supervisor service tag.
 *
 * @category services
 * @since 0.1.0
 */
export class Supervisor extends Context.Service<Supervisor, SupervisorShape>()("effect-docker/Supervisor") {}

/**
 * Builds a Supervisor instance in the current scope: its network, its events
 * subscription, and the release of everything it runs when the scope closes.
 *
 * @example
 * ```ts
 * const supervisor = yield* Supervisor.make({ app: "demo" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("Supervisor.make")(function* (options: Options) {
  const engine = yield* DockerEngine
  const app = options.app
  const instanceId = options.instanceId ?? randomBytes(4).toString("hex")
  const badName = Labels.namesIssue({ app, instanceId })
  if (badName !== undefined) return yield* new ContainerSpec.InvalidSpec(badName)
  const keys = Labels.keys(options.labelPrefix)
  const labels: Record<string, string> = {
    ...options.labels,
    ...Labels.instanceLabels(keys, { app, instance: instanceId, owner: Labels.currentOwner() })
  }
  const teardown = yield* Semaphore.make(Teardown.permits(options.teardownConcurrency))
  const supervised = yield* Ref.make<ReadonlyMap<string, Fiber.Fiber<unknown, unknown>>>(new Map())
  const stats = SupervisorStats.make(engine, yield* SupervisorStats.settings(options))
  const networkName = `${app}-${instanceId}`
  // The engine's own host when it is remote (`DockerEngine.publishedHost`), else what
  // `DOCKER_HOST` names (an engine service that does not say, such as a user's own).
  const publishedHost =
    options.publishedHost ??
    (engine.publishedHost === undefined
      ? Address.engineHost(process.env.DOCKER_HOST)
      : engine.publishedHost === "localhost"
        ? "127.0.0.1"
        : engine.publishedHost)

  // Released in reverse, as `internal/teardown.ts` describes: the running lifecycles first (in
  // parallel), then the pulls and the events subscription, then a sweep of anything left with
  // the instance's label, then the network.
  yield* Effect.acquireRelease(engine.createNetwork({ name: networkName, driver: "bridge", labels }), () =>
    Teardown.removeNetworkOrLog(engine, networkName)
  )
  // The instance's volumes go after every container (the sweep runs first) and before the network.
  const volumes = Volumes.make(keys, { app, instanceId, labels, userLabels: options.labels })
  yield* Effect.addFinalizer(() => Teardown.removeInstanceVolumesOrLog(engine, volumes.ofInstance))
  yield* Effect.addFinalizer(() =>
    Teardown.sweepInstance({ engine, teardown }, { [keys.instance]: instanceId })
  )

  const startedAt = yield* Clock.currentTimeMillis
  const events = yield* Events.make(engine, {
    labels: { [keys.instance]: instanceId },
    // A little before now: the first connection replays what happened while it was opening.
    sinceNano: BigInt(startedAt - 1000) * 1_000_000n,
    reconnect: options.eventsReconnect
  })
  const pulls = yield* Pulls.make(engine, {
    initial: PullProgress.empty,
    update: PullProgress.update,
    bytesDone: (aggregate) => aggregate.bytesDone
  })
  const lifecycles = yield* FiberSet.make<ContainerState.ContainerState, RunError>()

  const instance: Container.Instance = {
    engine,
    app,
    instanceId,
    network: networkName,
    labels,
    componentLabel: keys.component,
    events,
    pulls,
    teardown,
    supervised,
    volumeName: volumes.volumeName,
    volumeLabels: volumes.volumeLabels,
    stats
  }

  const { run, start } = Lifecycles.make(instance, lifecycles, {
    labelPrefix: options.labelPrefix,
    publishedHost
  })

  const filterOf = (selector: Selector | undefined): LabelFilter => {
    const chosen = selector ?? thisInstance()
    return {
      ...chosen.labels,
      [keys.app]: app,
      ...(chosen.scope === "instance" ? { [keys.instance]: instanceId } : {}),
      ...(chosen.component === undefined ? {} : { [keys.component]: chosen.component })
    }
  }

  const list = (selector?: Selector) => engine.listContainers({ all: true, labels: filterOf(selector) })

  const isRunning = (selector?: Selector) =>
    list(selector).pipe(
      Effect.map((containers) =>
        containers.some((summary) => summary.state === "running" || summary.state === "restarting")
      )
    )

  const remove = Effect.fn("Supervisor.remove")(function* (selector?: Selector) {
    const containers = yield* list(selector)
    // Explicit, so allowed; but the owners keep running and see their containers go.
    yield* Teardown.warnLiveOwners(Teardown.liveOwners(keys, containers, instanceId))
    return yield* Teardown.removeContainers({ engine, teardown }, containers, yield* Ref.get(supervised))
  })

  const removeStale = Effect.fn("Supervisor.removeStale")(function* () {
    const isStale = (itemLabels: Readonly<Record<string, string>>) => {
      if (itemLabels[keys.instance] === instanceId) return false
      const owner = itemLabels[keys.owner]
      return owner !== undefined && Labels.isOwnerGone(owner)
    }
    const containers = yield* engine.listContainers({ all: true, labels: { [keys.app]: app } })
    const staleContainers = containers.filter((container) => isStale(container.labels))
    yield* Teardown.removeContainers({ engine, teardown }, staleContainers, yield* Ref.get(supervised))
    const networks = yield* engine.listNetworks({ labels: { [keys.app]: app } })
    const staleNetworks = networks.filter((network) => isStale(network.labels))
    yield* Teardown.removeNetworks(engine, staleNetworks)
    // `app` volumes carry no instance or owner: only an explicit `removeAppVolumes` removes them.
    const instanceScoped = yield* engine.listVolumes({ labels: volumes.instanceScoped })
    const staleVolumes = instanceScoped.filter((volume) => isStale(volume.labels))
    yield* Teardown.removeVolumes(engine, staleVolumes)
    return {
      containers: staleContainers.length,
      networks: staleNetworks.length,
      volumes: staleVolumes.length
    }
  })()

  const removeAppVolumes = Effect.fn("Supervisor.removeAppVolumes")(function* (
    names?: ReadonlyArray<string>
  ) {
    return yield* Volumes.removeAppVolumes(engine, keys, app, names)
  })

  yield* Effect.logDebug("supervisor instance ready").pipe(Effect.annotateLogs({ app, instance: instanceId }))

  return Supervisor.of({
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
    eventsConnections: events.connections
  })
})

/**
 * The Supervisor as a scoped layer: releasing it stops and removes every container of the
 * instance (in parallel, bounded by `teardownConcurrency`), then its network.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(Supervisor.layer({ app: "demo" })), Effect.provide(DockerEngine.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<Supervisor, DockerError | ContainerSpec.InvalidSpec, DockerEngine> =>
  Layer.effect(Supervisor, make(options))

/**
 * Removes an app's shared (`app`-scoped) volumes, those named or all of them, without starting
 * a Supervisor instance (no network is created): what `docker compose down --volumes` does for
 * a project. Answers how many were removed; a volume still in use fails with `Conflict`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor } from "effect-docker"
 *
 * const removed = Supervisor.removeAppVolumesOf({ app: "shop" }) // Effect<number, DockerError, DockerEngine>
 * ```
 *
 * @category instances
 * @since 0.2.0
 */
export const removeAppVolumesOf = Effect.fn("Supervisor.removeAppVolumesOf")(function* (options: {
  readonly app: string
  readonly labelPrefix?: string | undefined
  readonly names?: ReadonlyArray<string> | undefined
}) {
  const engine = yield* DockerEngine
  return yield* Volumes.removeAppVolumes(engine, Labels.keys(options.labelPrefix), options.app, options.names)
})

export {
  /**
   * @category swarm
   */
  layerSwarm,
  /**
   * @category models
   */
  type SwarmOptions,
  /**
   * @category swarm
   */
  serviceLogs
} from "./internal/swarm/layer.js"
