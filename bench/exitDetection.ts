/**
 * Scenario 4, exit detection: `docker kill` of a supervised container until its `exited`
 * state arrives through `Supervisor.run`, against `docker wait` (the CLI, started
 * beforehand on the same container) returning. Both are timed from the same kill, in this
 * process; p50 and p95 over 20 kills, one at a time.
 *
 * Target: ours within 1.2x of `docker wait`.
 */
import { Deferred, Effect } from "effect"
import { atMost, compare, now, progress, quantileFigure, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

export const run = (settings: Settings) =>
  Effect.scoped(
    Effect.gen(function* () {
      const kills = settings.quick ? 2 : 20
      const { supervisor, release } = yield* Ours.instance()
      const watched = yield* Effect.forEach(
        Array.from({ length: kills }, (_, index) => index),
        (index) => Ours.watch(supervisor, Ours.spec(`c${index}`, Reference.serviceCommand)),
        { concurrency: "unbounded" }
      )
      yield* Ours.allRunning(watched)
      const ids = watched.map((one) => one.id() ?? "")
      const waits = yield* Effect.forEach(ids, (id) => Reference.spawnQuiet("docker", ["wait", id]))
      // Give every `docker wait` time to start and send its request before the first kill.
      yield* Effect.sleep(settings.quick ? "2 seconds" : "4 seconds")
      const oursSamples: Array<number> = []
      const cliSamples: Array<number> = []
      for (const [index, one] of watched.entries()) {
        const wait = waits[index]
        if (wait === undefined) continue
        const killed = now()
        yield* Effect.promise(() =>
          Reference.docker.getContainer(ids[index] ?? "").kill({ signal: "SIGKILL" })
        )
        const { at } = yield* Deferred.await(one.exited)
        const cliAt = yield* Effect.promise(() => wait.exited)
        oursSamples.push(at - killed)
        cliSamples.push(cliAt - killed)
        // Let the lifecycle remove the container before the next kill.
        yield* Effect.sleep("200 millis")
      }
      yield* progress(`exit detection: ${kills} kills`)
      yield* release
      return [
        compare(
          `exit detection p50 (${kills} kills)`,
          quantileFigure(oursSamples, 0.5, "ms"),
          { name: "docker wait (CLI)", figure: quantileFigure(cliSamples, 0.5, "ms") },
          atMost(1.2)
        ),
        compare(
          `exit detection p95 (${kills} kills)`,
          quantileFigure(oursSamples, 0.95, "ms"),
          { name: "docker wait (CLI)", figure: quantileFigure(cliSamples, 0.95, "ms") },
          atMost(1.2)
        )
      ]
    })
  )
