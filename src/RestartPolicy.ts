/**
 * When the supervisor restarts a container that exited, and how long it waits first.
 *
 * This is where the restart decision is made ({@link decide}) and where the delay before a
 * restart comes from ({@link backoff}). The defaults are Docker's own (moby's restartmanager):
 * the first delay is 100 ms, each fast failure doubles it up to 1 minute, and a run that
 * lasted at least 10 seconds resets it. `onFailure` restarts only non-zero exits, up to its
 * maximum count (at least 1), or without limit when no count is given: `maxRetries: 0`, which
 * Docker reads as "no limit", is refused rather than given another meaning.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * const policy = RestartPolicy.onFailure({ maxRetries: 3 })
 * RestartPolicy.decide(policy, { exitCode: 1, restartCount: 0, ranFor: "2 seconds", lastLogLines: [] }) // true
 * RestartPolicy.decide(policy, { exitCode: 0, restartCount: 0, ranFor: "2 seconds", lastLogLines: [] }) // false
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Data, Duration, Effect, Option, Pull, Ref, Schedule } from "effect"

/**
 * What the decision sees of an exit.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExitInfo {
  readonly exitCode: number
  /** Restarts so far (0 after the first run). */
  readonly restartCount: number
  /** How long the run that just ended lasted, from the container's start. */
  readonly ranFor: Duration.Input
  /** The last log lines of the run, sanitized. */
  readonly lastLogLines: ReadonlyArray<string>
}

/**
 * The delays between restarts: a `Schedule`, whose delays are used (its output is ignored). Defaults to
 * {@link defaultBackoff}.
 *
 * @category models
 * @since 0.1.0
 */
export type Backoff = Schedule.Schedule<unknown, unknown>

/**
 * Options every restarting policy takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The delays between restarts (default {@link defaultBackoff}: 100 ms, doubling, capped at 1 minute). */
  readonly backoff?: Backoff | undefined
  /** A run at least this long resets the backoff to its first delay (default 10 seconds). */
  readonly stableAfter?: Duration.Input | undefined
}

/**
 * A restart policy: `Never`, `Always`, `OnFailure` (non-zero exits, at most `maxRetries`
 * restarts, `Infinity` for no limit) or `When` (a predicate on the exit).
 *
 * @category models
 * @since 0.1.0
 */
export type RestartPolicy = Data.TaggedEnum<{
  Never: {}
  Always: { readonly backoff: Backoff; readonly stableAfter: Duration.Duration }
  OnFailure: {
    readonly maxRetries: number
    readonly backoff: Backoff
    readonly stableAfter: Duration.Duration
  }
  When: {
    readonly predicate: (exit: ExitInfo) => boolean
    readonly backoff: Backoff
    readonly stableAfter: Duration.Duration
  }
}>

const { Never, Always, OnFailure, When, $is, $match } = Data.taggedEnum<RestartPolicy>()

/**
 * Matches on a policy's tag.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * const describe = RestartPolicy.match({
 *   Never: () => "never",
 *   Always: () => "always",
 *   OnFailure: ({ maxRetries }) => `on failure, ${maxRetries} times`,
 *   When: () => "custom"
 * })
 * ```
 *
 * @category pattern matching
 * @since 0.1.0
 */
export const match = $match

/**
 * Is this value a restart policy?
 *
 * @category guards
 * @since 0.1.0
 */
export const isRestartPolicy = (u: unknown): u is RestartPolicy => {
  if ($is("Never")(u)) return true
  // A look-alike `{ _tag: "Always" }` without its backoff is not one: it would fail later, mid-run.
  const hasBackoff = (policy: object) =>
    "backoff" in policy &&
    Schedule.isSchedule(policy.backoff) &&
    "stableAfter" in policy &&
    Duration.isDuration(policy.stableAfter)
  if ($is("Always")(u)) return hasBackoff(u)
  if ($is("OnFailure")(u)) return hasBackoff(u) && typeof u.maxRetries === "number"
  if ($is("When")(u)) return hasBackoff(u) && typeof u.predicate === "function"
  return false
}

/**
 * Docker's restart delays: 100 ms, doubling, capped at 1 minute.
 *
 * @example
 * ```ts
 * import { Duration, Effect, Schedule } from "effect"
 * import { RestartPolicy } from "effect-docker"
 *
 * // Never wait more than 5 seconds:
 * const backoff = RestartPolicy.defaultBackoff.pipe(
 *   Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(5))))
 * )
 * const policy = RestartPolicy.always({ backoff })
 * ```
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultBackoff: Backoff = Schedule.exponential("100 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.minutes(1))))
)

/**
 * How long a run must last to reset the backoff, as Docker does: 10 seconds.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultStableAfter: Duration.Duration = Duration.seconds(10)

const withDefaults = (options: Options | undefined) => ({
  backoff: options?.backoff ?? defaultBackoff,
  stableAfter: Duration.fromInputUnsafe(options?.stableAfter ?? defaultStableAfter)
})

/**
 * Never restart (the default).
 *
 * @category constructors
 * @since 0.1.0
 */
export const never: RestartPolicy = Never()

/**
 * Restart after every exit, whatever its code.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * const policy = RestartPolicy.always({ stableAfter: "30 seconds" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const always = (options?: Options): RestartPolicy => Always(withDefaults(options))

/**
 * A count of retries as a type: a literal `0`, negative or fractional count is a type error
 * (a count computed at run time is checked by `ContainerSpec.validate`).
 *
 * @since 0.1.0
 */
export type RetryCount<N extends number> = number extends N
  ? N
  : `${N}` extends "0" | `-${string}` | `${string}.${string}`
    ? never
    : N

