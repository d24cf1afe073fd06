/**
 * A container's stats read from the kernel instead of the engine: the same counters
 * `docker stats` gets from dockerd (which reads these very files), without the ~7 ms of engine
 * CPU each engine sample costs. Yields the engine's {@link StatsSample} shape, so the
 * CLI-exact formulas of `internal/stats.ts` apply unchanged.
 *
 * @internal
 */
import { Clock, Duration, Effect, Result, Stream } from "effect"
import type { StatsSample } from "../../DockerEngine.js"
import { CgroupUnavailable } from "./CgroupUnavailable.js"
import { type LocateOptions, locate, readParsed, type Target } from "./locate.js"
import * as Parse from "./parse.js"

type Cpu = StatsSample["cpu"]
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The `precpu` of a first sample, as the engine sends it: no previous reading. */
const emptyCpu: Cpu = { totalUsage: 0 }

/**
 * Options for {@link sample} and {@link stream}.
 *
 * @category models
 * @internal
 */
export interface SampleOptions extends LocateOptions {
  /** Only this interface in `networks` (default: every interface but `lo`, as the engine). */
  readonly networkInterface?: string
  /**
   * Also read v1's `cpuacct.usage_percpu` (the engine sends it). Off by default: it only
   * matters when `onlineCpus` is 0, which this reader never gives, and costs a read.
   */
  readonly perCpu?: boolean
}

/**
 * Options for {@link stream}.
 *
 * @category models
 * @internal
 */
export interface StreamOptions extends SampleOptions {
  /** Between samples; default 1 second, as the engine streams. */
  readonly interval?: Duration.Input
}

const readCpu = (target: Target, perCpu: boolean): Result.Result<Cpu, CgroupUnavailable> =>
  Result.gen(function* () {
    const { root, pid, files } = target
    const host = yield* readParsed(root, "/proc/stat", pid, Parse.procStat)
    const cpu: Mutable<Cpu> = { totalUsage: 0, systemUsage: host.systemUsage, onlineCpus: host.onlineCpus }
    if (files.version === 1) {
      cpu.totalUsage = yield* readParsed(root, files.cpu, pid, Parse.counter)
      if (perCpu && files.perCpu !== undefined) {
        cpu.percpuUsage = yield* readParsed(root, files.perCpu, pid, Parse.perCpu)
      }
    } else {
      const cpuStat = yield* readParsed(root, files.cpu, pid, (text, file) =>
        Parse.keyed(text, "usage_usec", file)
      )
      if (cpuStat === undefined) {
        return yield* Result.fail(
          new CgroupUnavailable({
            reason: "Malformed",
            path: files.cpu,
            message: `${files.cpu}: no usage_usec`
          })
        )
      }
      cpu.totalUsage = cpuStat * 1000
    }
    return cpu
  })

const readMemory = (target: Target): Result.Result<StatsSample["memory"], CgroupUnavailable> =>
  Result.gen(function* () {
    const { root, pid, files } = target
    const usage = yield* readParsed(root, files.memoryUsage, pid, Parse.counter)
    const limit = yield* readParsed(root, files.memoryLimit, pid, Parse.limit)
    const stat = yield* readParsed(root, files.memoryStat, pid, (text) => Result.succeed(text))
    const memory: Mutable<StatsSample["memory"]> = {
      usage,
      // As dockerd: no limit (v2 `max`, v1's page-rounded 2^63) or one above the host's memory is the host's memory.
      limit: limit === undefined || limit > target.memTotal ? target.memTotal : limit
    }
    const inactiveFile = yield* Parse.keyed(stat, "inactive_file", files.memoryStat)
    if (inactiveFile !== undefined) memory.inactiveFile = inactiveFile
    if (files.version === 1) {
      const totalInactiveFile = yield* Parse.keyed(stat, "total_inactive_file", files.memoryStat)
      if (totalInactiveFile !== undefined) memory.totalInactiveFile = totalInactiveFile
    }
    return memory
  })

