/**
 * The engine source's client cost against raw dockerode, side by side in the same windows: N
 * containers under a Supervisor (engine source) and the raw dockerode child
 * (`bench/rawStats.ts`) reading the same containers' stats at the same time, so both see the
 * same machine noise. Prints, per window, each side's CPU, samples and CPU per sample, and
 * the per-sample ratio. For iterating on the stats path; not part of `npm run bench` (the
 * supervision scenario measures the two one after another, with the engine's CPU).
 *
 *   node --expose-gc dist-bench/bench/engineSourceCost.js [n] [windows] [seconds]
 */
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as DockerEngine from "../src/DockerEngine.js"
import { ownCpuMillis } from "./engineCpu.js"
import { figure } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

const rawStatsScript = fileURLToPath(new URL("./rawStats.js", import.meta.url))
const n = Number(process.argv[2] ?? 20)
const windows = Number(process.argv[3] ?? 3)
const seconds = Number(process.argv[4] ?? 10)

const program = Effect.scoped(
  Effect.gen(function* () {
    // `baseline`: a sample an hour, so what remains is the Supervisor without stats.
    const { supervisor } = yield* Ours.instance({
      statsSource: "engine",
      ...(process.argv[5] === "baseline" ? { statsInterval: "1 hour" } : {})
    })
    const watched = yield* Effect.forEach(
      Array.from({ length: n }, (_, index) => index),
      (index) => Ours.watch(supervisor, Ours.spec(`e${index}`, Reference.serviceCommand)),
      { concurrency: "unbounded" }
    )
    yield* Ours.allRunning(watched)
    const ids = (yield* supervisor.list()).map((container) => container.id)
    const raw = yield* Reference.spawnReader(process.execPath, [rawStatsScript, ...ids], { counts: true })
    yield* Effect.sleep("10 seconds")
    const ours = () => watched.reduce((sum, one) => sum + one.statsUpdates(), 0)
    const ratios: Array<number> = []
    for (let window = 0; window < windows; window++) {
      const oursCpu = ownCpuMillis()
      const oursSamples = ours()
      const rawCpu = raw.cpuMillis() ?? Number.NaN
      const rawSamples = (yield* raw.samples) ?? Number.NaN
      yield* Effect.sleep(`${seconds} seconds`)
      const o = { cpu: ownCpuMillis() - oursCpu, samples: ours() - oursSamples }
      const r = {
        cpu: (raw.cpuMillis() ?? Number.NaN) - rawCpu,
        samples: ((yield* raw.samples) ?? Number.NaN) - rawSamples
      }
      const ratio = o.cpu / o.samples / (r.cpu / r.samples)
      ratios.push(ratio)
      console.log(
        `window ${window + 1}: ours ${o.cpu.toFixed(0)} ms / ${o.samples} = ${(o.cpu / o.samples).toFixed(3)} ms; raw ${r.cpu.toFixed(0)} ms / ${r.samples} = ${(r.cpu / r.samples).toFixed(3)} ms; ratio ${ratio.toFixed(2)}`
      )
    }
    const summary = figure(ratios, "count")
    console.log(
      `N=${n}: per-sample ratio ours / raw ${summary.median.toFixed(2)} (${summary.min.toFixed(2)}-${summary.max.toFixed(2)})`
    )
  })
).pipe(Effect.ensuring(Reference.cleanup), Effect.provide(DockerEngine.layer))

NodeRuntime.runMain(program)
