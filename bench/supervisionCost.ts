/**
 * Scenario 3, supervision cost: 20 supervised containers streaming stats for 30 s, three times
 * (median and spread). The CPU time of this process (`process.cpuUsage`) over each window,
 * against `docker stats` (the CLI) watching the same containers over the same window (its CPU
 * time read from /proc/<pid>/stat; its output goes to /dev/null, so this process spends
 * nothing on it).
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
      // Garbage left by what ran before is collected now, and the sweeping that follows a full
      // collection happens during the settle, not on a window's account.
      collectGarbage()
      // Let the others open their streams too, and every process's JIT settle (a supervisor
      // runs for hours: its first seconds of compilation are not its cost), then measure all
      // over the same windows.
      yield* Effect.sleep(settings.quick ? "1 second" : "10 seconds")
      // Several windows, side by side: one window on a shared machine is one draw of its load.
      const windows = settings.quick ? 1 : 3
      const samples = { ours: [] as Array<number>, cli: [] as Array<number>, byHand: [] as Array<number> }
      let statsUpdates = 0
      for (let window = 0; window < windows; window++) {
        const statsBefore = watched.reduce((sum, one) => sum + one.statsUpdates(), 0)
        const cliBefore = Reference.cpuMillisOf(pid)
        const byHandBefore = Reference.cpuMillisOf(byHandPid)
        const oursBefore = process.cpuUsage()
        yield* Effect.sleep(windowMs)
        const oursCpu = process.cpuUsage(oursBefore)
        samples.ours.push((oursCpu.user + oursCpu.system) / 1000)
        samples.cli.push(Reference.cpuMillisOf(pid) - cliBefore)
        samples.byHand.push(Reference.cpuMillisOf(byHandPid) - byHandBefore)
        statsUpdates += watched.reduce((sum, one) => sum + one.statsUpdates(), 0) - statsBefore
        if (windows > 1) yield* progress(`supervision window ${window + 1}/${windows}`)
      }
      const cliRss = Reference.rssOf(pid)
      collectGarbage()
      const rssDuring = process.memoryUsage().rss
      const heldDuring = held()
      yield* progress(
        `supervision: ${statsUpdates} stats updates over ${windows} x ${windowMs / 1000} s for ${n} containers`
      )
      const ours = figure(samples.ours, "cpu-ms")
      const perContainer = (heldDuring - heldBefore) / n
      const rows: ReadonlyArray<Row> = [
        compare(
          `supervision CPU, ${n} containers ${windowMs / 1000} s`,
          ours,
          { name: "docker stats (CLI)", figure: figure(samples.cli, "cpu-ms") },
          atMost(1),
          `${statsUpdates} stats updates received in ${windows} window(s) of ${windowMs / 1000} s; per window, ours / CLI: ${samples.ours.map((mine, index) => (mine / (samples.cli[index] ?? Number.NaN)).toFixed(2)).join(", ")}`
        ),
        compare(`supervision CPU, ${n} containers ${windowMs / 1000} s`, ours, {
          name: "raw dockerode + JSON.parse (node child)",
          figure: figure(samples.byHand, "cpu-ms")
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
