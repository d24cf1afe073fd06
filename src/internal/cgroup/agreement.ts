/**
 * Whether the cgroup reader and the engine see the same container: one engine sample checked
 * against two cgroup samples read just before and just after it. Counters that only grow
 * (CPU time, the host's CPU time, bytes sent and received) must fall between the two; gauges
 * (memory, pids) must match one of them within a tolerance. What `statsSource: "auto"`
 * decides with, once per container.
 *
 * @internal
 */
import { Effect } from "effect"
import type { StatsSample } from "../../DockerEngine.js"
import { memory } from "../stats.js"
import type { CgroupUnavailable } from "./CgroupUnavailable.js"
import { type SampleOptions, sample } from "./cgroupStats.js"

/**
 * One thing the two sources disagree on.
 *
 * @category models
 * @internal
 */
export interface Mismatch {
  /** `cpu`, `systemCpu`, `onlineCpus`, `memory`, `memoryLimit`, `pids` or `networks`. */
  readonly check: "cpu" | "systemCpu" | "onlineCpus" | "memory" | "memoryLimit" | "pids" | "networks"
  readonly message: string
}

/**
 * The verdict: `agrees` with no mismatch, otherwise every mismatch found.
 *
 * @category models
 * @internal
 */
export type Agreement =
  | { readonly _tag: "Agrees" }
  | { readonly _tag: "Disagrees"; readonly mismatches: ReadonlyArray<Mismatch> }

/**
 * Tolerances of {@link agreement}.
 *
 * @category models
 * @internal
 */
export interface Tolerances {
  /** Memory used (CLI formula) may differ by this fraction of the engine's; default 0.01. */
  readonly memory?: number
}

const between = (low: number | undefined, value: number | undefined, high: number | undefined): boolean =>
  low !== undefined && value !== undefined && high !== undefined && low <= value && value <= high

/**
 * Compares an engine sample with the cgroup samples read `before` the engine was asked and
 * `after` it answered.
 *
 * @internal
 */
export const agreement = (
  readings: { readonly before: StatsSample; readonly engine: StatsSample; readonly after: StatsSample },
  tolerances: Tolerances = {}
): Agreement => {
  const { before, engine, after } = readings
  const mismatches: Array<Mismatch> = []
  const bracket = (
    check: Mismatch["check"],
    counter: string,
    pick: (sample: StatsSample) => number | undefined
  ) => {
    if (!between(pick(before), pick(engine), pick(after))) {
      mismatches.push({
        check,
        message: `${counter}: the engine's ${pick(engine)} is not between the cgroup's ${pick(before)} and ${pick(after)}`
      })
    }
  }
  bracket("cpu", "total_usage", (sample) => sample.cpu.totalUsage)
  bracket("systemCpu", "system_cpu_usage", (sample) => sample.cpu.systemUsage)
  if (engine.cpu.onlineCpus !== before.cpu.onlineCpus) {
    mismatches.push({
      check: "onlineCpus",
      message: `engine ${engine.cpu.onlineCpus}, cgroup ${before.cpu.onlineCpus}`
    })
  }

  const ratio = tolerances.memory ?? 0.01
  const engineMemory = memory(engine)
  const cgroupMemory = [memory(before), memory(after)]
  if (engineMemory === undefined) {
    mismatches.push({ check: "memory", message: "the engine gave no memory usage" })
  } else {
    const close = cgroupMemory.some(
      (one) => one !== undefined && Math.abs(one.used - engineMemory.used) <= ratio * engineMemory.used
    )
    if (!close) {
      mismatches.push({
        check: "memory",
        message: `engine ${engineMemory.used} bytes used, cgroup ${cgroupMemory.map((one) => one?.used).join(" and ")} (tolerance ${ratio * 100}%)`
      })
    }
    if (!cgroupMemory.some((one) => one?.limit === engineMemory.limit)) {
      mismatches.push({
        check: "memoryLimit",
        message: `engine ${engineMemory.limit}, cgroup ${cgroupMemory.map((one) => one?.limit).join(" and ")}`
      })
    }
  }

  if (engine.pids !== before.pids && engine.pids !== after.pids) {
    mismatches.push({
      check: "pids",
      message: `engine ${engine.pids}, cgroup ${before.pids} and ${after.pids}`
    })
  }

  const names = (sample: StatsSample) => Object.keys(sample.networks ?? {}).sort()
  if (names(engine).join() !== names(before).join() || names(engine).join() !== names(after).join()) {
    mismatches.push({
      check: "networks",
      message: `engine interfaces [${names(engine)}], cgroup [${names(before)}] and [${names(after)}]`
    })
  } else {
    for (const name of names(engine)) {
      bracket("networks", `${name} rx_bytes`, (sample) => sample.networks?.[name]?.rxBytes)
      bracket("networks", `${name} tx_bytes`, (sample) => sample.networks?.[name]?.txBytes)
    }
  }
  return mismatches.length === 0 ? { _tag: "Agrees" } : { _tag: "Disagrees", mismatches }
}

/**
 * Reads the cgroup sample, runs `engineSample` (the engine's `statsOnce`), reads again, and
 * compares: the check `statsSource: "auto"` runs once per container.
 *
 * @internal
 */
export const check = <E, R>(
  pid: number,
  engineSample: Effect.Effect<StatsSample, E, R>,
  options: SampleOptions & { readonly tolerances?: Tolerances } = {}
): Effect.Effect<Agreement, CgroupUnavailable | E, R> =>
  Effect.gen(function* () {
    const before = yield* sample(pid, options)
    const engine = yield* engineSample
    const after = yield* sample(pid, options)
    return agreement({ before, engine, after }, options.tolerances)
  })
