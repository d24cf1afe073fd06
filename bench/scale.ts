/**
 * Scenario 5, scale: N containers (100; `--scale-n` for another N) supervised at once (16
 * MiB each): time until every stream has emitted `running`, the release of the Supervisor
 * (they exit on SIGTERM), every final `exited` state delivered (none lost), and the peak RSS
 * of this process. Side by side in the same run:
 *
 * - ours with the default stats (`auto`: the cgroup source here), with the engine's stats
 *   streams, and with stats as good as off (one sample, the next an hour later): what
 *   watching costs the starts of the containers that follow, the engine being the bottleneck;
 * - raw dockerode's `Promise.all` of the same creates (on the network) and starts, no stats:
 *   the engine's floor for N starts.
 *
 * The teardown scenario compares releases with raw dockerode's parallel stop and remove.
 */
import { Effect, Schedule } from "effect"
import type * as Supervisor from "../src/Supervisor.js"
import { atLeast, compare, figure, now, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

const mib = (bytes: number) => bytes / 2 ** 20

type Stats = "auto" | "engine" | "off"

const statsOptions = (stats: Stats): Omit<Supervisor.Options, "app"> =>
  stats === "off"
    ? { statsSource: "engine", statsInterval: "1 hour" }
    : stats === "engine"
      ? { statsSource: "engine" }
      : {}

const ours = (n: number, stats: Stats) =>
  Effect.scoped(
    Effect.gen(function* () {
      const baseline = process.memoryUsage().rss
      let peak = baseline
      yield* Effect.sync(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }).pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)
      const { supervisor, release } = yield* Ours.instance(statsOptions(stats))
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

/** Raw dockerode: N creates on the network and starts with `Promise.all`; removed (not timed) in the scope's release. */
const raw = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const network = yield* Effect.acquireRelease(Reference.createNetwork(`scale-${n}`), (network) =>
        Reference.removeNetwork(network)
      )
      const created: Array<string> = []
      yield* Effect.addFinalizer(() => Effect.suspend(() => Reference.removeContainers(created)))
      const started = now()
      yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: n }, (_, index) =>
            Reference.createOnNetworkStart(network, `scale-${n}-${index}`, Reference.serviceCommand).then(
              (container) => {
                created.push(container.id)
              }
            )
          )
        )
      )
      return now() - started
    })
  )

export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const n = settings.scaleN ?? (settings.quick ? 5 : 100)
    const withStats = yield* ours(n, "auto")
    yield* progress(`scale N=${n} ours, stats auto: running in ${withStats.running.toFixed(0)} ms`)
    const engineStats = yield* ours(n, "engine")
    yield* progress(`scale N=${n} ours, engine stats: running in ${engineStats.running.toFixed(0)} ms`)
    const statsOff = yield* ours(n, "off")
    yield* progress(`scale N=${n} ours, stats off: running in ${statsOff.running.toFixed(0)} ms`)
    const rawRunning = yield* raw(n)
    yield* progress(`scale N=${n} raw dockerode: running in ${rawRunning.toFixed(0)} ms`)
    const rawFigure = { name: "raw dockerode create+start, Promise.all", figure: figure([rawRunning], "ms") }
    const rows: ReadonlyArray<Row> = [
      compare(
        `scale N=${n}: all running, stats auto (cgroup here)`,
        figure([withStats.running], "ms"),
        rawFigure
      ),
      compare(`scale N=${n}: all running, engine stats`, figure([engineStats.running], "ms"), rawFigure),
      compare(
        `scale N=${n}: all running, stats auto (cgroup here)`,
        figure([withStats.running], "ms"),
        { name: "ours, stats off (one sample an hour)", figure: figure([statsOff.running], "ms") },
        undefined,
        `engine stats against stats off: ${(engineStats.running / statsOff.running).toFixed(2)}x; one run each, one after another (engine-bound, so the order and other load on the engine matter)`
      ),
      { scenario: `scale N=${n}: teardown`, ours: figure([withStats.teardown], "ms") },
      compare(
        `scale N=${n}: final states delivered`,
        figure([withStats.delivered + engineStats.delivered + statsOff.delivered], "count"),
        { name: "containers", figure: figure([3 * n], "count") },
        atLeast(1)
      ),
      {
        scenario: `scale N=${n}: peak RSS growth`,
        ours: figure([mib(withStats.peakGrowth)], "MiB"),
        note: `peak RSS of this process ${mib(withStats.peak).toFixed(0)} MiB; with engine stats ${mib(engineStats.peakGrowth).toFixed(0)} MiB growth`
      }
    ]
    return rows
  })
