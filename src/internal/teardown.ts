/**
 * How the library takes things down, in one place: the order (containers, then volumes, then networks),
 * the parallelism (every container at once unless `teardownConcurrency` bounds it; the start
 * handles of one scope as one parallel group), the retries of a removal that a busy or
 * restarting engine refused (and their budgets), and what is logged (a removal still refused,
 * the live owners whose containers a `remove` stops).
 *
 * The Supervisor's release, `remove` and `removeStale`, a container's own release
 * (`internal/supervisorContainer.ts`) and the CLI's `down` and `sweep` (through
 * `Supervisor.tearDown`) all call this module; none of them stops or removes by itself.
 *
 * A Supervisor instance is released in this order (its finalizers, last registered first):
 * the running lifecycles (each stops and removes its container, all in parallel), the pulls,
 * the events subscription, {@link sweepInstance} (whatever is left with the instance's label),
 * {@link removeInstanceVolumesOrLog} (the `instance`-scoped volumes, once no container holds
 * them), then {@link removeNetworkOrLog} of the instance network.
 *
 * @internal
 */
import { Effect, Fiber, Schedule, Scope, type Semaphore } from "effect"
import type { ContainerSummary, DockerEngineShape, LabelFilter } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as Labels from "./labels.js"

/** What a teardown needs: the engine, and the semaphore bounding how many stops run at once. @internal */
export interface Teardown {
  readonly engine: DockerEngineShape
  /** Bounds how many stops and removals run at once (`teardownConcurrency`). */
  readonly teardown: Semaphore.Semaphore
}

/** The teardown semaphore's permits: a bound of at least 1, or as many as there can be containers. @internal */
export const permits = (concurrency: number | "unbounded" | undefined): number =>
  concurrency === undefined || concurrency === "unbounded" || !Number.isFinite(concurrency)
    ? Number.MAX_SAFE_INTEGER
    : Math.max(1, Math.floor(concurrency))

/** The short id Docker shows, for logs. @internal */
export const shortId = (id: string): string => id.slice(0, 12)

const ignoreNotFound = <A>(effect: Effect.Effect<A, DockerError>): Effect.Effect<void, DockerError> =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchTag("DockerError", (error) =>
      error.reason === "NotFound" ? Effect.void : Effect.fail(error)
    )
  )

const transientReasons: ReadonlySet<DockerError["reason"]> = new Set([
  "Unavailable",
  "Timeout",
  "ServerError"
])

/** How a removal is retried: how often, and on which reason besides a busy or restarting engine. @internal */
export interface RemovalRetry {
  readonly times: number
  /** E.g. `Conflict`: a network's "active endpoints" while the engine still cleans up. */
  readonly alsoRetry?: DockerError["reason"]
}

/**
 * A removal that does not give up on a busy or restarting engine (or on `alsoRetry`): retried
 * `times` times, 200 ms doubling (5 tries: about 6 s, long enough for an engine restart or a
 * stall, short enough for a teardown; 6: about 12.6 s). NotFound counts as removed.
 *
 * @internal
 */
export const retryRemoval = (
  removal: Effect.Effect<unknown, DockerError>,
  retry: RemovalRetry
): Effect.Effect<void, DockerError> =>
  ignoreNotFound(removal).pipe(
    Effect.retry({
      schedule: Schedule.exponential("200 millis"),
      times: retry.times,
      while: (error) => transientReasons.has(error.reason) || error.reason === retry.alsoRetry
    })
  )

/**
 * How a network is removed after its containers: six tries (about 12.6 s), also while the
 * engine still holds endpoints of the containers it has just removed.
 *
 * @internal
 */
export const networkRemoval: RemovalRetry = { times: 6, alsoRetry: "Conflict" }

/** How a container is removed: five tries (about 6 s). @internal */
export const containerRemoval: RemovalRetry = { times: 5 }

/** {@link retryRemoval}, then what is still refused is logged as "could not remove <what>", never failed. @internal */
export const removeOrLog = (
  removal: Effect.Effect<unknown, DockerError>,
  options: RemovalRetry & { readonly what: string }
): Effect.Effect<void> =>
  retryRemoval(removal, options).pipe(
    Effect.catchTag("DockerError", (error) =>
      Effect.logError(`could not remove ${options.what}`, error.message)
    )
  )

/** Whether a listed container may run: anything but `exited` and `created` gets a stop first. @internal */
export const mayRun = (container: Pick<ContainerSummary, "state">): boolean =>
  container.state !== "exited" && container.state !== "created"

