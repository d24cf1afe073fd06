/**
 * Scenario 5, scale: 100 containers supervised at once (16 MiB each): time until every
 * stream has emitted `running`, the release of the Supervisor (they exit on SIGTERM), every
 * final `exited` state delivered (none lost), and the peak RSS of this process. No reference
 * side: the start and teardown scenarios compare with raw dockerode, and another 100
 * containers by hand would cost the full run over two minutes of engine time.
 */
import { Effect, Schedule } from "effect"
import { atLeast, compare, figure, now, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

const mib = (bytes: number) => bytes / 2 ** 20

const ours = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const baseline = process.memoryUsage().rss
      let peak = baseline
      yield* Effect.sync(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }).pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)
      const { supervisor, release } = yield* Ours.instance()
      const started = now()
      const watched = yield* Effect.forEach(
        Array.from({ length: n }, (_, index) => index),
        (index) => Ours.watch(supervisor, Ours.spec(`c${index}`, Reference.serviceCommand)),
        { concurrency: "unbounded" }
      )
      const running = (yield* Ours.allRunning(watched)) - started
      const releasing = now()
      yield* release
      const teardown = now() - releasing
      const finals = yield* Ours.finalStates(watched)
      const delivered = finals.filter((state) => state?.status === "exited").length
      return { running, teardown, delivered, peakGrowth: peak - baseline, peak }
    })
  )

export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const n = settings.quick ? 5 : 100
    const result = yield* ours(n)
    yield* progress(`scale N=${n} ours: running in ${result.running.toFixed(0)} ms`)
    const rows: ReadonlyArray<Row> = [
      { scenario: `scale N=${n}: all running`, ours: figure([result.running], "ms") },
      { scenario: `scale N=${n}: teardown`, ours: figure([result.teardown], "ms") },
      compare(
        `scale N=${n}: final states delivered`,
        figure([result.delivered], "count"),
        { name: "containers", figure: figure([n], "count") },
        atLeast(1)
      ),
      {
        scenario: `scale N=${n}: peak RSS growth`,
        ours: figure([mib(result.peakGrowth)], "MiB"),
        note: `peak RSS of this process ${mib(result.peak).toFixed(0)} MiB`
      }
    ]
    return rows
  })
