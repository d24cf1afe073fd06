/**
 * Containers as scoped resources, with one merged, typed state stream each.
 *
 * A Supervisor instance owns a labelled bridge network, one engine events subscription
 * shared by all its containers, and every container it runs: releasing its layer stops and
 * removes them all in parallel (each with its own stop timeout), then the network.
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
  Cause,
  Clock,
  Context,
  Effect,
  Exit,
  Fiber,
  FiberSet,
  Layer,
  Option,
  Queue,
  Ref,
  type Schedule,
  Scope,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import * as ContainerSpec from "./ContainerSpec.js"
import * as ContainerState from "./ContainerState.js"
import {
  type ContainerSummary,
  DockerEngine,
  type LabelFilter,
  type LogLine,
  type LogsOptions
} from "./DockerEngine.js"
import type { DockerError } from "./DockerError.js"
import * as Labels from "./internal/labels.js"
import * as PullProgress from "./internal/pullProgress.js"
import * as Container from "./internal/supervisorContainer.js"
import {
  type CopyError,
  type CreateError,
  NotReadyError,
  type PullError,
  type StartError,
  type WaitError
} from "./internal/supervisorErrors.js"
import * as Events from "./internal/supervisorEvents.js"
import * as Pulls from "./internal/supervisorPulls.js"

export {
  /** @since 0.1.0 */
  CopyError,
  /** @since 0.1.0 */
  CreateError,
  /** @since 0.1.0 */
  NotReadyError,
  /** @since 0.1.0 */
  PullError,
  /** @since 0.1.0 */
  StartError,
  /** @since 0.1.0 */
  WaitError
} from "./internal/supervisorErrors.js"

/**
 * Metrics: supervised containers running now (gauge), restarts made by restart policies
 * and bytes downloaded by pulls (counters), over every instance of this process.
 *
 * @example
 * ```ts
 * const running = yield* Metric.value(Supervisor.metrics.containersRunning)
 * ```
 *
 * @since 0.1.0
 */
export const metrics = {
  containersRunning: Container.containersRunning,
  restarts: Container.restarts,
  pullBytes: Pulls.pullBytes
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
  /** The backoff between reconnections of the events subscription (default: exponential from 100 ms, jittered, capped at 10 s). */
  readonly eventsReconnect?: Schedule.Schedule<unknown, DockerError> | undefined
}

/** The teardown semaphore's permits: a bound of at least 1, or as many as there can be containers. */
const teardownPermits = (concurrency: Options["teardownConcurrency"]): number =>
  concurrency === undefined || concurrency === "unbounded" || !Number.isFinite(concurrency)
    ? Number.MAX_SAFE_INTEGER
    : Math.max(1, Math.floor(concurrency))

/**
 * Which containers `list`, `isRunning` and `remove` act on: this instance's or those of every
 * instance of the app, optionally narrowed to one component or to extra labels.
 *
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
 * @since 0.1.0
 */
export const allInstances = (options?: Omit<Selector, "scope">): Selector => ({ scope: "app", ...options })

/**
 * A container running in the background of a scope (see `start`).
 *
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
  /** The container's output. */
  readonly logs: (options?: LogsOptions) => Stream.Stream<LogLine, DockerError>
  /** The final state: `exited`, with the exit code, after restarts (or the state at `stop`). */
  readonly await: Effect.Effect<ContainerState.ContainerState, RunError>
}

/**
 * What `removeStale` removed.
 *
 * @since 0.1.0
 */
export interface Removed {
  readonly containers: number
  readonly networks: number
}

/**
 * The Supervisor service.
 *
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
   * (`started`, `healthy`, a log line, `exited`; default `healthy` when it has a healthcheck,
   * else `started`). Closing the scope stops and removes it; the handles of one scope are
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
   * Removes the containers and networks of this app's instances whose owning process is gone
   * (on this host). Live instances, other hosts' instances and foreign containers are kept.
   */
  readonly removeStale: Effect.Effect<Removed, DockerError>
  /** How many times the shared events subscription has connected (1 unless it dropped). */
  readonly eventsConnections: Effect.Effect<number>
}

/**
 * The Supervisor service tag.
 *
 * @since 0.1.0
 */
export class Supervisor extends Context.Service<Supervisor, SupervisorShape>()("effect-docker/Supervisor") {}

const isRunningState = (summary: ContainerSummary) =>
  summary.state === "running" || summary.state === "restarting"

/** Whether a state satisfies a readiness condition, cannot any more, or not yet. */
const judgeReadiness = (
  readiness: ContainerSpec.Readiness | undefined,
  state: ContainerState.ContainerState
): "ready" | "waiting" | { readonly outcome: string } => {
  if (readiness === "exited") return state.status === "exited" ? "ready" : "waiting"
  if (state.status === "exited") return { outcome: `exited with code ${state.exitCode ?? "unknown"}` }
  if (readiness === "started") return state.status === "running" ? "ready" : "waiting"
  if (state.health === "unhealthy") return { outcome: "unhealthy" }
  if (readiness === "healthy") return state.health === "healthy" ? "ready" : "waiting"
  if (readiness === undefined) {
    if (state.status !== "running") return "waiting"
    return state.health === "none" || state.health === "healthy" ? "ready" : "waiting"
  }
  // A log line: the state says only that the container runs; the logs decide.
  return "waiting"
}

