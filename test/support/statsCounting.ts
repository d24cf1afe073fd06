/**
 * The engine with a count of the stats requests made through it: streams opened and
 * single samples asked for. What the stats-source suites check the Supervisor's choice with.
 */
import { Effect, Metric, Ref, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as Supervisor from "../../src/Supervisor.js"

/** The engine in context, wrapped so that its `stats` and `statsOnce` calls are counted. */
export const statsCountingEngine = Effect.gen(function* () {
  const engine = yield* DockerEngine.DockerEngine
  const streams = yield* Ref.make(0)
  const samples = yield* Ref.make(0)
  const counted: DockerEngine.DockerEngineShape = {
    ...engine,
    stats: (id) => Stream.unwrap(Ref.update(streams, (n) => n + 1).pipe(Effect.as(engine.stats(id)))),
    statsOnce: (id, options) =>
      Ref.update(samples, (n) => n + 1).pipe(Effect.andThen(engine.statsOnce(id, options)))
  }
  return {
    engine: counted,
    counts: Effect.all({ streams: Ref.get(streams), samples: Ref.get(samples) })
  }
})

/**
 * Runs `sleep 60` under a Supervisor on `engine` until a state carries CPU % and memory, and
 * returns that state; the container is removed when the stream stops.
 */
export const runUntilStats = (
  engine: DockerEngine.DockerEngineShape,
  options: Supervisor.Options,
  spec: { readonly statsSource?: "auto" | "engine" | "cgroup" } = {}
) =>
  Effect.gen(function* () {
    const supervisor = yield* Supervisor.make(options)
    const states = yield* supervisor
      .run({ name: "sampled", image: "busybox:latest", command: ["sleep", "60"], stopTimeout: 1, ...spec })
      .pipe(
        Stream.takeUntil((state) => state.cpuPercent !== undefined && (state.memoryUsed ?? 0) > 0),
        Stream.runCollect,
        Effect.timeout("30 seconds")
      )
    return states[states.length - 1]
  }).pipe(Effect.scoped, Effect.provideService(DockerEngine.DockerEngine, engine))

/** How many containers the Supervisor metrics count for a stats source so far (this process). */
export const chosenCount = (source: "engine" | "cgroup" | "none") =>
  Metric.value(Metric.withAttributes(Supervisor.metrics.statsSource, { source })).pipe(
    Effect.map((state) => state.count)
  )
