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
import type { ContainerInspect, DockerEngineShape, EngineEvent } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as RestartPolicy from "../RestartPolicy.js"
import * as Transitions from "./containerState.js"
import type * as PullProgress from "./pullProgress.js"
import * as Stats from "./stats.js"
import * as Address from "./supervisorAddress.js"
import { CopyError, CreateError, PullError, StartError, WaitError } from "./supervisorErrors.js"
import type { InstanceEvents, Notice } from "./supervisorEvents.js"
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

/** The engine is away (restarting, unreachable, too slow), not refusing: worth another try. */
const isOutage = (error: DockerError): boolean => error.reason === "Unavailable" || error.reason === "Timeout"

interface RunExit {
  readonly exitCode: number
  /** The engine's error for the exit (the wait's, else `State.Error`). */
  readonly error: string | undefined
  readonly oomKilled: boolean
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
          // `restarting` under an engine policy may be running again by now: stop it too.
          yield* Teardown.stopAndRemove(instance, id, {
            stopTimeout,
            running: last.status === "running" || last.status === "restarting"
          })
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
    // Without the events stream health would freeze unseen: once it is lost for good, the
    // lifecycle fails (and its container is removed) rather than go on blind.
    const eventsLost = instance.events.lost.pipe(
      Effect.mapError((cause) => new WaitError({ ...fields, containerId: id, cause }))
    )
    return yield* Effect.raceFirst(runUntilFinalExit(instance, spec, id, current, update), eventsLost).pipe(
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

    // With an engine restart policy the engine restarts the container itself: `restarting`
    // (published when the wait returns) turns `running` when the engine says it runs again.
    const engineRestarts = spec.engineRestartPolicy !== undefined && spec.engineRestartPolicy !== "no"
    const runningAgain = (inspect: ContainerInspect, state: ContainerState.ContainerState) =>
      engineRestarts && state.status === "restarting" && inspect.state.running && !inspect.state.restarting
        ? Transitions.started(
            state,
            new Date(epochMillis(inspect.state.startedAt) ?? Date.parse(inspect.created))
          )
        : state
    const engineStarted = Effect.gen(function* () {
      if (!engineRestarts || (yield* Ref.get(current)).status !== "restarting") return
      const inspect = yield* engine.inspectContainer(id)
      yield* update((state) => {
        const next = runningAgain(inspect, state)
        return next === state ? state : Transitions.health(next, toHealth(inspect.state.health?.status))
      })
    }).pipe(
      Effect.catchTag("DockerError", (error) =>
        Effect.logDebug("could not inspect the restarted container", error.message)
      )
    )

    // After the events stream was down: what the engine says now, for what it did meanwhile.
    const resync = engine.inspectContainer(id).pipe(
      Effect.flatMap((inspect) =>
        update((state) => {
          const next = runningAgain(inspect, state)
          return next.status === "running" && inspect.state.running
            ? Transitions.health(next, toHealth(inspect.state.health?.status))
            : next
        })
      ),
      Effect.catchTag("DockerError", (error) =>
        Effect.logDebug("could not re-inspect the container after a reconnect", error.message)
      )
    )
    const onNotice = (notice: Notice): Effect.Effect<void> => {
      if (notice === "reconnected") return resync
      if (notice.action === "start") return engineStarted
      const health = healthOf(notice)
      // A replayed event (after a reconnect's re-inspect) repeats what the state already says.
      return health === undefined
        ? Effect.void
        : Effect.flatMap(Ref.get(current), (state) =>
            state.health === health ? Effect.void : update((state) => Transitions.health(state, health))
          )
    }

    // While a run lasts: health changes from the shared events, and stats. Each source applies
    // its own updates (not one `Stream.merge`): a stats sample arrives every second for as long
    // as the container runs, and a merge would hand each one to a third fiber.
    const healthChanges = events.pipe(Stream.runForEach(onNotice))
    // The rate window is folded in the consumer (not a `Stream.mapAccum` stage before it):
    // one stage fewer on every sample of every container.
    const statsChanges = Effect.suspend(() => {
      let window = Stats.initialWindow(spec.statsInterface)
      return Stream.runForEach(instance.stats.stream(id, spec), (sample) => {
        const [next, snapshot] = Stats.step(window, sample)
        window = next
        return update((state) => Transitions.stats(state, snapshot))
      })
    }).pipe(
      // Stats are an observation, not the run: losing them must not end the container.
      Effect.catchTag("DockerError", (error) => Effect.logDebug("container stats ended", error.message))
    )
    const observe = Effect.all([healthChanges, statsChanges], { concurrency: 2, discard: true })

    // An engine restart or a proxy hiccup must not end the lifecycle: a wait that fails for an
    // outage is retried with the instance's backoff, and after one the engine is asked first
    // whether the container still runs (wait again), exited (its exit) or is gone (NotFound).
    const outage = yield* Ref.make(false)
    const waitAttempt = Effect.gen(function* () {
      if (yield* Ref.get(outage)) {
        const inspect = yield* engine.inspectContainer(id)
        if (!inspect.state.running) {
          return inspect.state.error.length > 0
            ? { exitCode: inspect.state.exitCode, error: inspect.state.error }
            : { exitCode: inspect.state.exitCode }
        }
      }
      // `not-running` answers at once when the container already exited; `next-exit` would hang.
      return yield* engine.waitContainer(id, { condition: "not-running" })
    }).pipe(
      Effect.tapError((error) =>
        isOutage(error)
          ? Ref.set(outage, true).pipe(
              Effect.andThen(
                Effect.logWarning("waiting for the container's exit failed; retrying", error.message)
              )
            )
          : Effect.void
      )
    )
    const waitForExit = waitAttempt.pipe(
      Effect.retry({ schedule: instance.events.backoff, while: isOutage }),
      Effect.tap(() => Ref.set(outage, false)),
      Effect.mapError((cause) => new WaitError({ ...fields, cause }))
    )

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
          let since = previousExit
          while (true) {
            const waited = yield* waitForExit
            // Only this run's output: the container is reused across restarts and its log keeps every
            // run. Not `since` this run's start: a fast process writes before the engine records StartedAt.
            const lastRunLines = engine
              .logs(id, {
                follow: false,
                tail: spec.logTail,
                ...(since === undefined ? {} : { since: since / 1000 })
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
            const engineState = Option.isSome(finished) ? finished.value.state : undefined
            const stateError = engineState?.error
            // An engine restart publishes `running` with the engine's start time (see `engineStarted`).
            const runStartedAt = (yield* Ref.get(current)).startedAt ?? startedAt
            const exit: RunExit = {
              exitCode: waited.exitCode,
              error:
                waited.error ?? (stateError !== undefined && stateError.length > 0 ? stateError : undefined),
              oomKilled: engineState?.oomKilled === true,
              finishedAt,
              ranFor: Duration.millis(Math.max(0, finishedAt - runStartedAt.getTime())),
              lastLogLines: Array.from(lastLogLines)
            }
            // The engine's own restart policy took it back (`restarting`, or running again): not
            // the end of the lifecycle. Counted by the engine, started by the engine.
            if (engineRestarts && Option.isSome(finished) && finished.value.state.running) {
              since = finishedAt
              yield* Effect.logInfo("the engine restarts the container").pipe(
                Effect.annotateLogs({ exitCode: exit.exitCode, restartCount: finished.value.restartCount })
              )
              yield* update((state) => Transitions.restarting(state, finished.value.restartCount, exit))
              // Its `start` may have come before this `restarting`: then only the engine can tell.
              yield* engineStarted
              continue
            }
            return exit
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
          Transitions.exited(state, {
            exitCode: exit.exitCode,
            error: exit.error,
            oomKilled: exit.oomKilled,
            lastLogLines: exit.lastLogLines
          })
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