const describeReadiness = (readiness: ContainerSpec.Readiness | undefined): string => {
  if (readiness === undefined) return "ready"
  if (typeof readiness === "string") return readiness
  return `ready (log line ${String(readiness.logLine)})`
}

const matchesLine = (pattern: string | RegExp, text: string) =>
  typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)

/**
 * Builds a Supervisor instance in the current scope: its network, its events
 * subscription, and the release of everything it runs when the scope closes.
 *
 * @example
 * ```ts
 * const supervisor = yield* Supervisor.make({ app: "demo" })
 * ```
 *
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
  const teardown = yield* Semaphore.make(teardownPermits(options.teardownConcurrency))
  const supervised = yield* Ref.make<ReadonlyMap<string, Fiber.Fiber<unknown, unknown>>>(new Map())
  const networkName = `${app}-${instanceId}`

  // Everything below is released in reverse: running containers first (in parallel), then
  // the events subscription, then a sweep of anything left with the instance's labels, then
  // the network.
  yield* Effect.acquireRelease(engine.createNetwork({ name: networkName, driver: "bridge", labels }), () =>
    // Right after a large teardown the engine can still hold endpoints of containers it has
    // removed ("has active endpoints", a Conflict): retried. dockerd 20.10 sometimes keeps such
    // an endpoint for good (moby/moby#43286, only a daemon restart clears it): logged.
    Container.removeOrLog(engine.removeNetwork(networkName), {
      what: "the network",
      ...Container.networkRemoval
    })
  )
  const sweep = Effect.gen(function* () {
    const left = yield* engine.listContainers({ all: true, labels: { [keys.instance]: instanceId } })
    yield* Effect.forEach(
      left,
      (container) =>
        Container.stopAndRemove({ engine, teardown }, container.id, {
          running: container.state !== "exited" && container.state !== "created"
        }),
      {
        concurrency: "unbounded",
        discard: true
      }
    )
  }).pipe(
    Effect.catchTag("DockerError", (error) =>
      Effect.logError("could not list the instance's containers", error.message)
    )
  )
  yield* Effect.addFinalizer(() => sweep)

  const startedAt = yield* Clock.currentTimeMillis
  const events = yield* Events.make(engine, {
    labels: { [keys.instance]: instanceId },
    // A little before now: the first connection replays what happened while it was opening.
    since: startedAt / 1000 - 1,
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
    supervised
  }

  /** Forks a container's lifecycle into the instance (released with it). */
  const supervise = (
    spec: ContainerSpec.ContainerSpec,
    publish: (state: ContainerState.ContainerState) => Effect.Effect<void>
  ) => FiberSet.run(lifecycles, Effect.scoped(Container.run(instance, spec, publish)))

  const run = (input: ContainerSpec.Input): Stream.Stream<ContainerState.ContainerState, RunError> =>
    Stream.callback<ContainerState.ContainerState, RunError>((queue) =>
      Effect.gen(function* () {
        const spec = yield* ContainerSpec.validate(input, { labelPrefix: options.labelPrefix })
        const fiber = yield* supervise(spec, (state) => Queue.offer(queue, state).pipe(Effect.asVoid))
        // The consumer went away (take, interrupt, scope close): stop and remove, and wait for it.
        yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
        const exit = yield* Fiber.await(fiber)
        if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
          yield* Queue.end(queue)
        } else {
          yield* Queue.failCause(queue, exit.cause)
        }
      })
    )

  // Effect closes a scope's finalizers one after another; the handles started in one scope
  // share a child scope that closes its finalizers in parallel, so N handles go down in
  // about one stop timeout.
  const stopGroups = new WeakMap<Scope.Scope, Scope.Closeable>()
  const stopGroup = (scope: Scope.Scope) =>
    Effect.suspend(() => {
      const existing = stopGroups.get(scope)
      if (existing !== undefined) return Effect.succeed(existing)
      return Scope.fork(scope, "parallel").pipe(
        Effect.tap((group) => Effect.sync(() => stopGroups.set(scope, group)))
      )
    })

  const start = Effect.fn("Supervisor.start")(function* (input: ContainerSpec.Input) {
    const spec = yield* ContainerSpec.validate(input, { labelPrefix: options.labelPrefix })
    const latest = yield* SubscriptionRef.make(ContainerState.initial(spec.name, spec.image))
    const fiber = yield* supervise(spec, (state) => SubscriptionRef.set(latest, state))
    const group = yield* stopGroup(yield* Effect.scope)
    yield* Scope.addFinalizer(group, Fiber.interrupt(fiber))

    const notReady = (state: ContainerState.ContainerState, outcome: string) =>
      new NotReadyError({
        component: spec.name,
        image: spec.image,
        ...(state.id === undefined ? {} : { containerId: state.id }),
        readiness: describeReadiness(spec.readiness),
        outcome,
        lastLogLines: state.lastLogLines
      })
    const firstState = (
      judge: (state: ContainerState.ContainerState) => "ready" | "waiting" | { readonly outcome: string }
    ) =>
      SubscriptionRef.changes(latest).pipe(
        Stream.map((state) => [state, judge(state)] as const),
        Stream.filter(([, verdict]) => verdict !== "waiting"),
        Stream.runHead,
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.die("the state stream ended"),
            onSome: ([state, verdict]) =>
              typeof verdict === "object"
                ? Effect.fail(notReady(state, verdict.outcome))
                : Effect.succeed(state)
          })
        )
      )
    const readiness = spec.readiness
    const ready: Effect.Effect<ContainerState.ContainerState, NotReadyError | DockerError> =
      typeof readiness === "object"
        ? Effect.gen(function* () {
            const running = yield* firstState((state) =>
              state.status === "running" ? "ready" : judgeReadiness("started", state)
            )
            const since =
              running.startedAt === undefined ? undefined : Math.floor(running.startedAt.getTime() / 1000)
            const id = running.id ?? ""
            const line = engine.logs(id, { follow: true, ...(since === undefined ? {} : { since }) }).pipe(
              Stream.filter((line) => matchesLine(readiness.logLine, line.text)),
              Stream.runHead,
              Effect.flatMap(() => SubscriptionRef.get(latest))
            )
            return yield* Effect.raceFirst(
              line,
              firstState((state) =>
                state.status === "exited" ? judgeReadiness("started", state) : "waiting"
              )
            )
          })
        : firstState((state) => judgeReadiness(readiness, state))

    // The lifecycle failing (pull, create, ...) before readiness fails `start` with its error.
    const failed = Fiber.await(fiber).pipe(
      Effect.flatMap((exit) =>
        Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? Effect.failCause(exit.cause)
          : Effect.never
      )
    )
    const readyState = yield* Effect.raceFirst(ready, failed).pipe(
      Effect.catchTag("DockerError", (cause) =>
        Effect.fail(
          notReady(SubscriptionRef.getUnsafe(latest), `its logs could not be read: ${cause.message}`)
        )
      ),
      Effect.onError(() => Fiber.interrupt(fiber))
    )
    const id = readyState.id ?? ""
    const handle: ContainerHandle = {
      id,
      name: Container.containerName(instance, spec.name),
      state: SubscriptionRef.get(latest),
      states: SubscriptionRef.changes(latest).pipe(Stream.takeUntil((state) => state.status === "exited")),
      stop: Fiber.interrupt(fiber),
      logs: (options) => engine.logs(id, options),
      await: Fiber.await(fiber).pipe(
        Effect.flatMap((exit) => {
          if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
          if (Cause.hasInterruptsOnly(exit.cause)) return SubscriptionRef.get(latest)
          return Effect.failCause(exit.cause)
        })
      )
    }
    return handle
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
    list(selector).pipe(Effect.map((containers) => containers.some(isRunningState)))

  /** Stops and removes containers: through their lifecycle when this instance supervises them. */
  const removeAll = (containers: ReadonlyArray<ContainerSummary>) =>
    Effect.gen(function* () {
      const owned = yield* Ref.get(supervised)
      yield* Effect.forEach(
        containers,
        (container) => {
          const lifecycle = owned.get(container.id)
          return lifecycle === undefined
            ? Container.stopAndRemove({ engine, teardown }, container.id, {
                running: container.state !== "exited" && container.state !== "created"
              })
            : Fiber.interrupt(lifecycle)
        },
        { concurrency: "unbounded", discard: true }
      )
      return containers.length
    })

  const remove = Effect.fn("Supervisor.remove")(function* (selector?: Selector) {
    return yield* removeAll(yield* list(selector))
  })

  const removeStale = Effect.gen(function* () {
    const isStale = (itemLabels: Readonly<Record<string, string>>) => {
      if (itemLabels[keys.instance] === instanceId) return false
      const owner = itemLabels[keys.owner]
      return owner !== undefined && Labels.isOwnerGone(owner)
    }
    const containers = yield* engine.listContainers({ all: true, labels: { [keys.app]: app } })
    const staleContainers = containers.filter((container) => isStale(container.labels))
    yield* removeAll(staleContainers)
    const networks = yield* engine.listNetworks({ labels: { [keys.app]: app } })
    const staleNetworks = networks.filter((network) => isStale(network.labels))
    yield* Effect.forEach(
      staleNetworks,
      (network) => Container.retryRemoval(engine.removeNetwork(network.id), Container.networkRemoval),
      { concurrency: "unbounded", discard: true }
    )
    return { containers: staleContainers.length, networks: staleNetworks.length }
  }).pipe(Effect.withSpan("Supervisor.removeStale"))

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
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<Supervisor, DockerError | ContainerSpec.InvalidSpec, DockerEngine> =>
  Layer.effect(Supervisor, make(options))
