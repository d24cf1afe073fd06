/**
 * A container's stats read from the kernel instead of the engine: the same counters
 * `docker stats` gets from dockerd (which reads these very files), without the ~7 ms of engine
 * CPU each engine sample costs. Yields the engine's {@link StatsSample} shape, so the
 * CLI-exact formulas of `internal/stats.ts` apply unchanged.
 *
 * @internal
 */
import { Cause, Clock, Duration, Effect, Fiber, Queue, Result, Stream } from "effect"
import type { StatsSample } from "../../DockerEngine.js"
import { CgroupUnavailable } from "./CgroupUnavailable.js"
import {
  closeFile,
  type LocateOptions,
  locate,
  openFile,
  preadText,
  readText,
  type Target
} from "./locate.js"
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

/** Where a sample's texts come from: files read by path, or kept open by a {@link Sampler}. */
type Source = (file: string) => Result.Result<string, CgroupUnavailable>

const parsed = <A>(
  source: Source,
  file: string,
  parse: (text: string, file: string) => Result.Result<A, CgroupUnavailable>
): Result.Result<A, CgroupUnavailable> => Result.flatMap(source(file), (text) => parse(text, file))

const byPath =
  (target: Target): Source =>
  (file) =>
    readText(target.root, file, target.pid)

const readHost = (source: Source) => parsed(source, "/proc/stat", Parse.procStat)