/** How {@link stopAndRemove} treats one container. @internal */
export interface StopOptions {
  /** Seconds; the container's own stop timeout when absent. */
  readonly stopTimeout?: number | undefined
  /** `false` when the container is known not to run: it is removed without a stop. */
  readonly running?: boolean | undefined
}

/**
 * Stops (the stop signal, then a kill after `stopTimeout` seconds) and removes a container.
 * Never fails: errors are logged, the removal is forced anyway. Bounded by the instance's
 * teardown semaphore so that N containers go down in parallel, `concurrency` at a time.
 *
 * @internal
 */
export const stopAndRemove = Effect.fn("Supervisor.stopAndRemove")(
  function* (teardown: Teardown, id: string, options: StopOptions) {
    yield* Effect.annotateCurrentSpan("container", shortId(id))
    if (options.running !== false) {
      // A stop of a container that is not running answers 304, which is fine: the removal follows.
      yield* teardown.engine
        .stopContainer(id, options.stopTimeout === undefined ? undefined : { timeout: options.stopTimeout })
        .pipe(Effect.ignore)
    }
    yield* removeOrLog(teardown.engine.removeContainer(id, { force: true, volumes: true }), {
      what: "the container",
      ...containerRemoval
    })
  },
  (effect, teardown: Teardown, id: string) =>
    effect.pipe(teardown.teardown.withPermits(1), Effect.annotateLogs({ container: shortId(id) }))
)

/**
 * Stops and removes listed containers, all at once (each waits for a permit of the
 * semaphore): a container a lifecycle of this instance supervises goes through its lifecycle
 * (interrupted, it stops and removes its container and publishes its last state), any other
 * directly. Returns how many.
 *
 * @internal
 */
export const removeContainers = (
  teardown: Teardown,
  containers: ReadonlyArray<ContainerSummary>,
  supervised: ReadonlyMap<string, Fiber.Fiber<unknown, unknown>>
): Effect.Effect<number> =>
  Effect.forEach(
    containers,
    (container) => {
      const lifecycle = supervised.get(container.id)
      return lifecycle === undefined
        ? stopAndRemove(teardown, container.id, { running: mayRun(container) })
        : Fiber.interrupt(lifecycle)
    },
    { concurrency: "unbounded", discard: true }
  ).pipe(Effect.as(containers.length))

/** Removes networks (after their containers), all at once, each retried as {@link networkRemoval}. @internal */
export const removeNetworks = (
  engine: DockerEngineShape,
  networks: ReadonlyArray<{ readonly id: string }>
): Effect.Effect<void, DockerError> =>
  Effect.forEach(networks, (network) => retryRemoval(engine.removeNetwork(network.id), networkRemoval), {
    concurrency: "unbounded",
    discard: true
  })

/**
 * The instance network's release, after every container: retried while the engine still
 * holds endpoints of containers it has just removed ("has active endpoints", a Conflict).
 * dockerd 20.10 sometimes keeps such an endpoint for good (moby/moby#43286, only a daemon
 * restart clears it): logged, never failed.
 *
 * @internal
 */
export const removeNetworkOrLog = (engine: DockerEngineShape, network: string): Effect.Effect<void> =>
  removeOrLog(engine.removeNetwork(network), { what: "the network", ...networkRemoval })

/**
 * The instance's last sweep, before its network goes: anything still carrying the instance's
 * label (a container whose lifecycle could not remove it, one created behind its back) is
 * stopped and removed. A failed listing is logged.
 *
 * @internal
 */
export const sweepInstance = (teardown: Teardown, labels: LabelFilter): Effect.Effect<void> =>
  teardown.engine.listContainers({ all: true, labels }).pipe(
    Effect.flatMap((left) =>
      Effect.forEach(
        left,
        (container) => stopAndRemove(teardown, container.id, { running: mayRun(container) }),
        {
          concurrency: "unbounded",
          discard: true
        }
      )
    ),
    Effect.catchTag("DockerError", (error) =>
      Effect.logError("could not list the instance's containers", error.message)
    )
  )

/** How a volume is removed after its containers: retried while the engine still holds it ("in use", a Conflict). @internal */
export const volumeRemoval: RemovalRetry = { times: 6, alsoRetry: "Conflict" }

/**
 * How a volume is removed on request (`removeAppVolumes`): a volume in use is refused at once,
 * its containers are not going away by themselves.
 *
 * @internal
 */
export const requestedVolumeRemoval: RemovalRetry = { times: 5 }

