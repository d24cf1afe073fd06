/**
 * Scenario 3, supervision cost: 20 supervised containers streaming stats for 30 s. The CPU
 * time of this process (`process.cpuUsage`) over the window, against `docker stats` (the
 * CLI) watching the same containers over the same window (its CPU time read from
 * /proc/<pid>/stat; its output goes to /dev/null, so this process spends nothing on it).
 *
 * Both run at once, so they see the same engine under the same load. Memory per container:
 * what this process holds (V8 heap in use plus memory outside it, after a full GC) while
 * supervising, minus before, over N. RSS itself says little here: the process starts with
 * pages from module loading that the allocator hands back while the scenario runs.
 */
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { atMost, compare, figure, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

const rawStatsScript = fileURLToPath(new URL("./rawStats.js", import.meta.url))

const mib = (bytes: number) => bytes / 2 ** 20

/** What this process holds: V8's heap in use and the memory of buffers outside it. */
const held = () => {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}

const collectGarbage = () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
}

export const run = (settings: Settings) =>
  Effect.scoped(
    Effect.gen(function* () {
      const n = settings.quick ? 2 : 20
      const windowMs = settings.quick ? 3_000 : 30_000
      const { supervisor } = yield* Ours.instance()
      collectGarbage()
      const rssBefore = process.memoryUsage().rss
      const heldBefore = held()
      const watched = yield* Effect.forEach(
        Array.from({ length: n }, (_, index) => index),
        (index) => Ours.watch(supervisor, Ours.spec(`c${index}`, Reference.serviceCommand)),
        { concurrency: "unbounded" }
      )
      yield* Ours.allRunning(watched)
      // Each stats stream has delivered a sample with a CPU figure: the streams are flowing.
      yield* Effect.sleep("500 millis").pipe(
        Effect.repeat({ until: () => watched.every((one) => one.statsUpdates() > 0) }),
        Effect.timeout("30 seconds")
      )
      const ids = (yield* supervisor.list()).map((container) => container.id)
      const cli = yield* Reference.spawnQuiet("docker", ["stats", ...ids])
      const byHand = yield* Reference.spawnQuiet(process.execPath, [rawStatsScript, ...ids])
      const pid = cli.child.pid
      const byHandPid = byHand.child.pid
      if (pid === undefined || byHandPid === undefined) {
        return yield* Effect.fail(new Error("docker stats or the raw dockerode watcher did not start"))
      }
      // Let the others open their streams too, and every process's JIT settle (a supervisor
      // runs for hours: its first seconds of compilation are not its cost), then measure all
      // over the same window.
      yield* Effect.sleep(settings.quick ? "1 second" : "10 seconds")
      // Garbage left by what ran before is collected now, not on the window's account.
      collectGarbage()
      const statsBefore = watched.reduce((sum, one) => sum + one.statsUpdates(), 0)
      const cliBefore = Reference.cpuMillisOf(pid)
      const byHandBefore = Reference.cpuMillisOf(byHandPid)
      const oursBefore = process.cpuUsage()
      yield* Effect.sleep(windowMs)
      const oursCpu = process.cpuUsage(oursBefore)
      const cliAfter = Reference.cpuMillisOf(pid)
      const byHandAfter = Reference.cpuMillisOf(byHandPid)
      const cliRss = Reference.rssOf(pid)
      const statsUpdates = watched.reduce((sum, one) => sum + one.statsUpdates(), 0) - statsBefore
      collectGarbage()
      const rssDuring = process.memoryUsage().rss
      const heldDuring = held()
      yield* progress(
        `supervision: ${statsUpdates} stats updates over ${windowMs / 1000} s for ${n} containers`
      )
      const oursMillis = (oursCpu.user + oursCpu.system) / 1000
      const perContainer = (heldDuring - heldBefore) / n
      const rows: ReadonlyArray<Row> = [
        compare(
          `supervision CPU, ${n} containers ${windowMs / 1000} s`,
          figure([oursMillis], "cpu-ms"),
          { name: "docker stats (CLI)", figure: figure([cliAfter - cliBefore], "cpu-ms") },
          atMost(1),
          `${statsUpdates} stats updates received in the window`
        ),
        compare(`supervision CPU, ${n} containers ${windowMs / 1000} s`, figure([oursMillis], "cpu-ms"), {
          name: "raw dockerode + JSON.parse (node child)",
          figure: figure([byHandAfter - byHandBefore], "cpu-ms")
        }),
        compare(
          "supervision memory per container (heap + external)",
          figure([mib(perContainer)], "MiB"),
          { name: "docker stats RSS / N", figure: figure([mib(cliRss / n)], "MiB") },
          undefined,
          `this process: heap + external ${mib(heldBefore).toFixed(1)} MiB before, ${mib(heldDuring).toFixed(1)} MiB while supervising ${n}; RSS ${mib(rssBefore).toFixed(0)} then ${mib(rssDuring).toFixed(0)} MiB`
        )
      ]
      return rows
    })
  )