const readNetworks = (target: Target, networkInterface: string | undefined) =>
  Result.map(readParsed(target.root, target.netDev, target.pid, Parse.netDev), (interfaces) => {
    const networks: Record<string, { readonly rxBytes: number; readonly txBytes: number }> = {}
    let any = false
    for (const name of Object.keys(interfaces)) {
      const counters = interfaces[name]
      if (counters === undefined) continue
      if (networkInterface === undefined ? name === "lo" : name !== networkInterface) continue
      networks[name] = { rxBytes: counters.rxBytes, txBytes: counters.txBytes }
      any = true
    }
    // The engine leaves `networks` out for a container with no interface of its own (`none`).
    return any ? networks : undefined
  })

/**
 * One sample read now, with `precpu` as given. Pure but for the file reads.
 *
 * @internal
 */
export const read = (
  target: Target,
  options: SampleOptions,
  precpu: Cpu,
  now: number
): Result.Result<StatsSample, CgroupUnavailable> =>
  Result.gen(function* () {
    const cpu = yield* readCpu(target, options.perCpu === true)
    const memory = yield* readMemory(target)
    const sample: Mutable<StatsSample> = { read: new Date(now).toISOString(), cpu, precpu, memory }
    if (target.files.pids !== undefined) {
      sample.pids = yield* readParsed(target.root, target.files.pids, target.pid, Parse.counter)
    }
    // Last: the network namespace goes with the process, so a container that exited while
    // its cgroup was read shows up here as Gone.
    const networks = yield* readNetworks(target, options.networkInterface)
    if (networks !== undefined) sample.networks = networks
    return sample
  })

const readNow = (target: Target, options: SampleOptions, precpu: Cpu) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fromResult(read(target, options, precpu, now)))

/**
 * Locates a container's cgroup from its init pid (the engine's `State.Pid`).
 *
 * @internal
 */
export const target = (pid: number, options: LocateOptions = {}): Effect.Effect<Target, CgroupUnavailable> =>
  Effect.suspend(() => Effect.fromResult(locate(pid, options)))

/**
 * One sample of the container whose init process is `pid`, with an empty `precpu` (as the
 * engine's `one-shot` sample): CPU % needs two samples.
 *
 * @internal
 */
export const sample = (
  pid: number,
  options: SampleOptions = {}
): Effect.Effect<StatsSample, CgroupUnavailable> =>
  Effect.flatMap(target(pid, options), (located) => readNow(located, options, emptyCpu))

/**
 * Samples every `interval` (first one at once), each carrying the previous sample's `cpu`
 * as its `precpu` like the engine's stream (the first an empty one). Ends when the process
 * or its cgroup is gone (the container exited or was removed), also when it is gone at the
 * start; fails on any other reason.
 *
 * @internal
 */
export const stream = (
  pid: number,
  options: StreamOptions = {}
): Stream.Stream<StatsSample, CgroupUnavailable> => {
  const interval = Duration.fromInputUnsafe(options.interval ?? Duration.seconds(1))
  const endWhenGone = <A>(effect: Effect.Effect<A, CgroupUnavailable>) =>
    Effect.catchTag(effect, "CgroupUnavailable", (error) =>
      error.reason === "Gone" ? Effect.succeed(undefined) : Effect.fail(error)
    )
  return Stream.unwrap(
    Effect.map(endWhenGone(target(pid, options)), (located) =>
      located === undefined
        ? Stream.empty
        : Stream.unfold<Cpu | undefined, StatsSample, CgroupUnavailable, never>(undefined, (previous) =>
            endWhenGone(
              Effect.gen(function* () {
                if (previous !== undefined) yield* Effect.sleep(interval)
                const next = yield* readNow(located, options, previous ?? emptyCpu)
                return [next, next.cpu] as const
              })
            )
          )
    )
  )
}
