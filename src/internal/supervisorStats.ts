/**
 * Where a supervised container's stats come from: the engine's stream (or its one-shot
 * samples, at an interval other than the engine's second), or the container's cgroup read
 * directly (`internal/cgroup/`), which spares the engine about 7 ms of CPU per sample. Decides
 * once per container, logs and counts the choice, and hands the lifecycle one stream of
 * {@link StatsSample}s either way.
 *
 * @internal
 */
import { Duration, Effect, Metric, Option, Stream } from "effect"
import { InvalidSpec } from "../ContainerSpec.js"
import type { DockerEngineShape, Endpoint, StatsSample } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import type { Agreement } from "./cgroup/agreement.js"
import { check } from "./cgroup/agreement.js"
import type { CgroupUnavailable } from "./cgroup/CgroupUnavailable.js"
import * as Cgroup from "./cgroup/cgroupStats.js"

/**
 * `engine`: the engine's stats. `cgroup`: the container's cgroup and network counters, read
 * from this machine's `/sys/fs/cgroup` and `/proc` (the engine is never asked for stats).
 * `auto`: `cgroup` when the engine is on a local socket and one cgroup sample agrees with
 * one engine sample, else `engine`.
 *
 * @internal
 */
export type StatsSource = "auto" | "engine" | "cgroup"

/** The Supervisor's stats options, resolved. @internal */
export interface Settings {
  readonly source: StatsSource
  /** Between samples; the engine's stream gives one a second. */
  readonly interval: Duration.Duration
}

/**
 * The settings from the Supervisor's options: `statsSource` default `auto`, `statsInterval`
 * default 1 second; an interval that is not a positive, finite duration is an `InvalidSpec`.
 *
 * @internal
 */
export const settings = (options: {
  readonly statsSource?: StatsSource | undefined
  readonly statsInterval?: Duration.Input | undefined
}): Effect.Effect<Settings, InvalidSpec> => {
  const interval =
    options.statsInterval === undefined
      ? Option.some(engineStreamInterval)
      : Duration.fromInput(options.statsInterval)
  return Option.isSome(interval) &&
    Duration.isFinite(interval.value) &&
    Duration.isGreaterThan(interval.value, Duration.zero)
    ? Effect.succeed({ source: options.statsSource ?? "auto", interval: interval.value })
    : Effect.fail(
        new InvalidSpec({
          field: "statsInterval",
          message: `must be a positive, finite duration, got ${String(options.statsInterval)}`
        })
      )
}

/** The engine's own streaming period. */
const engineStreamInterval = Duration.seconds(1)

/** How many containers' choices are remembered (a container is checked again after eviction). */
const rememberedChoices = 1024

/**
 * Containers whose stats source was chosen, by source: `engine`, `cgroup`, or `none` (an
 * explicit `cgroup` that cannot be read here; the container has no stats).
 *
 * @internal
 */
export const statsSourceChosen = Metric.counter("effect_docker_stats_source", {
  description: "Supervised containers by the stats source chosen for them (source attribute)",
  incremental: true
})

// ---------------------------------------------------------------------------------------------
// The decision (pure)
// ---------------------------------------------------------------------------------------------

/**
 * What the check of a container said: the two sources agree or not, the cgroup files could
 * not be read (with the reason), or the engine's sample failed.
 *
 * @internal
 */
export type CheckOutcome =
  | Agreement
  | { readonly _tag: "Unavailable"; readonly reason: CgroupUnavailable["reason"]; readonly message: string }
  | { readonly _tag: "EngineFailed"; readonly message: string }

/**
 * A decision: the source and why, for the debug log. `none`: an explicit `cgroup` that
 * cannot be used; the container gets no stats rather than engine requests it was told not to make.
 *
 * @internal
 */
export interface Choice {
  readonly source: "engine" | "cgroup" | "none"
  readonly why: string
}

/** Whether an engine's containers run on this machine, as far as its endpoint tells. */
const endpointKind = (endpoint: Endpoint | undefined): string =>
  endpoint === undefined
    ? "an in-memory engine"
    : endpoint._tag === "Unix"
      ? "local"
      : endpoint._tag === "Tcp"
        ? endpoint.tls
          ? "a TLS engine"
          : "a TCP engine"
        : "an SSH engine"

