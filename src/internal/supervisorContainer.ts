/**
 * The lifecycle of one supervised container: pull, create, copy, start, observe (events,
 * health, stats), wait for the exit, restart as the policy says, and, however it ends
 * (exit, failure, interruption), stop and remove the container (as `internal/teardown.ts`
 * says how).
 *
 * @internal
 */
import {
  Clock,
  Duration,
  Effect,
  type Fiber,
  Metric,
  Option,
  Ref,
  type Scope,
  type Semaphore,
  Stream
} from "effect"
import * as ContainerSpec from "../ContainerSpec.js"
import * as ContainerState from "../ContainerState.js"
import type { DockerEngineShape, EngineEvent } from "../DockerEngine.js"
import * as RestartPolicy from "../RestartPolicy.js"
import * as Transitions from "./containerState.js"
import type * as PullProgress from "./pullProgress.js"
import * as Stats from "./stats.js"
import * as Address from "./supervisorAddress.js"
import { CopyError, CreateError, PullError, StartError, WaitError } from "./supervisorErrors.js"
import type { InstanceEvents } from "./supervisorEvents.js"
import type { Pulls } from "./supervisorPulls.js"
import type { StatsStreams } from "./supervisorStats.js"
import * as Teardown from "./teardown.js"

/** What a container's lifecycle needs from its Supervisor instance. @internal */
export interface Instance {
  readonly engine: DockerEngineShape
  readonly app: string
  readonly instanceId: string
  /** The instance's bridge network (name). */
  readonly network: string
  /** Labels every container of the instance carries (app, instance, owner, extra). */
  readonly labels: Readonly<Record<string, string>>
  /** The label key naming a container's component. */
  readonly componentLabel: string
  readonly events: InstanceEvents
  readonly pulls: Pulls<PullProgress.PullAggregate>
  /** Bounds how many stops and removals run at once (see `internal/teardown.ts`). */
  readonly teardown: Semaphore.Semaphore
  /** Containers this instance supervises right now, by id, for `remove`. */
  readonly supervised: Ref.Ref<ReadonlyMap<string, Fiber.Fiber<unknown, unknown>>>
  /** The engine's name of a spec's named volume in its scope. */
  readonly volumeName: (source: string, scope: ContainerSpec.VolumeScope) => string
  /** The labels a volume of the scope is created with (`external` ones are never created). */
  readonly volumeLabels: (scope: "instance" | "app") => Readonly<Record<string, string>>
  /** Where each container's stats come from (`internal/supervisorStats.ts`). */
  readonly stats: StatsStreams
}

/**
 * The spec's named volumes, before its container is created: `instance` and `app` ones are
 * created with their `volumeOptions` and their scope's labels (an existing one is used as it
 * is), `external` ones must exist (the engine would otherwise create an unlabelled one that
 * nothing removes).
 */
const ensureVolumes = (instance: Instance, spec: ContainerSpec.ContainerSpec) =>
  Effect.forEach(
    [
      ...new Map(
        (spec.mounts ?? []).flatMap((mount) =>
          mount.type === "volume" && mount.source !== undefined
            ? [
                [
                  instance.volumeName(mount.source, mount.scope ?? "instance"),
                  { scope: mount.scope ?? "instance", options: mount.volumeOptions }
                ] as const
              ]
            : []
        )
      )
    ],
    ([name, { scope, options }]) =>
      scope === "external"
        ? instance.engine.inspectVolume(name)
        : instance.engine.createVolume({
            name,
            // The supervisor's labels last: they decide the volume's scope and removal.
            labels: { ...options?.labels, ...instance.volumeLabels(scope) },
            ...(options?.driver === undefined ? {} : { driver: options.driver }),
            ...(options?.driverOptions === undefined ? {} : { driverOptions: options.driverOptions })
          }),
    { concurrency: "unbounded", discard: true }
  )

/** The errors of the steps after validation. @internal */
export type StepError = PullError | CreateError | CopyError | StartError | WaitError

/** Containers of every instance in this process that are running now. */
export const containersRunning = Metric.gauge("effect_docker_containers_running", {
  description: "Supervised containers currently running"
})

/** Restarts made by restart policies. */
export const restarts = Metric.counter("effect_docker_restarts", {
  description: "Container restarts made by the supervisor's restart policies",
  incremental: true
})

/** `<app>-<instance>-<name>`. @internal */
export const containerName = (instance: Pick<Instance, "app" | "instanceId">, component: string): string =>
  `${instance.app}-${instance.instanceId}-${component}`

/** Milliseconds since the epoch of an engine time; `undefined` for Go's zero time. */
const epochMillis = (iso: string): number | undefined => {
  const millis = Date.parse(iso)
  return Number.isNaN(millis) || millis <= 0 ? undefined : millis
}

/** The engine's health status (`starting`, `healthy`, `unhealthy`) as the state's. */
const toHealth = (status: string | undefined): ContainerState.Health => {
  if (status === "starting" || status === "healthy" || status === "unhealthy") return status
  return "none"
}