/** Removes volumes, all at once, each retried as `retry` says (default {@link volumeRemoval}). @internal */
export const removeVolumes = (
  engine: DockerEngineShape,
  volumes: ReadonlyArray<{ readonly name: string }>,
  retry: RemovalRetry = volumeRemoval
): Effect.Effect<void, DockerError> =>
  Effect.forEach(volumes, (volume) => retryRemoval(engine.removeVolume(volume.name), retry), {
    concurrency: "unbounded",
    discard: true
  })

/**
 * The instance's volumes (`instance` scope), after its containers and before its network:
 * listed by the instance's label and removed; what is refused is logged, never failed.
 *
 * @internal
 */
export const removeInstanceVolumesOrLog = (
  engine: DockerEngineShape,
  labels: LabelFilter
): Effect.Effect<void> =>
  engine.listVolumes({ labels }).pipe(
    Effect.flatMap((volumes) =>
      Effect.forEach(
        volumes,
        (volume) =>
          removeOrLog(engine.removeVolume(volume.name), {
            what: `the volume ${volume.name}`,
            ...volumeRemoval
          }),
        { concurrency: "unbounded", discard: true }
      )
    ),
    Effect.catchTag("DockerError", (error) =>
      Effect.logError("could not list the instance's volumes", error.message)
    )
  )

/**
 * Closing a scope runs its finalizers one after another; the start handles of one scope
 * share a child scope that closes its finalizers in parallel, so N handles go down in about
 * one stop timeout. Returns the group of a scope (made on first use).
 *
 * @internal
 */
export const makeStopGroups = (): ((scope: Scope.Scope) => Effect.Effect<Scope.Closeable>) => {
  const groups = new WeakMap<Scope.Scope, Scope.Closeable>()
  return (scope) =>
    Effect.suspend(() => {
      const existing = groups.get(scope)
      if (existing !== undefined) return Effect.succeed(existing)
      return Scope.fork(scope, "parallel").pipe(
        Effect.tap((group) => Effect.sync(() => groups.set(scope, group)))
      )
    })
}

/**
 * What `down` and `sweep` remove: containers found by their labels (each stopped with its
 * own stop timeout when it runs, then force-removed, the two retried together), all at once,
 * then the networks. Already gone counts as removed: a running `up` may be removing them too.
 * The first removal still refused after its retries fails the whole.
 *
 * @internal
 */
export const removeFound = (
  engine: DockerEngineShape,
  found: {
    readonly containers: ReadonlyArray<Pick<ContainerSummary, "id" | "state">>
    readonly networks: ReadonlyArray<{ readonly id: string }>
  }
): Effect.Effect<void, DockerError> =>
  Effect.gen(function* () {
    yield* Effect.forEach(
      found.containers,
      (container) =>
        retryRemoval(
          (container.state === "running" || container.state === "restarting"
            ? engine.stopContainer(container.id)
            : Effect.void
          ).pipe(Effect.andThen(engine.removeContainer(container.id, { force: true }))),
          containerRemoval
        ),
      { concurrency: "unbounded", discard: true }
    )
    yield* removeNetworks(engine, found.networks)
  })

/** One instance whose containers a removal stops while its owner may still run. @internal */
export interface LiveOwner {
  readonly instance: string
  /** The owner label (`hostname/pid/startedAt`). */
  readonly owner: string
  readonly containers: number
}

/**
 * The instances among `containers`, other than `self`, whose owner is not known to be gone:
 * alive on this host, or on another host (which cannot be asked). Containers without an
 * owner label are not counted.
 *
 * @internal
 */
export const liveOwners = (
  keys: Labels.LabelKeys,
  containers: ReadonlyArray<Pick<ContainerSummary, "labels">>,
  self: string
): ReadonlyArray<LiveOwner> => {
  const byInstance = new Map<string, LiveOwner>()
  for (const { labels } of containers) {
    const instance = labels[keys.instance]
    const owner = labels[keys.owner]
    if (instance === undefined || instance === self || owner === undefined || Labels.isOwnerGone(owner))
      continue
    const known = byInstance.get(instance)
    byInstance.set(instance, { instance, owner, containers: (known?.containers ?? 0) + 1 })
  }
  return [...byInstance.values()]
}

/**
 * Says, as a warning, which live owners a removal affects: their processes keep running and
 * see their containers exit. Nothing is logged when there are none.
 *
 * @internal
 */
export const warnLiveOwners = (owners: ReadonlyArray<LiveOwner>): Effect.Effect<void> =>
  owners.length === 0
    ? Effect.void
    : Effect.logWarning(
        `removing the containers of ${owners.length} other live instance(s): ${owners
          .map((owner) => `${owner.instance} (owner ${owner.owner}, ${owner.containers} container(s))`)
          .join(", ")}`
      )
