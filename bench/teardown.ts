/**
 * Scenario 2, teardown: release a Supervisor holding N running containers that ignore
 * SIGTERM (stop timeout 2 s, so each stop ends in a kill after 2 s), against the same stops
 * done one after another as octoplex's `Close` does (stop with a timeout, remove, next).
 *
 * Target: teardown(50) <= 1.25x raw dockerode's stop and remove of the same 50 with
 * `Promise.all`, the engine's own floor (teardown(50) / teardown(1) is kept as information).
 */
import { Duration, Effect } from "effect"
import { atMost, compare, figure, now, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

/** The stop timeout: 2 s, as the issue says (1 s in quick mode, to keep it under a minute). */
const stopTimeoutOf = (settings: Settings) => (settings.quick ? 1 : 2)

/** Starts N stubborn containers under a Supervisor (not timed), then times its release. */
const ours = (n: number, stopTimeoutSeconds: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { supervisor, release } = yield* Ours.instance()
      const watched = yield* Effect.forEach(
        Array.from({ length: n }, (_, index) => index),
        (index) =>
          Ours.watch(
            supervisor,
            Ours.spec(`c${index}`, Reference.stubbornCommand, Duration.seconds(stopTimeoutSeconds))
          ),
        { concurrency: "unbounded" }
      )
      yield* Ours.allRunning(watched)
      const started = now()
      yield* release
      const elapsed = now() - started
      const finals = yield* Ours.finalStates(watched)
      const lost = finals.filter((state) => state?.status !== "exited").length
      return { elapsed, lost }
    })
  )

/** Starts N stubborn containers by hand (not timed), then stops and removes them one by one. */
const sequential = (n: number, round: number, stopTimeoutSeconds: number) =>
  Effect.gen(function* () {
    const network = yield* Reference.createNetwork(`teardown-${n}-${round}`)
    const containers = yield* Effect.promise(() =>
      Promise.all(
        Array.from({ length: n }, (_, index) =>
          Reference.createOnNetworkStart(
            network,
            `teardown-${n}-${round}-${index}`,
            Reference.stubbornCommand
          )
        )
      )
    )
    const started = now()
    yield* Effect.promise(async () => {
      for (const container of containers) {
        await container.stop({ t: stopTimeoutSeconds })
        await container.remove({ force: true })
      }
    })
    yield* Reference.removeNetwork(network)
    return now() - started
  })

/** Starts N stubborn containers by hand (not timed), then stops and removes them all at once: the engine's own floor. */
const parallel = (n: number, stopTimeoutSeconds: number) =>
  Effect.gen(function* () {
    const network = yield* Reference.createNetwork(`teardown-parallel-${n}`)
    const containers = yield* Effect.promise(() =>
      Promise.all(
        Array.from({ length: n }, (_, index) =>
          Reference.createOnNetworkStart(
            network,
            `teardown-parallel-${n}-${index}`,
            Reference.stubbornCommand
          )
        )
      )
    )
    const started = now()
    yield* Effect.promise(() =>
      Promise.all(
        containers.map(async (container) => {
          await container.stop({ t: stopTimeoutSeconds })
          await container.remove({ force: true })
        })
      )
    )
    yield* Reference.removeNetwork(network)
    return now() - started
  })

const sizes = (settings: Settings) =>
  settings.quick
    ? [
        { n: 1, rounds: 1, sequentialRounds: 1 },
        { n: 2, rounds: 1, sequentialRounds: 0 }
      ]
    : [
        { n: 1, rounds: 3, sequentialRounds: 1 },
        { n: 10, rounds: 2, sequentialRounds: 1 },
        // Sequential stops cost N stop timeouts (118 s for 50 in an earlier run): measured at
        // 1 and 10, where the trend shows, not at 50, to keep the full run in 15 minutes.
        { n: 50, rounds: 1, sequentialRounds: 0 }
      ]

/** Ours and the sequential stops for each N, and the ratio the target is about. */
export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const stopTimeoutSeconds = stopTimeoutOf(settings)
    const rows: Array<Row> = []
    const oursByN = new Map<number, ReturnType<typeof figure>>()
    let lost = 0
    for (const { n, rounds, sequentialRounds } of sizes(settings)) {
      const oursSamples: Array<number> = []
      for (let round = 0; round < rounds; round++) {
        const result = yield* ours(n, stopTimeoutSeconds)
        oursSamples.push(result.elapsed)
        lost += result.lost
        yield* progress(`teardown N=${n} ours round ${round + 1}/${rounds}`)
      }
      const sequentialSamples: Array<number> = []
      for (let round = 0; round < sequentialRounds; round++) {
        sequentialSamples.push(yield* sequential(n, round, stopTimeoutSeconds))
        yield* progress(`teardown N=${n} sequential round ${round + 1}/${sequentialRounds}`)
      }
      const oursFigure = figure(oursSamples, "ms")
      oursByN.set(n, oursFigure)
      rows.push(
        sequentialSamples.length > 0
          ? compare(`teardown N=${n}`, oursFigure, {
              name: `sequential stop+remove (octoplex), t=${stopTimeoutSeconds}s`,
              figure: figure(sequentialSamples, "ms")
            })
          : { scenario: `teardown N=${n}`, ours: oursFigure }
      )
    }
    const largest = Math.max(...oursByN.keys())
    const one = oursByN.get(1)
    const many = oursByN.get(largest)
    // What the engine itself needs to stop and remove them all at once, whoever asks: the
    // floor the target is about (N=1 is no floor: the engine serialises some of the work).
    const floor = yield* parallel(largest, stopTimeoutSeconds)
    yield* progress(`teardown N=${largest} raw dockerode Promise.all`)
    if (many !== undefined) {
      rows.push(
        compare(
          `teardown N=${largest}`,
          many,
          { name: "raw dockerode stop+remove, Promise.all", figure: figure([floor], "ms") },
          atMost(1.25),
          `the engine's floor for this N: no client can tear down faster${lost > 0 ? `; ${lost} final states lost` : ""}`
        )
      )
    }
    if (one !== undefined && many !== undefined) {
      rows.push(compare(`teardown(${largest}) / teardown(1)`, many, { name: "ours N=1", figure: one }))
    }
    if (lost > 0) return yield* Effect.fail(new Error(`teardown: ${lost} final states were lost`))
    return rows
  })