/** `health_status: healthy` → `healthy`; other actions → nothing. */
const healthOf = (event: EngineEvent): ContainerState.Health | undefined => {
  if (!event.action.startsWith("health_status")) return undefined
  return toHealth(event.action.slice(event.action.indexOf(":") + 1).trim())
}

interface RunExit {
  readonly exitCode: number
  /** Milliseconds since the epoch. */
  readonly finishedAt: number
  readonly ranFor: Duration.Duration
  readonly lastLogLines: ReadonlyArray<string>
}

/**
 * Runs one container from a validated spec to its final exit, publishing every observed
 * state through `publish`. Returns the final (`exited`) state. The container is stopped
 * and removed when the scope closes, whether it exited, failed or was interrupted.
 *
 * @internal
 */
export const run = (
  instance: Instance,
  spec: ContainerSpec.ContainerSpec,
  publish: (state: ContainerState.ContainerState) => Effect.Effect<void>
): Effect.Effect<ContainerState.ContainerState, StepError, Scope.Scope> =>
  Effect.gen(function* () {
    const { engine } = instance
    const current = yield* Ref.make(ContainerState.initial(spec.name, spec.image))
    const update = (f: (state: ContainerState.ContainerState) => ContainerState.ContainerState) =>
      Ref.updateAndGet(current, f).pipe(Effect.flatMap(publish))
    const stopTimeout = Math.ceil(Duration.toSeconds(spec.stopTimeout))
    const fields = { component: spec.name, image: spec.image }

    // Pull: a failed pull is an error and no container is created (seed bug 7).
    yield* instance.pulls.ensure(spec.image, spec.pullPolicy, spec.registryAuth).pipe(
      Stream.runForEach((progress) => update((state) => Transitions.pulling(state, progress))),
      Effect.mapError((cause) => new PullError({ ...fields, cause }))
    )

    yield* ensureVolumes(instance, spec).pipe(
      Effect.mapError((cause) => new CreateError({ ...fields, cause }))
    )

    // Create, attached only to the instance network (never the default bridge); from here
    // on the scope owns the container, and `remove` can reach it through this fiber.
    const self = yield* Effect.fiber
    const id = yield* Effect.acquireRelease(
      engine
        .createContainer(
          ContainerSpec.toCreateOptions(spec, {
            name: containerName(instance, spec.name),
            labels: { ...instance.labels, [instance.componentLabel]: spec.name },
            network: instance.network,
            volumeName: instance.volumeName
          })
        )
        .pipe(
          Effect.map(({ id }) => id),
          Effect.tap((id) => Ref.update(instance.supervised, (owned) => new Map(owned).set(id, self))),
          Effect.mapError((cause) => new CreateError({ ...fields, cause }))
        ),
      (id) =>
        Effect.gen(function* () {
          const last = yield* Ref.get(current)
          yield* Teardown.stopAndRemove(instance, id, { stopTimeout, running: last.status === "running" })
          yield* Ref.update(instance.supervised, (owned) => {
            const rest = new Map(owned)
            rest.delete(id)
            return rest
          })
          // Stopped before its own end (interrupted, removed): the last state says it is gone.
          if (last.status !== "exited") {
            yield* update((state) =>
              Transitions.exited(state, { exitCode: undefined, lastLogLines: state.lastLogLines })
            )
          }
        })
    )
    return yield* runUntilFinalExit(instance, spec, id, current, update).pipe(
      Effect.annotateLogs({ container: Teardown.shortId(id) }),
      Effect.withSpan("Supervisor.container", {
        attributes: { container: Teardown.shortId(id), component: spec.name }
      })
    )
  }).pipe(Effect.annotateLogs({ component: spec.name }))

/**
 * From a created container to its final exit: copies the spec's files, then starts it, waits
 * for its exit and restarts it as the policy says, publishing health and stats while each
 * run lasts. Returns the final (`exited`) state.
 */