const readCpu = (
  target: Target,
  source: Source,
  host: Parse.HostCpu,
  perCpu: boolean
): Result.Result<Cpu, CgroupUnavailable> =>
  Result.gen(function* () {
    const { files } = target
    const cpu: Mutable<Cpu> = { totalUsage: 0, systemUsage: host.systemUsage, onlineCpus: host.onlineCpus }
    if (files.version === 1) {
      cpu.totalUsage = yield* parsed(source, files.cpu, Parse.counter)
      if (perCpu && files.perCpu !== undefined) {
        cpu.percpuUsage = yield* parsed(source, files.perCpu, Parse.perCpu)
      }
    } else {
      const cpuStat = yield* parsed(source, files.cpu, (text, file) => Parse.keyed(text, "usage_usec", file))
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

const readMemory = (
  target: Target,
  source: Source
): Result.Result<StatsSample["memory"], CgroupUnavailable> =>
  Result.gen(function* () {
    const { files } = target
    const usage = yield* parsed(source, files.memoryUsage, Parse.counter)
    const limit = yield* parsed(source, files.memoryLimit, Parse.limit)
    const stat = yield* source(files.memoryStat)
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

const readNetworks = (target: Target, source: Source, networkInterface: string | undefined) =>
  Result.map(parsed(source, target.netDev, Parse.netDev), (interfaces) => {
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

const readFrom = (
  target: Target,
  source: Source,
  options: SampleOptions,
  host: Parse.HostCpu,
  precpu: Cpu,
  now: number
): Result.Result<StatsSample, CgroupUnavailable> =>
  Result.gen(function* () {
    const cpu = yield* readCpu(target, source, host, options.perCpu === true)
    const memory = yield* readMemory(target, source)
    const sample: Mutable<StatsSample> = { read: new Date(now).toISOString(), cpu, precpu, memory }
    if (target.files.pids !== undefined) {
      sample.pids = yield* parsed(source, target.files.pids, Parse.counter)
    }
    // Last, and always by path: the network namespace goes with the process, so a container
    // that exited while its cgroup was read shows up here as Gone (a kept-open `net/dev`
    // would keep reading, and keep the namespace alive).
    const networks = yield* readNetworks(target, byPath(target), options.networkInterface)
    if (networks !== undefined) sample.networks = networks
    return sample
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
): Result.Result<StatsSample, CgroupUnavailable> => {
  const source = byPath(target)
  return Result.flatMap(readHost(source), (host) => readFrom(target, source, options, host, precpu, now))
}

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
 * start; fails on any other reason. A {@link Sampler} of its own: many containers share one.
 *
 * @internal
 */
export const stream = (
  pid: number,
  options: StreamOptions = {}
): Stream.Stream<StatsSample, CgroupUnavailable> =>
  Stream.suspend(() => {
    const { interval, root, platform, ...sampleOptions } = options
    return makeSampler({
      ...(interval !== undefined ? { interval } : {}),
      ...(root !== undefined ? { root } : {}),
      ...(platform !== undefined ? { platform } : {})
    }).stream(pid, sampleOptions)
  })

// ---------------------------------------------------------------------------------------------
// Many containers, one sampler
// ---------------------------------------------------------------------------------------------

/**
 * The cgroup stats of many containers on one clock: a single fiber that, every `interval`,
 * reads `/proc/stat` once and each container's counters through files opened once (a
 * `pread` each), and hands each container its sample. What watching N containers costs is
 * then N times a few `pread`s and one `net/dev` read, not N fibers opening seven files each.
 *
 * @internal
 */
export interface Sampler {
  /**
   * The samples of the container whose init process is `pid`: the first at once, then one
   * at each of the sampler's ticks, each carrying the previous `cpu` as `precpu`. Ends when
   * the process or its cgroup is gone, also at the start; fails on any other reason. Its
   * files are closed when the stream ends.
   */
  readonly stream: (
    pid: number,
    options?: Omit<SampleOptions, "root" | "platform">
  ) => Stream.Stream<StatsSample, CgroupUnavailable>
}

/**
 * Options for {@link makeSampler}.
 *
 * @category models
 * @internal
 */
export interface SamplerOptions extends Pick<LocateOptions, "root" | "platform"> {
  /** Between ticks; default 1 second, as the engine streams. */
  readonly interval?: Duration.Input | undefined
}

interface Subscriber {
  readonly target: Target
  readonly options: SampleOptions
  readonly source: Source
  readonly fds: ReadonlyArray<number>
  readonly queue: Queue.Queue<StatsSample, CgroupUnavailable | Cause.Done>
  precpu: Cpu
}

/** Opens a container's cgroup files; all or none (what opened is closed on a failure). */
const openFiles = (
  target: Target,
  perCpu: boolean
): Result.Result<{ readonly fds: ReadonlyArray<number>; readonly source: Source }, CgroupUnavailable> => {
  const { files, root, pid } = target
  const names = [files.cpu, files.memoryUsage, files.memoryLimit, files.memoryStat]
  if (files.pids !== undefined) names.push(files.pids)
  if (perCpu && files.perCpu !== undefined) names.push(files.perCpu)
  const byName = new Map<string, number>()
  for (const name of names) {
    const opened = openFile(root, name, pid)
    if (Result.isFailure(opened)) {
      for (const fd of byName.values()) closeFile(fd)
      return Result.fail(opened.failure)
    }
    byName.set(name, opened.success)
  }
  const fallback = byPath(target)
  return Result.succeed({
    fds: [...byName.values()],
    source: (file) => {
      const fd = byName.get(file)
      return fd === undefined ? fallback(file) : preadText(root, file, pid, fd)
    }
  })
}

/**
 * A {@link Sampler}. Its fiber runs only while some stream is open: it starts with the first
 * and stops after the last, so a Supervisor that never uses the cgroup source runs none.
 *
 * @internal
 */
export const makeSampler = (options: SamplerOptions = {}): Sampler => {
  const interval = Duration.fromInputUnsafe(options.interval ?? Duration.seconds(1))
  const root = options.root ?? "/"
  const subscribers = new Set<Subscriber>()
  let ticker: Fiber.Fiber<void> | undefined
  let procStat: number | undefined

  const host = (): Result.Result<Parse.HostCpu, CgroupUnavailable> => {
    if (procStat === undefined) {
      const opened = openFile(root, "/proc/stat", 0)
      if (Result.isFailure(opened)) return Result.fail(opened.failure)
      procStat = opened.success
    }
    const fd = procStat
    return readHost((file) => preadText(root, file, 0, fd))
  }

  /** Forgets a subscriber and closes its files; once. The last one closes `/proc/stat`. */
  const drop = (subscriber: Subscriber) => {
    if (!subscribers.delete(subscriber)) return
    for (const fd of subscriber.fds) closeFile(fd)
    if (subscribers.size === 0 && procStat !== undefined) {
      closeFile(procStat)
      procStat = undefined
    }
  }

  /** Hands `subscriber` its sample: a `Gone` ends its stream, another reason fails it. */
  const deliver = (
    subscriber: Subscriber,
    hostCpu: Result.Result<Parse.HostCpu, CgroupUnavailable>,
    now: number
  ) => {
    const next = Result.flatMap(hostCpu, (hostNow) =>
      readFrom(subscriber.target, subscriber.source, subscriber.options, hostNow, subscriber.precpu, now)
    )
    if (Result.isSuccess(next)) {
      subscriber.precpu = next.success.cpu
      Queue.offerUnsafe(subscriber.queue, next.success)
      return
    }
    drop(subscriber)
    if (next.failure.reason === "Gone") Queue.endUnsafe(subscriber.queue)
    else Queue.failCauseUnsafe(subscriber.queue, Cause.fail(next.failure))
  }

  const tick = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      const hostCpu = host()
      for (const subscriber of subscribers) deliver(subscriber, hostCpu, now)
    })
  )

  // Ends itself when nobody is left after a tick; `stop` ends it at once when the last stream closes.
  const loop: Effect.Effect<void> = Effect.suspend(() =>
    subscribers.size === 0
      ? Effect.sync(() => {
          ticker = undefined
        })
      : Effect.andThen(Effect.andThen(Effect.sleep(interval), tick), loop)
  )

  const stop = Effect.suspend(() => {
    if (subscribers.size > 0 || ticker === undefined) return Effect.void
    const fiber = ticker
    ticker = undefined
    return Fiber.interrupt(fiber)
  })

  const stream: Sampler["stream"] = (pid, sampleOptions = {}) =>
    Stream.callback<StatsSample, CgroupUnavailable>(
      (queue) =>
        Effect.gen(function* () {
          const located = locate(pid, {
            ...sampleOptions,
            root,
            ...(options.platform ? { platform: options.platform } : {})
          })
          const opened = Result.flatMap(located, (target) =>
            Result.map(openFiles(target, sampleOptions.perCpu === true), (files) => ({ target, ...files }))
          )
          if (Result.isFailure(opened)) {
            if (opened.failure.reason === "Gone") return yield* Queue.end(queue)
            return yield* Effect.fail(opened.failure)
          }
          const subscriber: Subscriber = {
            ...opened.success,
            options: sampleOptions,
            queue,
            precpu: emptyCpu
          }
          subscribers.add(subscriber)
          yield* Effect.addFinalizer(() =>
            Effect.andThen(
              Effect.sync(() => drop(subscriber)),
              stop
            )
          )
          // The first sample at once, on this stream's own clock reading.
          const now = yield* Clock.currentTimeMillis
          deliver(subscriber, host(), now)
          if (ticker === undefined && subscribers.size > 0) ticker = yield* Effect.forkDetach(loop)
        }),
      // A consumer that falls behind gets the latest samples: each carries its own precpu.
      { bufferSize: 16, strategy: "sliding" }
    )

  return { stream }
}
