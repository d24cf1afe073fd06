/**
 * Stats math, exactly as `docker stats` computes it (docker/cli `cli/command/container/stats_helpers.go`),
 * and the rolling average of the network rates.
 *
 * @internal
 */
import type { StatsSample } from "../DockerModel.js"

/**
 * CPU % of one sample: Δ container usage / Δ system usage × online CPUs × 100, where online
 * CPUs falls back to the length of `percpu_usage` when 0. `undefined` for a sample without
 * a previous one (empty `precpu`: no system usage), so the first sample shows no bogus
 * spike; 0 unless both deltas are positive.
 *
 * @internal
 */
export const cpuPercent = (sample: StatsSample): number | undefined => {
  const previousSystem = sample.precpu.systemUsage
  if (previousSystem === undefined || previousSystem === 0) return undefined
  const cpuDelta = sample.cpu.totalUsage - sample.precpu.totalUsage
  const systemDelta = (sample.cpu.systemUsage ?? 0) - previousSystem
  if (!(cpuDelta > 0 && systemDelta > 0)) return 0
  const onlineCpus =
    sample.cpu.onlineCpus !== undefined && sample.cpu.onlineCpus > 0
      ? sample.cpu.onlineCpus
      : (sample.cpu.percpuUsage?.length ?? 0)
  return (cpuDelta / systemDelta) * onlineCpus * 100
}

/** Memory as the Docker CLI shows it. @internal */
export interface Memory {
  /** Bytes: usage minus the inactive file cache. */
  readonly used: number
  /** Bytes (the host's memory when the container has no limit). */
  readonly limit: number
  /** used / limit × 100; 0 when the limit is 0. */
  readonly percent: number
}

/**
 * Memory used, limit and percent: usage minus `total_inactive_file` (cgroup v1) or
 * `inactive_file` (cgroup v2) when that is smaller than usage. `undefined` when the sample
 * has no usage (the container is not running).
 *
 * @internal
 */
export const memory = (sample: StatsSample): Memory | undefined => {
  const { usage, limit = 0, totalInactiveFile, inactiveFile } = sample.memory
  if (usage === undefined) return undefined
  // As the CLI: cgroup v1's total first, then v2's (v1 also reports a non-total `inactive_file`).
  const used =
    totalInactiveFile !== undefined && totalInactiveFile < usage
      ? usage - totalInactiveFile
      : inactiveFile !== undefined && inactiveFile < usage
        ? usage - inactiveFile
        : usage
  return { used, limit, percent: limit === 0 ? 0 : (used / limit) * 100 }
}

/** Bytes received and sent. @internal */
export interface NetworkTotals {
  readonly rx: number
  readonly tx: number
}

/**
 * Bytes received and sent, over every interface or the named one. `undefined` when the
 * sample has no networks or not the named interface.
 *
 * @internal
 */
export const networkTotals = (sample: StatsSample, networkInterface?: string): NetworkTotals | undefined => {
  const networks = sample.networks
  if (networks === undefined) return undefined
  if (networkInterface !== undefined) {
    const one = networks[networkInterface]
    return one === undefined ? undefined : { rx: one.rxBytes, tx: one.txBytes }
  }
  const all = Object.values(networks)
  if (all.length === 0) return undefined
  return all.reduce((sum, one) => ({ rx: sum.rx + one.rxBytes, tx: sum.tx + one.txBytes }), { rx: 0, tx: 0 })
}

interface RatePoint {
  /** Unix milliseconds. */
  readonly at: number
  readonly rx: number
  readonly tx: number
}

/**
 * The last few network totals, for a rolling average of the rates.
 *
 * @internal
 */
export interface RateWindow {
  /** The interface counted (all when `undefined`). */
  readonly networkInterface: string | undefined
  /** How many samples the average spans, at most. */
  readonly size: number
  readonly points: ReadonlyArray<RatePoint>
}

/** The default window: 5 samples (about 4 seconds of engine stats). @internal */
export const defaultWindowSize = 5

/** An empty window over one interface (all when `undefined`). @internal */
export const initialWindow = (networkInterface?: string, size: number = defaultWindowSize): RateWindow => ({
  networkInterface,
  size: Math.max(2, size),
  points: []
})

/**
 * Adds the totals read at `at` (Unix ms). Counters that went down (the container was
 * restarted, its interface recreated) start the window over; a sample not later than the
 * last one is ignored.
 *
 * @internal
 */
export const pushRate = (window: RateWindow, at: number, totals: NetworkTotals): RateWindow => {
  const last = window.points[window.points.length - 1]
  if (last !== undefined && !(at > last.at)) return window
  const reset = last !== undefined && (totals.rx < last.rx || totals.tx < last.tx)
  // Once a second per container: one new array, no spreads.
  const points = reset ? [] : window.points.slice(Math.max(0, window.points.length - window.size + 1))
  points.push({ at, rx: totals.rx, tx: totals.tx })
  return { networkInterface: window.networkInterface, size: window.size, points }
}

/** Rates in bits per second. @internal */
export interface Rates {
  readonly rx: number
  readonly tx: number
}

/** The average rates over the window; `undefined` until it holds two samples. @internal */
export const rates = (window: RateWindow): Rates | undefined => {
  const first = window.points[0]
  const last = window.points[window.points.length - 1]
  if (first === undefined || last === undefined || last.at <= first.at) return undefined
  const seconds = (last.at - first.at) / 1000
  return { rx: ((last.rx - first.rx) * 8) / seconds, tx: ((last.tx - first.tx) * 8) / seconds }
}

/**
 * What one stats sample says, ready for the state. Fields are `undefined` when the sample
 * cannot tell (no previous sample, not running, no network).
 *
 * @internal
 */
export interface StatsSnapshot {
  readonly cpuPercent: number | undefined
  readonly memoryUsed: number | undefined
  readonly memoryLimit: number | undefined
  readonly memoryPercent: number | undefined
  /** Bits per second, rolling average. */
  readonly rxRate: number | undefined
  readonly txRate: number | undefined
  /** Bytes. */
  readonly rxTotal: number | undefined
  readonly txTotal: number | undefined
}

const readAt = (sample: StatsSample): number | undefined => {
  const at = Date.parse(sample.read)
  // The engine's zero time (`0001-01-01T00:00:00Z`) and unparsable times carry no clock.
  return Number.isFinite(at) && at > 0 ? at : undefined
}

/**
 * Folds one sample into the window and gives its snapshot: the step of a
 * `Stream.mapAccum` over the engine's stats stream. `at` (Unix ms) defaults to the sample's
 * `read` time.
 *
 * @internal
 */
export const step = (window: RateWindow, sample: StatsSample, at?: number): [RateWindow, StatsSnapshot] => {
  const totals = networkTotals(sample, window.networkInterface)
  const time = at ?? readAt(sample)
  const next = totals === undefined || time === undefined ? window : pushRate(window, time, totals)
  const memoryNow = memory(sample)
  const rate = rates(next)
  return [
    next,
    {
      cpuPercent: cpuPercent(sample),
      memoryUsed: memoryNow?.used,
      memoryLimit: memoryNow?.limit,
      memoryPercent: memoryNow?.percent,
      rxRate: rate?.rx,
      txRate: rate?.tx,
      rxTotal: totals?.rx,
      txTotal: totals?.tx
    }
  ]
}