const runUntilFinalExit = (
  instance: Instance,
  spec: ContainerSpec.ContainerSpec,
  id: string,
  current: Ref.Ref<ContainerState.ContainerState>,
  update: (f: (state: ContainerState.ContainerState) => ContainerState.ContainerState) => Effect.Effect<void>
): Effect.Effect<ContainerState.ContainerState, StepError, Scope.Scope> =>
  Effect.gen(function* () {
    const { engine } = instance
    const fields = { component: spec.name, image: spec.image, containerId: id }
    // The spec's sanitizer, with its `Redacted` env values masked: kept log lines never hold a secret.
    const sanitize = ContainerSpec.sanitizer(spec)
    yield* update((state) => Transitions.created(state, id))

    // Subscribed before the first start, so no health event is missed.
    const events = yield* instance.events.subscribe(id)

    if (spec.files.length > 0) {
      yield* engine
        .copyFiles(id, spec.files)
        .pipe(Effect.mapError((cause) => new CopyError({ ...fields, cause })))
    }

    // While a run lasts: health changes from the shared events, and stats. Each source applies
    // its own updates (not one `Stream.merge`): a stats sample arrives every second for as long
    // as the container runs, and a merge would hand each one to a third fiber.
    const healthChanges = events.pipe(
      Stream.map(healthOf),
      Stream.filter((health) => health !== undefined),
      Stream.runForEach((health) => update((state) => Transitions.health(state, health)))
    )
    const statsChanges = instance.stats.stream(id, spec).pipe(
      Stream.mapAccum(
        () => Stats.initialWindow(spec.statsInterface),
        (window, sample) => {
          const [next, snapshot] = Stats.step(window, sample)
          return [next, [snapshot]]
        }
      ),
      Stream.runForEach((snapshot) => update((state) => Transitions.stats(state, snapshot))),
      // Stats are an observation, not the run: losing them must not end the container.
      Effect.catchTag("DockerError", (error) => Effect.logDebug("container stats ended", error.message))
    )
    const observe = Effect.all([healthChanges, statsChanges], { concurrency: 2, discard: true })

    // `previousExit` (ms): when the last run ended, so this run's output can be told from earlier runs'.
    const runOnce = (previousExit: number | undefined): Effect.Effect<RunExit, StartError | WaitError> =>
      Effect.scoped(
        Effect.gen(function* () {
          yield* engine
            .startContainer(id)
            .pipe(Effect.mapError((cause) => new StartError({ ...fields, cause })))
          // The running time is measured from the container's own start (seed bug 5).
          const started = yield* engine
            .inspectContainer(id)
            .pipe(Effect.mapError((cause) => new StartError({ ...fields, cause })))
          const startedAt = new Date(epochMillis(started.state.startedAt) ?? (yield* Clock.currentTimeMillis))
          // The address too: a restart may bind a new random host port.
          yield* update((state) =>
            Transitions.reached(
              Transitions.health(
                Transitions.started(state, startedAt),
                toHealth(started.state.health?.status)
              ),
              Address.addressOf(started, instance.network)
            )
          )
          yield* Metric.modify(containersRunning, 1)
          yield* Effect.addFinalizer(() => Metric.modify(containersRunning, -1))
          yield* Effect.forkScoped(observe)
          // `not-running` answers at once when the container already exited; `next-exit` would hang.
          const waited = yield* engine
            .waitContainer(id, { condition: "not-running" })
            .pipe(Effect.mapError((cause) => new WaitError({ ...fields, cause })))
          // Only this run's output: the container is reused across restarts and its log keeps every
          // run. Not `since` this run's start: a fast process writes before the engine records StartedAt.
          const lastRunLines = engine
            .logs(id, {
              follow: false,
              tail: spec.logTail,
              ...(previousExit === undefined ? {} : { since: previousExit / 1000 })
            })
            .pipe(
              Stream.map((line) => sanitize(line.text)),
              Stream.runCollect,
              Effect.orElseSucceed(() => [])
            )
          // Both on the way from the exit to the `exited` state: ask for them at once.
          const [finished, lastLogLines] = yield* Effect.all(
            [engine.inspectContainer(id).pipe(Effect.option), lastRunLines],
            { concurrency: 2 }
          )
          const finishedAt =
            (Option.isSome(finished) ? epochMillis(finished.value.state.finishedAt) : undefined) ??
            (yield* Clock.currentTimeMillis)
          return {
            exitCode: waited.exitCode,
            finishedAt,
            ranFor: Duration.millis(Math.max(0, finishedAt - startedAt.getTime())),
            lastLogLines: Array.from(lastLogLines)
          }
        })
      )

    const delays = yield* RestartPolicy.backoff(spec.restartPolicy)
    let restartCount = 0
    let previousExit: number | undefined
    while (true) {
      const exit = yield* runOnce(previousExit)
      previousExit = exit.finishedAt
      const exitInfo: RestartPolicy.ExitInfo = {
        exitCode: exit.exitCode,
        ranFor: exit.ranFor,
        lastLogLines: exit.lastLogLines,
        restartCount
      }
      const decision = RestartPolicy.decision(spec.restartPolicy, exitInfo)
      if (decision._tag === "PredicateFailed") {
        yield* Effect.logWarning("the restart predicate threw; not restarting", String(decision.cause))
      }
      // The delay comes from the policy's Schedule; a run of at least `stableAfter` resets it.
      const delay = decision._tag === "Restart" ? yield* delays.next(exit.ranFor) : Option.none()
      if (Option.isNone(delay)) {
        yield* Effect.logInfo("container exited").pipe(
          Effect.annotateLogs({ exitCode: exit.exitCode, restartCount })
        )
        yield* update((state) =>
          Transitions.exited(state, { exitCode: exit.exitCode, lastLogLines: exit.lastLogLines })
        )
        return yield* Ref.get(current)
      }
      restartCount++
      yield* update((state) => Transitions.restarting(state, restartCount, exit))
      yield* Metric.modify(restarts, 1)
      yield* Effect.logInfo("restarting the container").pipe(
        Effect.annotateLogs({ exitCode: exit.exitCode, restartCount, delay: Duration.format(delay.value) })
      )
      yield* Effect.sleep(delay.value)
    }
  })
