/**
 * Scenario 1, start overhead: N containers of a local image from nothing to `running`.
 *
 * - ours: `Supervisor.run` for each (spec validation, the pull-policy check, create on the
 *   instance network, start, inspect), timed until every stream has emitted `running`;
 * - raw dockerode, as octoplex does by hand: create, connect to the network, start, with
 *   `Promise.all`;
 * - raw dockerode doing the least possible: create already on the network, start;
 * - a `docker run -d` loop.
 *
 * The Supervisor instance and the networks exist before the clock starts; removal is not timed.
 */
import { Effect } from "effect"
import { atMost, compare, figure, now, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

type Side = "ours" | "connect" | "minimal" | "cli"

const sides: ReadonlyArray<Side> = ["ours", "connect", "minimal", "cli"]

const ours = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { supervisor, release } = yield* Ours.instance()
      const started = now()
      const watched = yield* Effect.forEach(
        Array.from({ length: n }, (_, index) => index),
        (index) => Ours.watch(supervisor, Ours.spec(`c${index}`, Reference.serviceCommand)),
        { concurrency: "unbounded" }
      )
      const running = yield* Ours.allRunning(watched)
      yield* release
      return running - started
    })
  )

const dockerode = (n: number, side: "connect" | "minimal", round: number): Effect.Effect<number> =>
  Effect.gen(function* () {
    const network = yield* Reference.createNetwork(`start-${side}-${n}-${round}`)
    const started = now()
    const create = side === "connect" ? Reference.createConnectStart : Reference.createOnNetworkStart
    const containers = yield* Effect.promise(() =>
      Promise.all(
        Array.from({ length: n }, (_, index) =>
          create(network, `start-${side}-${n}-${round}-${index}`, Reference.serviceCommand)
        )
      )
    )
    const elapsed = now() - started
    yield* Reference.removeContainers(containers.map((container) => container.id))
    yield* Reference.removeNetwork(network)
    return elapsed
  })

const cliLoop = (n: number, round: number): Effect.Effect<number> =>
  Effect.gen(function* () {
    const network = yield* Reference.createNetwork(`start-cli-${n}-${round}`)
    const started = now()
    const ids = yield* Effect.promise(async () => {
      const ids: Array<string> = []
      for (let index = 0; index < n; index++) {
        ids.push(
          await Reference.cli([
            "run",
            "-d",
            "--name",
            `${Reference.runId}-start-cli-${n}-${round}-${index}`,
            "--network",
            network.id,
            "--memory",
            String(Reference.memoryBytes),
            ...Reference.labelArgs,
            Reference.image,
            ...Reference.serviceCommand
          ])
        )
      }
      return ids
    })
    const elapsed = now() - started
    yield* Reference.removeContainers(ids)
    yield* Reference.removeNetwork(network)
    return elapsed
  })

/** The scenario's rows: ours against each reference, for N = 1 and N = 20 (only N = 2 in quick mode). */
export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const rows: Array<Row> = []
    for (const n of settings.quick ? [2] : [1, 20]) {
      // Three rounds: the median then ignores one slow round (engine busy cleaning up the side before).
      const rounds = settings.quick ? 1 : 3
      const samples: Record<Side, Array<number>> = { ours: [], connect: [], minimal: [], cli: [] }
      for (let round = 0; round < rounds; round++) {
        // Each round starts with another side, so none always meets a cold (or warm) engine.
        const order = sides.map((_, index) => sides[(index + round) % sides.length] as Side)
        for (const side of order) {
          const elapsed =
            side === "ours"
              ? yield* ours(n)
              : side === "cli"
                ? yield* cliLoop(n, round)
                : yield* dockerode(n, side, round)
          samples[side].push(elapsed)
        }
        yield* progress(`start N=${n} round ${round + 1}/${rounds}`)
      }
      const oursFigure = figure(samples.ours, "ms")
      rows.push(
        compare(
          `start N=${n}`,
          oursFigure,
          { name: "raw dockerode: create, connect, start", figure: figure(samples.connect, "ms") },
          atMost(1.1)
        ),
        compare(`start N=${n}`, oursFigure, {
          name: "raw dockerode: create on network, start",
          figure: figure(samples.minimal, "ms")
        }),
        compare(`start N=${n}`, oursFigure, { name: "docker run -d loop", figure: figure(samples.cli, "ms") })
      )
    }
    return rows
  })