/**
 * Whether `auto` must check the cgroup source against the engine: only for an engine on a
 * local unix socket, on Linux (Docker Desktop's socket is local too; its containers are in a
 * VM, which the check finds out).
 *
 * @internal
 */
export const needsCheck = (
  source: StatsSource,
  endpoint: Endpoint | undefined,
  platform: NodeJS.Platform = process.platform
): boolean => source === "auto" && endpoint?._tag === "Unix" && platform === "linux"

/**
 * The source for a container, from what was asked, where the engine is and, when
 * {@link needsCheck} said so, what the check found.
 *
 * @internal
 */
export const choose = (input: {
  readonly source: StatsSource
  readonly endpoint: Endpoint | undefined
  readonly platform?: NodeJS.Platform
  readonly check?: CheckOutcome | undefined
}): Choice => {
  const { source, endpoint, check } = input
  switch (source) {
    case "engine":
      return { source: "engine", why: "asked for" }
    case "cgroup":
      // Asked for explicitly: no engine sample to check against, and none to fall back on.
      return endpoint === undefined
        ? { source: "none", why: "asked for cgroup, but an in-memory engine has no cgroups" }
        : { source: "cgroup", why: "asked for" }
    case "auto": {
      if (!needsCheck(source, endpoint, input.platform)) {
        const where = endpointKind(endpoint)
        return {
          source: "engine",
          why: where === "local" ? `not Linux (${input.platform ?? process.platform})` : `${where}`
        }
      }
      if (check === undefined) return { source: "engine", why: "not checked" }
      switch (check._tag) {
        case "Agrees":
          return { source: "cgroup", why: "local engine, one cgroup sample agrees with the engine's" }
        case "Disagrees":
          return {
            source: "engine",
            why: `the cgroup sample disagrees with the engine's: ${check.mismatches.map((m) => m.message).join("; ")}`
          }
        case "Unavailable":
          return {
            source: "engine",
            why: `the cgroup files cannot be read (${check.reason}): ${check.message}`
          }
        case "EngineFailed":
          return { source: "engine", why: `the engine's sample for the check failed: ${check.message}` }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The streams
// ---------------------------------------------------------------------------------------------

/** The engine stopped sampling: a stopped container's sample has no memory usage. */
const notRunning = (sample: StatsSample): boolean => sample.memory.usage === undefined

/**
 * The engine's samples: its own stream at one a second, else a one-shot request every
 * `interval`, each given the previous answer's `cpu` as `precpu` (a one-shot sample has an
 * empty one) so CPU % covers the interval. Ends when the container stops.
 *
 * @internal
 */
export const engineStream = (
  engine: DockerEngineShape,
  id: string,
  interval: Duration.Duration
): Stream.Stream<StatsSample, DockerError> =>
  Duration.equals(interval, engineStreamInterval)
    ? engine.stats(id)
    : Stream.unfold<StatsSample["cpu"] | undefined, StatsSample, DockerError, never>(undefined, (previous) =>
        Effect.gen(function* () {
          if (previous !== undefined) yield* Effect.sleep(interval)
          const sample = yield* engine.statsOnce(id, { oneShot: true })
          if (notRunning(sample)) return undefined
          const carried = previous === undefined ? sample : { ...sample, precpu: previous }
          return [carried, sample.cpu] as const
        })
      )

/**
 * The stats of supervised containers, one stream per run, from the source chosen once per
 * container.
 *
 * @internal
 */
export interface StatsStreams {
  /** Samples for a run of container `id`; the spec's `statsSource` wins over the Supervisor's. */
  readonly stream: (
    id: string,
    spec: { readonly statsSource?: StatsSource | undefined; readonly statsInterface?: string | undefined }
  ) => Stream.Stream<StatsSample, DockerError>
}

/**
 * The stats streams of one Supervisor instance.
 *
 * @internal
 */
export const make = (engine: DockerEngineShape, settings: Settings): StatsStreams => {
  const choices = new Map<string, Choice>()
  const remember = (id: string, choice: Choice) => {
    if (choices.size >= rememberedChoices) {
      const oldest = choices.keys().next()
      if (oldest.done !== true) choices.delete(oldest.value)
    }
    choices.set(id, choice)
  }

  const pidOf = (id: string) => Effect.map(engine.inspectContainer(id), (inspect) => inspect.state.pid)

  const runCheck = (id: string, pid: number, networkInterface: string | undefined) =>
    check(pid, engine.statsOnce(id, { oneShot: true }), {
      containerId: id,
      ...(networkInterface !== undefined ? { networkInterface } : {})
    }).pipe(
      Effect.catchTags({
        CgroupUnavailable: (error): Effect.Effect<CheckOutcome> =>
          Effect.succeed({ _tag: "Unavailable", reason: error.reason, message: error.message }),
        DockerError: (error): Effect.Effect<CheckOutcome> =>
          Effect.succeed({ _tag: "EngineFailed", message: error.message })
      })
    )

  /** The choice for `id`: remembered, or made now (and logged and counted, once). */
  const choiceFor = (id: string, source: StatsSource, pid: number, networkInterface: string | undefined) =>
    Effect.gen(function* () {
      const known = choices.get(id)
      if (known !== undefined) return known
      const outcome = needsCheck(source, engine.endpoint)
        ? yield* runCheck(id, pid, networkInterface)
        : undefined
      const choice = choose({ source, endpoint: engine.endpoint, check: outcome })
      remember(id, choice)
      yield* Effect.logDebug("stats source chosen").pipe(
        Effect.annotateLogs({ statsSource: choice.source, requested: source, why: choice.why })
      )
      yield* Metric.modify(Metric.withAttributes(statsSourceChosen, { source: choice.source }), 1)
      return choice
    })

  // One sampler for every container of the instance: one fiber, `/proc/stat` once a tick.
  const sampler = Cgroup.makeSampler({ interval: settings.interval })
  const cgroupStream = (
    id: string,
    pid: number,
    networkInterface: string | undefined
  ): Stream.Stream<StatsSample, CgroupUnavailable> =>
    sampler.stream(pid, {
      containerId: id,
      ...(networkInterface !== undefined ? { networkInterface } : {})
    })

  const stream: StatsStreams["stream"] = (id, spec) => {
    const source = spec.statsSource ?? settings.source
    const networkInterface = spec.statsInterface
    if (source === "engine") {
      // Nothing to find out: no inspect, no check, but still logged and counted once.
      return Stream.unwrap(
        Effect.as(choiceFor(id, source, 0, undefined), engineStream(engine, id, settings.interval))
      )
    }
    return Stream.unwrap(
      Effect.gen(function* () {
        // The init pid of this run: a restart gives the container a new one.
        const pid = yield* pidOf(id)
        // Exited already (pid 0): nothing to sample, and nothing to decide on yet.
        if (pid === 0) return Stream.empty
        const choice = yield* choiceFor(id, source, pid, networkInterface)
        switch (choice.source) {
          case "engine":
            return engineStream(engine, id, settings.interval)
          case "none":
            return Stream.empty
          case "cgroup":
            return cgroupStream(id, pid, networkInterface).pipe(
              Stream.catchTag("CgroupUnavailable", (error) =>
                source === "auto"
                  ? // Worked at the check, fails now: the engine still can.
                    Stream.unwrap(
                      Effect.as(
                        Effect.logDebug("cgroup stats failed; using the engine's").pipe(
                          Effect.annotateLogs({ reason: error.reason, message: error.message })
                        ),
                        engineStream(engine, id, settings.interval)
                      )
                    )
                  : Stream.fromEffect(
                      Effect.logWarning("cgroup stats unavailable; this container has no stats").pipe(
                        Effect.annotateLogs({ reason: error.reason, message: error.message })
                      )
                    ).pipe(Stream.drain)
              )
            )
        }
      })
    )
  }

  return { stream }
}