/**
 * Restart after a non-zero exit, at most `maxRetries` times (a whole number, at least 1); the
 * last exit code is final. Without `maxRetries`, restart every non-zero exit with no limit,
 * as Docker's `on-failure` does.
 *
 * There is no `maxRetries: 0`: Docker reads it as "no limit", the opposite of what the words
 * say, so it is refused (a type error for a literal, an `InvalidSpec` from
 * `ContainerSpec.validate` for a computed value) rather than given either meaning. Never
 * restarting is {@link never}.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * const twice = RestartPolicy.onFailure({ maxRetries: 2 })
 * const untilItWorks = RestartPolicy.onFailure()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const onFailure = <N extends number = number>(
  options?: Options & { readonly maxRetries?: RetryCount<N> | undefined }
): RestartPolicy =>
  OnFailure({ maxRetries: options?.maxRetries ?? Number.POSITIVE_INFINITY, ...withDefaults(options) })

/**
 * Restart when the predicate holds for the exit. A predicate that throws means "don't
 * restart" (see {@link decision}).
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { RestartPolicy } from "effect-docker"
 *
 * // Restart crashes that happened after a while, never a crash at boot:
 * const policy = RestartPolicy.when((exit) =>
 *   exit.exitCode !== 0 && Duration.isGreaterThan(Duration.fromInputUnsafe(exit.ranFor), Duration.seconds(5))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const when = (predicate: (exit: ExitInfo) => boolean, options?: Options): RestartPolicy =>
  When({ predicate, ...withDefaults(options) })

/**
 * The outcome of a restart decision: `Restart`, `Stop`, or `PredicateFailed` when a `when`
 * predicate threw (the container is not restarted; the cause is kept for the report).
 *
 * @category models
 * @since 0.1.0
 */
export type Decision = Data.TaggedEnum<{
  Restart: {}
  Stop: {}
  PredicateFailed: { readonly cause: unknown }
}>

const Decisions = Data.taggedEnum<Decision>()

/**
 * The restart decision for one exit, with the reason when a predicate threw.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * const policy = RestartPolicy.when(() => { throw new Error("bug") })
 * RestartPolicy.decision(policy, { exitCode: 1, restartCount: 0, ranFor: 0, lastLogLines: [] })._tag // "PredicateFailed"
 * ```
 *
 * @category decisions
 * @since 0.1.0
 */
export const decision = (policy: RestartPolicy, exit: ExitInfo): Decision => {
  switch (policy._tag) {
    case "Never":
      return Decisions.Stop()
    case "Always":
      return Decisions.Restart()
    case "OnFailure":
      return exit.exitCode !== 0 && exit.restartCount < policy.maxRetries
        ? Decisions.Restart()
        : Decisions.Stop()
    case "When":
      try {
        return policy.predicate(exit) === true ? Decisions.Restart() : Decisions.Stop()
      } catch (cause) {
        return Decisions.PredicateFailed({ cause })
      }
  }
}

/**
 * Should the container be restarted after this exit? A throwing predicate gives `false`.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "effect-docker"
 *
 * RestartPolicy.decide(RestartPolicy.always(), { exitCode: 0, restartCount: 5, ranFor: "1 second", lastLogLines: [] }) // true
 * ```
 *
 * @category decisions
 * @since 0.1.0
 */
export const decide = (policy: RestartPolicy, exit: ExitInfo): boolean =>
  decision(policy, exit)._tag === "Restart"

/**
 * The backoff and stable-run length of a policy (`undefined` for `never`).
 *
 * @category decisions
 * @since 0.1.0
 */
export const backoffOf = (
  policy: RestartPolicy
): { readonly backoff: Backoff; readonly stableAfter: Duration.Duration } | undefined =>
  policy._tag === "Never" ? undefined : { backoff: policy.backoff, stableAfter: policy.stableAfter }

/**
 * Steps a policy's backoff from one restart to the next.
 *
 * @category models
 * @since 0.1.0
 */
export interface Delays {
  /**
   * The delay before the next restart, given how long the last run lasted: a run of at
   * least `stableAfter` starts the schedule over. `None` when the schedule has ended (the
   * container is not restarted again).
   */
  readonly next: (ranFor: Duration.Input) => Effect.Effect<Option.Option<Duration.Duration>>
}

/**
 * A fresh stepper over the policy's backoff `Schedule`, for one container. The schedule
 * is stepped at the clock's current time, so schedules that depend on time work under
 * `TestClock`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { RestartPolicy } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const delays = yield* RestartPolicy.backoff(RestartPolicy.always())
 *   const first = yield* delays.next("1 second") // 100 millis
 *   const second = yield* delays.next("1 second") // 200 millis
 *   const reset = yield* delays.next("1 minute") // 100 millis again: the run was stable
 *   return [first, second, reset].map(Option.getOrUndefined)
 * })
 * ```
 *
 * @category decisions
 * @since 0.1.0
 */
export const backoff = (policy: RestartPolicy): Effect.Effect<Delays> =>
  Effect.gen(function* () {
    const settings = backoffOf(policy) ?? { backoff: defaultBackoff, stableAfter: defaultStableAfter }
    const fresh = Schedule.toStep(settings.backoff)
    const step = yield* Ref.make(yield* fresh)
    const next = (ranFor: Duration.Input) =>
      Effect.gen(function* () {
        if (Duration.isGreaterThanOrEqualTo(Duration.fromInputUnsafe(ranFor), settings.stableAfter)) {
          yield* Ref.set(step, yield* fresh)
        }
        const current = yield* Ref.get(step)
        const now = yield* Clock.currentTimeMillis
        return yield* current(now, undefined).pipe(
          Effect.map(([, delay]) => Option.some(delay)),
          Pull.catchDone(() => Effect.succeed(Option.none<Duration.Duration>()))
        )
      })
    return { next }
  })
