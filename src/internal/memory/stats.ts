/**
 * Resource samples in the in-memory engine: the scripted values of each second turned into
 * cumulative cgroup-style counters (v1 or v2), the streamed `stats` (one sample a second) and
 * `statsOnce` with its one-second-earlier `precpu`.
 *
 * @internal
 */
import { Clock, Effect, Stream } from "effect"
import type { DockerEngineShape, StatsSample } from "../../DockerEngine.js"
import type { StatsValues } from "../../MemoryEngine.js"
import { zeroTime } from "./docker.js"
import { counted, guard, guardStream } from "./faults.js"
import { type ContainerRecord, findContainer, type Store } from "./store.js"

const statsValuesAt = (c: ContainerRecord, second: number): StatsValues => {
  const stats = c.script.stats
  if (stats === undefined) return {}
  if (typeof stats === "function") return stats(second)
  const list: ReadonlyArray<StatsValues> = stats
  return list[Math.min(second, list.length - 1)] ?? {}
}

const emptyCpu: StatsSample["cpu"] = { totalUsage: 0 }

/**
 * What the engine's collector read a second before now. A non-streamed sample carries it
 * as `precpu` (Docker waits for a second reading), so CPU % works on `statsOnce` too.
 */
const previousCpu = (store: Store, c: ContainerRecord, nowMs: number): StatsSample["cpu"] => {
  const { cgroup, cpus } = store
  if (c.status !== "running" || c.startedMs === undefined) return emptyCpu
  const values = statsValuesAt(c, Math.floor((nowMs - c.startedMs) / 1000))
  const elapsed = Math.max(0, nowMs - c.lastSampleMs)
  const current = c.cpuTotal + Math.round((values.cpuPercent ?? 1) * 10_000 * elapsed)
  const totalUsage = Math.max(0, current - Math.round((values.cpuPercent ?? 1) * 10_000 * 1000))
  const perCpu = Math.floor(totalUsage / cpus)
  return {
    totalUsage,
    ...(cgroup === "v1"
      ? {
          percpuUsage: Array.from({ length: cpus }, (_, i) =>
            i === 0 ? totalUsage - perCpu * (cpus - 1) : perCpu
          )
        }
      : {}),
    systemUsage: cpus * 1_000_000 * (3_600_000 + nowMs - 1000),
    onlineCpus: cpus
  }
}

/** One sample now; counters are cumulative like cgroup's, so CPU % comes out as scripted. */
const sampleSync = (
  store: Store,
  c: ContainerRecord,
  nowMs: number,
  precpu: StatsSample["cpu"]
): StatsSample => {
  const { cgroup, cpus, memoryTotal } = store
  if (c.status !== "running" || c.startedMs === undefined) {
    return { read: zeroTime, cpu: emptyCpu, precpu: emptyCpu, memory: {} }
  }
  const values = statsValuesAt(c, Math.floor((nowMs - c.startedMs) / 1000))
  const elapsed = Math.max(0, nowMs - c.lastSampleMs)
  c.lastSampleMs = nowMs
  c.cpuTotal += Math.round((values.cpuPercent ?? 1) * 10_000 * elapsed)
  const systemUsage = cpus * 1_000_000 * (3_600_000 + nowMs)
  const perCpu = Math.floor(c.cpuTotal / cpus)
  const usage = values.memoryUsage ?? 8 * 1024 * 1024
  const inactive = values.inactiveFile ?? 0
  const networkCount = [...c.networks.values()].filter((a) => a.ipAddress !== "").length
  const interfaces: Record<string, { rxBytes: number; txBytes: number }> = {}
  for (let i = 0; i < networkCount; i++) {
    interfaces[`eth${i}`] =
      i === 0 ? { rxBytes: values.rxBytes ?? 0, txBytes: values.txBytes ?? 0 } : { rxBytes: 0, txBytes: 0 }
  }
  return {
    read: new Date(nowMs).toISOString(),
    cpu: {
      totalUsage: c.cpuTotal,
      ...(cgroup === "v1"
        ? {
            percpuUsage: Array.from({ length: cpus }, (_, i) =>
              i === 0 ? c.cpuTotal - perCpu * (cpus - 1) : perCpu
            )
          }
        : {}),
      systemUsage,
      onlineCpus: cpus
    },
    precpu,
    memory: {
      usage,
      limit: values.memoryLimit ?? c.options.memory ?? memoryTotal,
      ...(cgroup === "v1" ? { totalInactiveFile: inactive } : {}),
      inactiveFile: inactive
    },
    ...(networkCount > 0 ? { networks: interfaces } : {}),
    pids: values.pids ?? 1
  }
}

/** The engine's `stats` and `statsOnce`. */
export const statsOperations = (store: Store): Pick<DockerEngineShape, "stats" | "statsOnce"> => ({
  stats: (ref: string) =>
    guardStream(
      store,
      "stats",
      [ref],
      Stream.unwrap(
        Effect.map(findContainer(store, "stats", ref), (c) =>
          counted(
            store,
            "stats",
            Stream.unfold({ first: true, precpu: emptyCpu }, (state) =>
              Effect.gen(function* () {
                if (!state.first) yield* Effect.sleep("1 second")
                // Ends with the container's run, as the engine's stream does (removed or exited).
                if (c.removed || c.status !== "running") return undefined
                const sample = sampleSync(store, c, yield* Clock.currentTimeMillis, state.precpu)
                return [sample, { first: false, precpu: sample.cpu }] as const
              })
            )
          )
        )
      )
    ),
  statsOnce: (ref, options) =>
    guard(
      store,
      "statsOnce",
      [ref],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "statsOnce", ref)
        const nowMs = yield* Clock.currentTimeMillis
        // `one-shot`: the engine answers at once, without a previous reading.
        return sampleSync(
          store,
          c,
          nowMs,
          options?.oneShot === true ? emptyCpu : previousCpu(store, c, nowMs)
        )
      })
    )
})
