/**
 * The in-memory engine behind `MemoryEngine`: a store of containers, networks and images,
 * each container's scripted process as a fiber, and events fanned out to subscribers.
 *
 * State lives in plain maps mutated only inside `Effect.sync` blocks (one JavaScript turn), so
 * a snapshot plus a subscription, or a state change plus its events, is atomic.
 *
 * @internal
 */
import * as Posix from "node:path/posix"
import { Cause, Clock, Deferred, Duration, Effect, FiberMap, Queue, Stream } from "effect"
import * as Tar from "tar-stream"
import type {
  ContainerFile,
  ContainerInspect,
  ContainerSummary,
  CreateContainerOptions,
  DockerEngineShape,
  EngineEvent,
  EventsOptions,
  ImageInspect,
  LogLine,
  LogsOptions,
  NetworkInspect,
  PullProgress,
  StatsSample,
  Version,
  WaitResult
} from "../DockerEngine.js"
import { DockerError, type DockerErrorReason } from "../DockerError.js"
import type {
  Call,
  ContainerFileEntry,
  ImageDefinition,
  MemoryEngineShape,
  Operation,
  Options,
  Script,
  ScriptInput,
  ScriptTarget,
  StatsValues
} from "../MemoryEngine.js"
import {
  engineError,
  humanDuration,
  invalidPathReason,
  isValidContainerName,
  makeId,
  matchesEvent,
  matchesLabels,
  normalizeReference,
  parseSignal,
  secondsToNanos,
  shortId,
  splitReference,
  statusOfReason,
  zeroTime
} from "./memoryDocker.js"

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

interface ImageRecord {
  readonly id: string
  readonly reference: string
  readonly definition: ImageDefinition
  readonly layerIds: ReadonlyArray<string>
  readonly layerSizes: ReadonlyArray<number>
  readonly createdMs: number
}

interface NetworkRecord {
  readonly id: string
  readonly name: string
  readonly driver: string
  readonly internal: boolean
  readonly labels: Readonly<Record<string, string>>
  readonly predefined: boolean
  /** Second and third octet of its /16 (172.17 for the default bridge); 0 = no addresses. */
  readonly subnet: number
  nextHost: number
}

interface Attachment {
  /** As given: the engine names it when the network is gone by the time the container starts. */
  readonly networkName: string
  readonly aliases: ReadonlyArray<string>
  ipAddress: string
}

interface LogEntry {
  readonly stream: "stdout" | "stderr"
  readonly text: string
  readonly timeMs: number
}

interface Waiter {
  readonly condition: "next-exit" | "not-running" | "removed"
  readonly deferred: Deferred.Deferred<WaitResult>
}

interface LogFollower {
  readonly queue: Queue.Queue<LogLine, DockerError | Cause.Done>
  readonly stdout: boolean
  readonly stderr: boolean
  readonly timestamps: boolean
}

interface FileRecord {
  readonly type: "file" | "directory" | "symlink"
  readonly mode: number
  readonly content: Uint8Array
}

interface ContainerRecord {
  readonly id: string
  readonly name: string
  readonly image: string
  readonly imageId: string
  readonly imageReference: string
  readonly options: CreateContainerOptions
  readonly createdMs: number
  readonly healthcheck: ReadonlyArray<string> | undefined
  status: "created" | "running" | "exited"
  removed: boolean
  exitCode: number
  oomKilled: boolean
  startedMs: number | undefined
  finishedMs: number | undefined
  pid: number
  health: { status: string; failingStreak: number } | undefined
  /** By network id. */
  readonly networks: Map<string, Attachment>
  readonly logs: Array<LogEntry>
  readonly files: Map<string, FileRecord>
  /** Incremented at every start, so a stale process fiber can tell it is no longer current. */
  run: number
  script: Script
  exited: Deferred.Deferred<void>
  readonly waiters: Set<Waiter>
  readonly followers: Set<LogFollower>
  cpuTotal: number
  lastSampleMs: number
}

interface Subscriber {
  readonly queue: Queue.Queue<EngineEvent, DockerError | Cause.Done>
  readonly options: EventsOptions
  readonly untilNanos: bigint | undefined
}

interface BufferedEvent {
  readonly event: EngineEvent
  readonly nanos: bigint
}

const isScriptList = (input: ScriptInput): input is ReadonlyArray<Script> => Array.isArray(input)

const toDefinition = (image: string | ImageDefinition): ImageDefinition =>
  typeof image === "string" ? { reference: image } : image

const millis = (input: Duration.Input): number => Duration.toMillis(input)

const iso = (ms: number | undefined): string => (ms === undefined ? zeroTime : new Date(ms).toISOString())

const nanosToMillis = (nanos: bigint): number => Number(nanos / 1_000_000n)

const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = chunks.reduce((n, c) => n + c.length, 0)
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const defaultDirectories = ["/", "/bin", "/dev", "/etc", "/proc", "/root", "/sys", "/tmp"]

/** Parses a tar archive with tar-stream, as the engine extracts it. */
const parseTar = (operation: string, bytes: Uint8Array) =>
  Effect.tryPromise({
    try: async () => {
      const extract = Tar.extract()
      const entries: Array<{ readonly header: Tar.Header; readonly content: Uint8Array }> = []
      const reading = (async () => {
        for await (const entry of extract) {
          const chunks: Array<Uint8Array> = []
          for await (const chunk of entry) chunks.push(chunk as Uint8Array)
          entries.push({ header: entry.header, content: concatBytes(chunks) })
        }
      })()
      extract.end(bytes)
      await reading
      return entries
    },
    catch: (cause) => engineError(operation, 400, `Error processing tar file: ${String(cause)}`)
  })

/** Packs files with tar-stream, as the live engine's `copyFiles` does. */
const packTar = (
  files: ReadonlyArray<{ readonly path: string; readonly content: Uint8Array; readonly mode: number }>
) =>
  Effect.promise(async () => {
    const pack = Tar.pack()
    for (const file of files) {
      pack.entry({ name: file.path.slice(1), mode: file.mode, size: file.content.length }, file.content)
    }
    pack.finalize()
    const chunks: Array<Uint8Array> = []
    for await (const chunk of pack) chunks.push(chunk as Uint8Array)
    return concatBytes(chunks)
  })

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const processes = yield* FiberMap.make<string>()
    const cpus = options.cpus ?? 2
    const memoryTotal = options.memoryTotal ?? 8 * 1024 * 1024 * 1024
    const cgroup = options.cgroup ?? "v1"
    const eventsBuffer = options.eventsBuffer ?? 256

    const containers = new Map<string, ContainerRecord>()
    const networks = new Map<string, NetworkRecord>()
    const images = new Map<string, ImageRecord>()
    const registry = new Map<string, ImageDefinition>()
    const containerScripts = new Map<string, ScriptInput>()
    const imageScripts = new Map<string, ScriptInput>()
    const runCounts = new Map<string, number>()
    const faults = new Map<Operation, Array<{ remaining: number; readonly error: DockerError }>>()
    const delays = new Map<Operation, Duration.Input>()
    const calls: Array<Call> = []
    const history: Array<EngineEvent> = []
    let buffer: Array<BufferedEvent> = []
    const subscribers = new Set<Subscriber>()
    const open = { events: 0, stats: 0, logs: 0, pulls: 0 }
    const counters = { container: 0, network: 0, image: 0, pid: 100, subnet: 18, name: 0 }
    let lastEventNanos = -1n

    // --- events --------------------------------------------------------------------------

    const emit = (
      nowNanos: bigint,
      type: string,
      action: string,
      actorId: string,
      attributes: Record<string, string>
    ) => {
      // Strictly increasing (by 1 µs at least) so order and `since` resume are unambiguous.
      const nanos = nowNanos > lastEventNanos ? nowNanos : lastEventNanos + 1000n
      lastEventNanos = nanos
      const event: EngineEvent = {
        type,
        action,
        actorId,
        attributes,
        time: Number(nanos / 1_000_000_000n),
        timeNano: Number(nanos)
      }
      history.push(event)
      buffer.push({ event, nanos })
      if (buffer.length > eventsBuffer) buffer = buffer.slice(buffer.length - eventsBuffer)
      for (const subscriber of subscribers) {
        if (subscriber.untilNanos !== undefined && nanos > subscriber.untilNanos) continue
        if (matchesEvent(event, subscriber.options)) Queue.offerUnsafe(subscriber.queue, event)
      }
    }

    const containerAttributes = (
      c: ContainerRecord,
      extra: Record<string, string> = {}
    ): Record<string, string> => ({
      ...(c.options.labels ?? {}),
      image: c.image,
      name: c.name,
      ...extra
    })

    // --- lookups -------------------------------------------------------------------------

    const lookupContainer = (ref: string): ContainerRecord | undefined => {
      const byId = containers.get(ref)
      if (byId !== undefined) return byId
      const name = ref.startsWith("/") ? ref.slice(1) : ref
      for (const c of containers.values()) if (c.name === name) return c
      if (ref.length === 0) return undefined
      const matches = [...containers.values()].filter((c) => c.id.startsWith(ref))
      return matches.length === 1 ? matches[0] : undefined
    }

    const findContainer = (operation: string, ref: string) =>
      Effect.suspend(() => {
        const c = lookupContainer(ref)
        return c === undefined
          ? Effect.fail(engineError(operation, 404, `No such container: ${ref}`))
          : Effect.succeed(c)
      })

    const lookupNetwork = (ref: string): NetworkRecord | undefined => {
      const byId = networks.get(ref)
      if (byId !== undefined) return byId
      for (const n of networks.values()) if (n.name === ref) return n
      if (ref.length === 0) return undefined
      const matches = [...networks.values()].filter((n) => n.id.startsWith(ref))
      return matches.length === 1 ? matches[0] : undefined
    }

    const findNetwork = (operation: string, ref: string) =>
      Effect.suspend(() => {
        const n = lookupNetwork(ref)
        return n === undefined
          ? Effect.fail(engineError(operation, 404, `network ${ref} not found`))
          : Effect.succeed(n)
      })

    const lookupImage = (ref: string): ImageRecord | undefined => {
      const byRef = images.get(normalizeReference(ref))
      if (byRef !== undefined) return byRef
      const hex = ref.replace(/^sha256:/, "")
      if (hex.length === 0) return undefined
      const matches = [...images.values()].filter((i) => i.id.slice("sha256:".length).startsWith(hex))
      return matches.length >= 1 && /^[0-9a-f]+$/.test(hex) ? matches[0] : undefined
    }

    const findImage = (operation: string, ref: string) =>
      Effect.suspend(() => {
        const image = lookupImage(ref)
        return image === undefined
          ? Effect.fail(engineError(operation, 404, `No such image: ${ref}`))
          : Effect.succeed(image)
      })

    // --- calls, faults, delays -------------------------------------------------------------

    const guard = <A, E>(operation: Operation, args: ReadonlyArray<unknown>, effect: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        calls.push({ operation, args })
        const delay = delays.get(operation)
        if (delay !== undefined) yield* Effect.sleep(delay)
        const pending = faults.get(operation)
        const fault = pending?.[0]
        if (pending !== undefined && fault !== undefined) {
          fault.remaining -= 1
          if (fault.remaining <= 0) pending.shift()
          return yield* Effect.fail(fault.error)
        }
        return yield* effect
      })

    const guardStream = <A, E>(
      operation: Operation,
      args: ReadonlyArray<unknown>,
      stream: Stream.Stream<A, E>
    ) => Stream.unwrap(guard(operation, args, Effect.succeed(stream)))

    const counted = <A, E>(kind: keyof typeof open, stream: Stream.Stream<A, E>): Stream.Stream<A, E> =>
      Stream.unwrap(
        Effect.sync(() => {
          open[kind] += 1
          return stream.pipe(Stream.ensuring(Effect.sync(() => (open[kind] -= 1))))
        })
      )

    // --- images --------------------------------------------------------------------------

    const addImageSync = (definition: ImageDefinition, nowMs: number): ImageRecord => {
      const reference = normalizeReference(definition.reference)
      const existing = images.get(reference)
      if (existing !== undefined) return existing
      counters.image += 1
      const layerSizes = definition.layers ?? [2_000_000]
      const record: ImageRecord = {
        id: `sha256:${makeId("image", counters.image)}`,
        reference,
        definition,
        layerSizes,
        layerIds: layerSizes.map((_, i) => shortId(makeId(`layer/${reference}`, i))),
        createdMs: nowMs
      }
      images.set(reference, record)
      if (definition.script !== undefined) imageScripts.set(reference, definition.script)
      return record
    }

    const imageInspect = (image: ImageRecord): ImageInspect => {
      const d = image.definition
      return {
        id: image.id,
        repoTags: [image.reference],
        size: image.layerSizes.reduce((n, s) => n + s, 0),
        ...(d.cmd !== undefined ? { cmd: d.cmd } : {}),
        ...(d.entrypoint !== undefined ? { entrypoint: d.entrypoint } : {}),
        ...(d.healthcheck !== undefined ? { healthcheck: d.healthcheck } : {}),
        labels: d.labels ?? {}
      }
    }

    // --- networks ------------------------------------------------------------------------

    const addNetworkSync = (
      name: string,
      driver: string,
      internal: boolean,
      labels: Readonly<Record<string, string>>,
      predefined: boolean
    ): NetworkRecord => {
      counters.network += 1
      const subnet = driver === "bridge" ? (name === "bridge" ? 17 : counters.subnet++) : 0
      const record: NetworkRecord = {
        id: makeId("network", counters.network),
        name,
        driver,
        internal,
        labels,
        predefined,
        subnet,
        nextHost: 2
      }
      networks.set(record.id, record)
      return record
    }
    addNetworkSync("bridge", "bridge", false, {}, true)
    addNetworkSync("host", "host", false, {}, true)
    addNetworkSync("none", "null", false, {}, true)

    const assignAddress = (network: NetworkRecord): string => {
      if (network.subnet === 0) return ""
      const host = network.nextHost
      network.nextHost += 1
      return `172.${network.subnet}.${Math.floor(host / 256)}.${host % 256}`
    }

    const networkInspect = (network: NetworkRecord, withContainers: boolean): NetworkInspect => {
      const attached: Record<string, { name: string; ipv4Address: string }> = {}
      if (withContainers) {
        for (const c of containers.values()) {
          const attachment = c.networks.get(network.id)
          if (attachment !== undefined && c.status === "running") {
            attached[c.id] = {
              name: c.name,
              ipv4Address: attachment.ipAddress === "" ? "" : `${attachment.ipAddress}/16`
            }
          }
        }
      }
      return {
        id: network.id,
        name: network.name,
        driver: network.driver,
        internal: network.internal,
        labels: network.labels,
        containers: attached
      }
    }

    const connectSync = (
      c: ContainerRecord,
      network: NetworkRecord,
      attachment: Attachment,
      nowNanos: bigint
    ) => {
      attachment.ipAddress = assignAddress(network)
      emit(nowNanos, "network", "connect", network.id, {
        container: c.id,
        name: network.name,
        type: network.driver
      })
    }

    const disconnectSync = (
      c: ContainerRecord,
      network: NetworkRecord,
      attachment: Attachment,
      nowNanos: bigint
    ) => {
      attachment.ipAddress = ""
      emit(nowNanos, "network", "disconnect", network.id, {
        container: c.id,
        name: network.name,
        type: network.driver
      })
    }

    // --- containers ----------------------------------------------------------------------

    const resolveScript = (c: ContainerRecord): Script => {
      const byName = containerScripts.get(c.name)
      const key = byName !== undefined ? `container:${c.name}` : `image:${c.imageReference}`
      const input = byName ?? imageScripts.get(c.imageReference)
      if (input === undefined) return {}
      const n = runCounts.get(key) ?? 0
      runCounts.set(key, n + 1)
      if (!isScriptList(input)) return input
      return input[Math.min(n, input.length - 1)] ?? {}
    }

    const writeLogSync = (c: ContainerRecord, stream: "stdout" | "stderr", text: string, nowMs: number) => {
      const entry: LogEntry = { stream: c.options.tty === true ? "stdout" : stream, text, timeMs: nowMs }
      c.logs.push(entry)
      for (const follower of c.followers) {
        const line = toLogLine(entry, follower)
        if (line !== undefined) Queue.offerUnsafe(follower.queue, line)
      }
    }

    const toLogLine = (
      entry: LogEntry,
      selection: { readonly stdout: boolean; readonly stderr: boolean; readonly timestamps: boolean }
    ): LogLine | undefined => {
      if (entry.stream === "stdout" && !selection.stdout) return undefined
      if (entry.stream === "stderr" && !selection.stderr) return undefined
      return selection.timestamps
        ? { stream: entry.stream, text: entry.text, timestamp: iso(entry.timeMs) }
        : { stream: entry.stream, text: entry.text }
    }

    const endFollowers = (c: ContainerRecord) => {
      for (const follower of c.followers) Queue.endUnsafe(follower.queue)
      c.followers.clear()
    }

    const setHealthSync = (c: ContainerRecord, status: string, nowNanos: bigint) => {
      const previous = c.health?.status
      const retries = c.options.healthcheck?.retries ?? 3
      c.health = { status, failingStreak: status === "unhealthy" ? retries : 0 }
      if (previous !== status && status !== "starting") {
        emit(nowNanos, "container", `health_status: ${status}`, c.id, containerAttributes(c))
      }
    }

    const resolveWaiters = (c: ContainerRecord, conditions: ReadonlyArray<Waiter["condition"]>) => {
      for (const waiter of c.waiters) {
        if (conditions.includes(waiter.condition)) {
          Deferred.doneUnsafe(waiter.deferred, Effect.succeed({ exitCode: c.exitCode }))
          c.waiters.delete(waiter)
        }
      }
    }

    const removeSync = (c: ContainerRecord, nowNanos: bigint) => {
      c.removed = true
      containers.delete(c.id)
      endFollowers(c)
      emit(nowNanos, "container", "destroy", c.id, containerAttributes(c))
      resolveWaiters(c, ["removed", "next-exit", "not-running"])
    }

    /** The process ended: the state, `die`, network disconnects, waiters, auto-remove. */
    const exitSync = (c: ContainerRecord, code: number, nowNanos: bigint, oomKilled = false) => {
      if (c.status !== "running") return
      c.status = "exited"
      c.exitCode = code
      c.oomKilled = oomKilled
      c.finishedMs = nanosToMillis(nowNanos)
      c.pid = 0
      emit(nowNanos, "container", "die", c.id, containerAttributes(c, { exitCode: String(code) }))
      for (const [networkId, attachment] of c.networks) {
        const network = networks.get(networkId)
        if (network !== undefined) disconnectSync(c, network, attachment, nowNanos)
      }
      Deferred.doneUnsafe(c.exited, Effect.void)
      resolveWaiters(c, ["next-exit", "not-running"])
      endFollowers(c)
      if (c.options.autoRemove === true) removeSync(c, nowNanos)
    }

    /** Delivers a signal to the process: 9 kills; others per the script's `onStopSignal`. */
    const signalSync = (c: ContainerRecord, signal: number, nowNanos: bigint): number | undefined => {
      emit(nowNanos, "container", "kill", c.id, containerAttributes(c, { signal: String(signal) }))
      if (signal === 9) {
        exitSync(c, 137, nowNanos)
        return undefined
      }
      const behaviour = c.script.onStopSignal ?? "exit"
      if (behaviour === "ignore") return undefined
      if (behaviour === "exit") {
        exitSync(c, 128 + signal, nowNanos)
        return undefined
      }
      // Graceful shutdown: the caller schedules the exit after this many milliseconds.
      return millis(behaviour.after)
    }

    const gracefulExitCode = (c: ContainerRecord, signal: number): number => {
      const behaviour = c.script.onStopSignal
      return typeof behaviour === "object" && behaviour.exitCode !== undefined
        ? behaviour.exitCode
        : 128 + signal
    }

    /** Exits after `delayMs` unless the run ended meanwhile; returns when it has exited or the delay passed. */
    const exitAfter = (c: ContainerRecord, run: number, delayMs: number, code: number) =>
      Effect.raceFirst(
        Effect.sleep(delayMs).pipe(
          Effect.andThen(Clock.currentTimeNanos),
          Effect.flatMap((now) =>
            Effect.sync(() => {
              if (c.run === run) exitSync(c, code, now)
            })
          )
        ),
        Deferred.await(c.exited)
      )

    const processOf = (c: ContainerRecord, run: number, script: Script) => {
      const actions: Array<{ readonly at: number; readonly act: (nowNanos: bigint) => void }> = []
      for (const log of script.logs ?? []) {
        actions.push({
          at: millis(log.at ?? 0),
          act: (now) => writeLogSync(c, log.stream ?? "stdout", log.text, nanosToMillis(now))
        })
      }
      if (script.health !== undefined) {
        for (const step of script.health) {
          actions.push({ at: millis(step.at), act: (now) => setHealthSync(c, step.status, now) })
        }
      } else if (c.health !== undefined) {
        // A passing healthcheck turns healthy at its first probe, one interval after the start.
        actions.push({
          at: c.options.healthcheck?.intervalMs ?? 30_000,
          act: (now) => setHealthSync(c, "healthy", now)
        })
      }
      const exit = script.exit
      if (exit !== undefined) {
        actions.push({
          at: millis(exit.after),
          act: (now) => exitSync(c, exit.code, now, exit.oomKilled === true)
        })
      }
      // Stable: at equal times logs and health come before the exit.
      actions.sort((a, b) => a.at - b.at)
      return Effect.gen(function* () {
        let elapsed = 0
        for (const action of actions) {
          if (action.at > elapsed) {
            yield* Effect.sleep(action.at - elapsed)
            elapsed = action.at
          }
          if (c.run !== run || c.status !== "running") return
          action.act(yield* Clock.currentTimeNanos)
        }
      })
    }

    const containerInspect = (c: ContainerRecord): ContainerInspect => {
      const attached: Record<
        string,
        { networkId: string; ipAddress: string; aliases: ReadonlyArray<string> }
      > = {}
      for (const [networkId, attachment] of c.networks) {
        const network = networks.get(networkId)
        if (network === undefined) continue
        attached[network.name] = { networkId, ipAddress: attachment.ipAddress, aliases: attachment.aliases }
      }
      return {
        id: c.id,
        name: c.name,
        image: c.image,
        imageId: c.imageId,
        created: iso(c.createdMs),
        labels: c.options.labels ?? {},
        restartCount: 0,
        state: {
          status: c.status,
          running: c.status === "running",
          restarting: false,
          oomKilled: c.oomKilled,
          pid: c.pid,
          exitCode: c.exitCode,
          error: "",
          startedAt: iso(c.startedMs),
          finishedAt: iso(c.finishedMs),
          ...(c.health !== undefined ? { health: { ...c.health } } : {})
        },
        networks: attached,
        tty: c.options.tty === true,
        restartPolicy: c.options.restartPolicy?.name ?? "no"
      }
    }

    const containerSummary = (c: ContainerRecord, nowMs: number): ContainerSummary => ({
      id: c.id,
      names: [c.name],
      image: c.image,
      labels: c.options.labels ?? {},
      state: c.status,
      status:
        c.status === "running"
          ? `Up ${humanDuration(nowMs - (c.startedMs ?? nowMs))}${c.health !== undefined ? ` (${c.health.status === "starting" ? "health: starting" : c.health.status})` : ""}`
          : c.status === "created"
            ? "Created"
            : `Exited (${c.exitCode}) ${humanDuration(nowMs - (c.finishedMs ?? nowMs))} ago`,
      created: Math.floor(c.createdMs / 1000)
    })

    // --- stats ---------------------------------------------------------------------------

    const statsValuesAt = (c: ContainerRecord, second: number): StatsValues => {
      const stats = c.script.stats
      if (stats === undefined) return {}
      if (typeof stats === "function") return stats(second)
      const list: ReadonlyArray<StatsValues> = stats
      return list[Math.min(second, list.length - 1)] ?? {}
    }

    const emptyCpu = { totalUsage: 0 }

    /**
     * What the engine's collector read a second before now. A non-streamed sample carries it
     * as `precpu` (Docker waits for a second reading), so CPU % works on `statsOnce` too.
     */
    const previousCpu = (c: ContainerRecord, nowMs: number): StatsSample["cpu"] => {
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
    const sampleSync = (c: ContainerRecord, nowMs: number, precpu: StatsSample["cpu"]): StatsSample => {
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
          i === 0
            ? { rxBytes: values.rxBytes ?? 0, txBytes: values.txBytes ?? 0 }
            : { rxBytes: 0, txBytes: 0 }
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

    // --- pulls ---------------------------------------------------------------------------

    type PullStep =
      | { readonly _tag: "Line"; readonly line: PullProgress; readonly delayMs: number }
      | { readonly _tag: "Fail"; readonly message: string }
      | { readonly _tag: "Land" }

    const pullSteps = (definition: ImageDefinition, reference: string): ReadonlyArray<PullStep> => {
      const { path, tag } = splitReference(reference)
      const pull = definition.pull ?? {}
      const delayMs = pull.stepDelay !== undefined ? millis(pull.stepDelay) : 0
      const steps = Math.max(1, pull.steps ?? 3)
      const digest = `sha256:${makeId("digest", reference.length)}`
      const steps0: Array<PullStep> = [
        { _tag: "Line", line: { status: `Pulling from ${path}`, id: tag }, delayMs: 0 }
      ]
      if (images.has(reference)) {
        return [
          ...steps0,
          { _tag: "Line", line: { status: `Digest: ${digest}` }, delayMs: 0 },
          { _tag: "Line", line: { status: `Status: Image is up to date for ${reference}` }, delayMs: 0 }
        ]
      }
      const sizes = definition.layers ?? [2_000_000]
      const ids = sizes.map((_, i) => shortId(makeId(`layer/${reference}`, i)))
      const lines: Array<PullStep> = [...steps0]
      for (const id of ids) lines.push({ _tag: "Line", line: { status: "Pulling fs layer", id }, delayMs: 0 })
      for (const [i, id] of ids.entries()) {
        if (pull.fail !== undefined && (pull.fail.afterLayers ?? 0) === i) {
          lines.push({ _tag: "Fail", message: pull.fail.message })
          return lines
        }
        const total = sizes[i] ?? 0
        for (let k = 1; k <= steps; k++) {
          lines.push({
            _tag: "Line",
            line: { status: "Downloading", id, current: Math.round((total * k) / steps), total },
            delayMs
          })
        }
        lines.push({ _tag: "Line", line: { status: "Verifying Checksum", id }, delayMs: 0 })
        lines.push({ _tag: "Line", line: { status: "Download complete", id }, delayMs: 0 })
        for (let k = 1; k <= steps; k++) {
          lines.push({
            _tag: "Line",
            line: { status: "Extracting", id, current: Math.round((total * k) / steps), total },
            delayMs
          })
        }
        lines.push({ _tag: "Line", line: { status: "Pull complete", id }, delayMs: 0 })
      }
      if (pull.fail !== undefined) {
        lines.push({ _tag: "Fail", message: pull.fail.message })
        return lines
      }
      lines.push({ _tag: "Land" })
      lines.push({ _tag: "Line", line: { status: `Digest: ${digest}` }, delayMs: 0 })
      lines.push({
        _tag: "Line",
        line: { status: `Status: Downloaded newer image for ${reference}` },
        delayMs: 0
      })
      return lines
    }

    // --- the DockerEngine shape ------------------------------------------------------------

    const createContainer = (createOptions: CreateContainerOptions) =>
      guard(
        "createContainer",
        [createOptions],
        Effect.gen(function* () {
          const nowNanos = yield* Clock.currentTimeNanos
          const name = createOptions.name?.replace(/^\//, "")
          if (name !== undefined && !isValidContainerName(name)) {
            return yield* Effect.fail(
              engineError(
                "createContainer",
                400,
                `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`
              )
            )
          }
          if (name !== undefined) {
            const taken = [...containers.values()].find((c) => c.name === name)
            if (taken !== undefined) {
              return yield* Effect.fail(
                engineError(
                  "createContainer",
                  409,
                  `Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`
                )
              )
            }
          }
          const image = lookupImage(createOptions.image)
          if (image === undefined) {
            return yield* Effect.fail(
              engineError("createContainer", 404, `No such image: ${createOptions.image}`)
            )
          }
          const mode = createOptions.networkMode ?? "bridge"
          const networkName = mode === "default" ? "bridge" : mode
          // Like Docker, an unknown network is only an error when the container starts.
          const attachTo = networkName.startsWith("container:") ? undefined : lookupNetwork(networkName)
          counters.container += 1
          counters.name += 1
          const id = makeId("container", counters.container)
          const healthcheck = createOptions.healthcheck?.test ?? image.definition.healthcheck
          const record: ContainerRecord = {
            id,
            name: name ?? `memory_container_${counters.name}`,
            image: createOptions.image,
            imageId: image.id,
            imageReference: image.reference,
            options: createOptions,
            createdMs: nanosToMillis(nowNanos),
            healthcheck: healthcheck !== undefined && healthcheck[0] !== "NONE" ? healthcheck : undefined,
            status: "created",
            removed: false,
            exitCode: 0,
            oomKilled: false,
            startedMs: undefined,
            finishedMs: undefined,
            pid: 0,
            health: undefined,
            networks: new Map(),
            logs: [],
            files: new Map(
              defaultDirectories.map((dir) => [
                dir,
                { type: "directory", mode: 0o755, content: new Uint8Array() }
              ])
            ),
            run: 0,
            script: {},
            exited: Deferred.makeUnsafe<void>(),
            waiters: new Set(),
            followers: new Set(),
            cpuTotal: 0,
            lastSampleMs: 0
          }
          if (!networkName.startsWith("container:")) {
            const userNetwork = attachTo === undefined || !attachTo.predefined
            record.networks.set(attachTo?.id ?? `missing:${networkName}`, {
              networkName,
              aliases: userNetwork ? (createOptions.networkAliases ?? []) : [],
              ipAddress: ""
            })
          }
          containers.set(id, record)
          emit(nowNanos, "container", "create", id, containerAttributes(record))
          return { id, warnings: [] as ReadonlyArray<string> }
        })
      )

    const startContainer = (ref: string) =>
      guard(
        "startContainer",
        [ref],
        Effect.gen(function* () {
          const c = yield* findContainer("startContainer", ref)
          if (c.status === "running") return
          for (const [networkId, attachment] of c.networks) {
            if (!networks.has(networkId)) {
              return yield* Effect.fail(
                engineError("startContainer", 404, `network ${attachment.networkName} not found`)
              )
            }
          }
          const nowNanos = yield* Clock.currentTimeNanos
          const nowMs = nanosToMillis(nowNanos)
          c.run += 1
          c.status = "running"
          c.exitCode = 0
          c.oomKilled = false
          c.startedMs = nowMs
          c.lastSampleMs = nowMs
          c.cpuTotal = 20_000_000
          counters.pid += 1
          c.pid = counters.pid
          c.exited = Deferred.makeUnsafe<void>()
          c.script = resolveScript(c)
          c.health =
            c.healthcheck !== undefined || c.script.health !== undefined
              ? { status: "starting", failingStreak: 0 }
              : undefined
          for (const [networkId, attachment] of c.networks) {
            const network = networks.get(networkId)
            if (network !== undefined) connectSync(c, network, attachment, nowNanos)
          }
          emit(nowNanos, "container", "start", c.id, containerAttributes(c))
          yield* FiberMap.run(processes, c.id, processOf(c, c.run, c.script))
        })
      )

    const stopContainer = (ref: string, stopOptions?: { readonly timeout?: number }) =>
      guard(
        "stopContainer",
        [ref, stopOptions],
        Effect.gen(function* () {
          const c = yield* findContainer("stopContainer", ref)
          if (c.status !== "running") return
          const signal = parseSignal(c.options.stopSignal ?? "SIGTERM") ?? 15
          const timeoutMs = (stopOptions?.timeout ?? c.options.stopTimeout ?? 10) * 1000
          const run = c.run
          const graceMs = signalSync(c, signal, yield* Clock.currentTimeNanos)
          if (c.run === run && c.status === "running") {
            if (graceMs !== undefined && graceMs <= timeoutMs) {
              yield* exitAfter(c, run, graceMs, gracefulExitCode(c, signal))
            } else {
              yield* Effect.raceFirst(Effect.sleep(timeoutMs), Deferred.await(c.exited))
              if (c.run === run && c.status === "running") signalSync(c, 9, yield* Clock.currentTimeNanos)
            }
          }
          yield* FiberMap.remove(processes, c.id)
          if (!c.removed)
            emit(yield* Clock.currentTimeNanos, "container", "stop", c.id, containerAttributes(c))
        })
      )

    const killContainer = (ref: string, killOptions?: { readonly signal?: string }) =>
      guard(
        "killContainer",
        [ref, killOptions],
        Effect.gen(function* () {
          const c = yield* findContainer("killContainer", ref)
          const signalName = killOptions?.signal ?? "SIGKILL"
          const signal = parseSignal(signalName)
          if (signal === undefined) {
            return yield* Effect.fail(engineError("killContainer", 400, `Invalid signal: ${signalName}`))
          }
          if (c.status !== "running") {
            return yield* Effect.fail(
              engineError(
                "killContainer",
                409,
                `Cannot kill container: ${ref}: Container ${c.id} is not running`
              )
            )
          }
          const run = c.run
          const graceMs = signalSync(c, signal, yield* Clock.currentTimeNanos)
          if (graceMs !== undefined) {
            yield* Effect.forkIn(exitAfter(c, run, graceMs, gracefulExitCode(c, signal)), scope)
          } else if (c.status !== "running") {
            yield* FiberMap.remove(processes, c.id)
          }
        })
      )

    const removeContainer = (
      ref: string,
      removeOptions?: { readonly force?: boolean; readonly volumes?: boolean }
    ) =>
      guard(
        "removeContainer",
        [ref, removeOptions],
        Effect.gen(function* () {
          const c = yield* findContainer("removeContainer", ref)
          const nowNanos = yield* Clock.currentTimeNanos
          if (c.status === "running") {
            if (removeOptions?.force !== true) {
              return yield* Effect.fail(
                engineError(
                  "removeContainer",
                  409,
                  `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`
                )
              )
            }
            signalSync(c, 9, nowNanos)
          }
          yield* FiberMap.remove(processes, c.id)
          if (!c.removed) removeSync(c, nowNanos)
        })
      )

    const inspectContainer = (ref: string) =>
      guard("inspectContainer", [ref], Effect.map(findContainer("inspectContainer", ref), containerInspect))

    const listContainers = (listOptions?: {
      readonly all?: boolean
      readonly labels?: Readonly<Record<string, string | true>>
    }) =>
      guard(
        "listContainers",
        [listOptions],
        Effect.map(Clock.currentTimeMillis, (nowMs) =>
          [...containers.values()]
            .filter(
              (c) =>
                (listOptions?.all === true || c.status === "running") &&
                matchesLabels(c.options.labels ?? {}, listOptions?.labels)
            )
            .reverse()
            .map((c) => containerSummary(c, nowMs))
        )
      )

    const waitContainer = (
      ref: string,
      waitOptions?: { readonly condition?: "next-exit" | "not-running" | "removed" }
    ) =>
      guard(
        "waitContainer",
        [ref, waitOptions],
        Effect.gen(function* () {
          const c = yield* findContainer("waitContainer", ref)
          const condition = waitOptions?.condition ?? "next-exit"
          if (condition === "not-running" && c.status !== "running") return { exitCode: c.exitCode }
          const waiter: Waiter = { condition, deferred: Deferred.makeUnsafe<WaitResult>() }
          c.waiters.add(waiter)
          return yield* Deferred.await(waiter.deferred).pipe(
            Effect.ensuring(Effect.sync(() => c.waiters.delete(waiter)))
          )
        })
      )

    const stats = (ref: string) =>
      guardStream(
        "stats",
        [ref],
        Stream.unwrap(
          Effect.map(findContainer("stats", ref), (c) =>
            counted(
              "stats",
              Stream.unfold({ first: true, precpu: emptyCpu as StatsSample["cpu"] }, (state) =>
                Effect.gen(function* () {
                  if (!state.first) yield* Effect.sleep("1 second")
                  if (c.removed) return undefined
                  const sample = sampleSync(c, yield* Clock.currentTimeMillis, state.precpu)
                  return [sample, { first: false, precpu: sample.cpu }] as const
                })
              )
            )
          )
        )
      )

    const statsOnce = (ref: string) =>
      guard(
        "statsOnce",
        [ref],
        Effect.gen(function* () {
          const c = yield* findContainer("statsOnce", ref)
          const nowMs = yield* Clock.currentTimeMillis
          return sampleSync(c, nowMs, previousCpu(c, nowMs))
        })
      )

    const logs = (ref: string, logsOptions: LogsOptions = {}) =>
      guardStream(
        "logs",
        [ref, logsOptions],
        Stream.unwrap(
          Effect.gen(function* () {
            const c = yield* findContainer("logs", ref)
            const noneChosen = logsOptions.stdout === false && logsOptions.stderr === false
            if (noneChosen) {
              return yield* Effect.fail(
                engineError("logs", 400, "Bad parameters: you must choose at least one stream")
              )
            }
            const selection = {
              stdout: logsOptions.stdout ?? true,
              stderr: logsOptions.stderr ?? true,
              timestamps: logsOptions.timestamps === true
            }
            return counted(
              "logs",
              Stream.callback<LogLine, DockerError>((queue) =>
                Effect.sync(() => {
                  const sinceMs = logsOptions.since !== undefined ? logsOptions.since * 1000 : undefined
                  let lines = c.logs.filter((entry) => sinceMs === undefined || entry.timeMs >= sinceMs)
                  // Like the engine's log file, `tail` counts lines of both streams before selecting one.
                  if (logsOptions.tail !== undefined)
                    lines = logsOptions.tail === 0 ? [] : lines.slice(-logsOptions.tail)
                  for (const entry of lines) {
                    const line = toLogLine(entry, selection)
                    if (line !== undefined) Queue.offerUnsafe(queue, line)
                  }
                  if (logsOptions.follow !== true || c.status !== "running" || c.removed) {
                    Queue.endUnsafe(queue)
                    return undefined
                  }
                  const follower: LogFollower = { queue, ...selection }
                  c.followers.add(follower)
                  return follower
                }).pipe(
                  Effect.tap((follower) =>
                    follower === undefined
                      ? Effect.void
                      : Effect.addFinalizer(() => Effect.sync(() => c.followers.delete(follower)))
                  )
                )
              )
            )
          })
        )
      )

    const extractInto = (operation: string, c: ContainerRecord, path: string, bytes: Uint8Array) =>
      Effect.gen(function* () {
        const entries = yield* parseTar(operation, bytes)
        for (const { header, content } of entries) {
          const target = Posix.join(path, header.name).replace(/\/+$/, "") || "/"
          let dir = Posix.dirname(target)
          while (!c.files.has(dir)) {
            c.files.set(dir, { type: "directory", mode: 0o755, content: new Uint8Array() })
            dir = Posix.dirname(dir)
          }
          const type =
            header.type === "directory" ? "directory" : header.type === "symlink" ? "symlink" : "file"
          c.files.set(target, {
            type,
            mode: header.mode,
            content: type === "symlink" ? new TextEncoder().encode(header.linkname) : content
          })
        }
      })

    const putArchive = <E>(ref: string, path: string, tar: Stream.Stream<Uint8Array, E>) =>
      guard(
        "putArchive",
        [ref, path],
        Effect.gen(function* () {
          const c = yield* findContainer("putArchive", ref)
          const normalized = Posix.normalize(path).replace(/(.)\/+$/, "$1")
          if (c.files.get(normalized)?.type !== "directory") {
            return yield* Effect.fail(
              engineError("putArchive", 404, `Could not find the file ${path} in container ${ref}`)
            )
          }
          const chunks = yield* Stream.runCollect(tar)
          yield* extractInto("putArchive", c, normalized, concatBytes(chunks))
        })
      )

    const copyFiles = (ref: string, files: ReadonlyArray<ContainerFile>) =>
      guard(
        "copyFiles",
        [ref, files.map((f) => f.path)],
        Effect.gen(function* () {
          const c = yield* findContainer("copyFiles", ref)
          const contents: Array<{ path: string; content: Uint8Array; mode: number }> = []
          for (const file of files) {
            const invalid = invalidPathReason(file.path)
            if (invalid !== undefined) {
              return yield* Effect.fail(
                engineError("copyFiles", 400, `invalid path ${JSON.stringify(file.path)}: ${invalid}`)
              )
            }
            const content =
              "content" in file
                ? typeof file.content === "string"
                  ? new TextEncoder().encode(file.content)
                  : file.content
                : concatBytes(yield* Stream.runCollect(file.stream))
            if ("size" in file && content.length !== file.size) {
              return yield* Effect.fail(
                engineError(
                  "copyFiles",
                  400,
                  `${file.path}: ${content.length} bytes streamed, ${file.size} declared`
                )
              )
            }
            contents.push({ path: file.path, content, mode: file.mode ?? 0o644 })
          }
          yield* extractInto("copyFiles", c, "/", yield* packTar(contents))
        })
      )

    const pullImage = (reference: string) =>
      guardStream(
        "pullImage",
        [reference],
        Stream.unwrap(
          Effect.sync(() => {
            const normalized = normalizeReference(reference)
            const definition = registry.get(normalized)
            if (definition === undefined) {
              return Stream.fail(
                engineError(
                  "pullImage",
                  404,
                  `manifest for ${reference} not found: manifest unknown: manifest unknown`
                )
              )
            }
            return counted(
              "pulls",
              Stream.fromIterable(pullSteps(definition, normalized)).pipe(
                Stream.mapEffect((step) =>
                  Effect.gen(function* () {
                    if (step._tag === "Fail") {
                      return yield* Effect.fail(
                        new DockerError({
                          reason: "ServerError",
                          operation: "pullImage",
                          message: step.message.includes(reference)
                            ? step.message
                            : `${reference}: ${step.message}`
                        })
                      )
                    }
                    if (step._tag === "Land") {
                      const nowNanos = yield* Clock.currentTimeNanos
                      addImageSync({ ...definition, reference: normalized }, nanosToMillis(nowNanos))
                      emit(nowNanos, "image", "pull", normalized, { name: normalized })
                      return undefined
                    }
                    if (step.delayMs > 0) yield* Effect.sleep(step.delayMs)
                    return step.line
                  })
                ),
                Stream.filter((line): line is PullProgress => line !== undefined)
              )
            )
          })
        )
      )

    const inspectImage = (reference: string) =>
      guard("inspectImage", [reference], Effect.map(findImage("inspectImage", reference), imageInspect))

    const removeImage = (reference: string, removeOptions?: { readonly force?: boolean }) =>
      guard(
        "removeImage",
        [reference, removeOptions],
        Effect.gen(function* () {
          const image = yield* findImage("removeImage", reference)
          const user = [...containers.values()].find((c) => c.imageId === image.id)
          if (user !== undefined && removeOptions?.force !== true) {
            return yield* Effect.fail(
              engineError(
                "removeImage",
                409,
                `conflict: unable to remove repository reference "${reference}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(image.id)}`
              )
            )
          }
          const nowNanos = yield* Clock.currentTimeNanos
          images.delete(image.reference)
          emit(nowNanos, "image", "untag", image.id, { name: image.id })
          emit(nowNanos, "image", "delete", image.id, { name: image.id })
        })
      )

    const createNetwork = (networkOptions: {
      readonly name: string
      readonly driver?: string
      readonly internal?: boolean
      readonly labels?: Readonly<Record<string, string>>
    }) =>
      guard(
        "createNetwork",
        [networkOptions],
        Effect.gen(function* () {
          const nowNanos = yield* Clock.currentTimeNanos
          if ([...networks.values()].some((n) => n.name === networkOptions.name)) {
            return yield* Effect.fail(
              engineError("createNetwork", 409, `network with name ${networkOptions.name} already exists`)
            )
          }
          const driver = networkOptions.driver ?? "bridge"
          if (driver !== "bridge") {
            return yield* Effect.fail(engineError("createNetwork", 404, `plugin "${driver}" not found`))
          }
          const network = addNetworkSync(
            networkOptions.name,
            driver,
            networkOptions.internal === true,
            networkOptions.labels ?? {},
            false
          )
          emit(nowNanos, "network", "create", network.id, { name: network.name, type: network.driver })
          return { id: network.id }
        })
      )

    const connectNetwork = (
      networkRef: string,
      containerRef: string,
      connectOptions?: { readonly aliases?: ReadonlyArray<string> }
    ) =>
      guard(
        "connectNetwork",
        [networkRef, containerRef, connectOptions],
        Effect.gen(function* () {
          const network = yield* findNetwork("connectNetwork", networkRef)
          const c = yield* findContainer("connectNetwork", containerRef)
          if (c.networks.has(network.id)) {
            return yield* Effect.fail(
              engineError(
                "connectNetwork",
                403,
                `endpoint with name ${c.name} already exists in network ${network.name}`
              )
            )
          }
          const attachment: Attachment = {
            networkName: network.name,
            aliases: connectOptions?.aliases ?? [],
            ipAddress: ""
          }
          c.networks.set(network.id, attachment)
          if (c.status === "running") connectSync(c, network, attachment, yield* Clock.currentTimeNanos)
        })
      )

    const disconnectNetwork = (
      networkRef: string,
      containerRef: string,
      disconnectOptions?: { readonly force?: boolean }
    ) =>
      guard(
        "disconnectNetwork",
        [networkRef, containerRef, disconnectOptions],
        Effect.gen(function* () {
          const network = yield* findNetwork("disconnectNetwork", networkRef)
          const c = yield* findContainer("disconnectNetwork", containerRef)
          const attachment = c.networks.get(network.id)
          if (attachment === undefined) {
            return yield* Effect.fail(
              engineError(
                "disconnectNetwork",
                403,
                `container ${c.id} is not connected to network ${network.name}`
              )
            )
          }
          c.networks.delete(network.id)
          if (c.status === "running") disconnectSync(c, network, attachment, yield* Clock.currentTimeNanos)
        })
      )

    const listNetworks = (listOptions?: {
      readonly labels?: Readonly<Record<string, string | true>>
      readonly names?: ReadonlyArray<string>
    }) =>
      guard(
        "listNetworks",
        [listOptions],
        Effect.sync(() =>
          [...networks.values()]
            .filter(
              (n) =>
                matchesLabels(n.labels, listOptions?.labels) &&
                (listOptions?.names === undefined ||
                  listOptions.names.length === 0 ||
                  listOptions.names.includes(n.name))
            )
            .map((n) => networkInspect(n, false))
        )
      )

    const inspectNetwork = (ref: string) =>
      guard(
        "inspectNetwork",
        [ref],
        Effect.map(findNetwork("inspectNetwork", ref), (n) => networkInspect(n, true))
      )

    const removeNetwork = (ref: string) =>
      guard(
        "removeNetwork",
        [ref],
        Effect.gen(function* () {
          const network = yield* findNetwork("removeNetwork", ref)
          if (network.predefined) {
            return yield* Effect.fail(
              engineError(
                "removeNetwork",
                403,
                `${network.name} is a pre-defined network and cannot be removed`
              )
            )
          }
          const active = [...containers.values()].some(
            (c) => c.status === "running" && c.networks.has(network.id)
          )
          if (active) {
            return yield* Effect.fail(
              engineError(
                "removeNetwork",
                403,
                `error while removing network: network ${network.name} id ${network.id} has active endpoints`
              )
            )
          }
          networks.delete(network.id)
          emit(yield* Clock.currentTimeNanos, "network", "destroy", network.id, {
            name: network.name,
            type: network.driver
          })
        })
      )

    const events = (eventsOptions: EventsOptions = {}) =>
      guardStream(
        "events",
        [eventsOptions],
        counted(
          "events",
          Stream.callback<EngineEvent, DockerError>((queue) =>
            Effect.gen(function* () {
              const nowNanos = yield* Clock.currentTimeNanos
              const sinceNanos =
                eventsOptions.since !== undefined ? secondsToNanos(eventsOptions.since) : undefined
              const untilNanos =
                eventsOptions.until !== undefined ? secondsToNanos(eventsOptions.until) : undefined
              const subscriber: Subscriber = { queue, options: eventsOptions, untilNanos }
              // Replay and subscription in one turn: nothing is emitted in between.
              const live = yield* Effect.sync(() => {
                if (sinceNanos !== undefined || untilNanos !== undefined) {
                  for (const { event, nanos } of buffer) {
                    if (nanos < (sinceNanos ?? 0n)) continue
                    if (untilNanos !== undefined && nanos > untilNanos) continue
                    if (matchesEvent(event, eventsOptions)) Queue.offerUnsafe(queue, event)
                  }
                }
                if (untilNanos !== undefined && untilNanos <= nowNanos) {
                  Queue.endUnsafe(queue)
                  return false
                }
                subscribers.add(subscriber)
                return true
              })
              if (!live) return
              yield* Effect.addFinalizer(() => Effect.sync(() => subscribers.delete(subscriber)))
              if (untilNanos !== undefined) {
                yield* Effect.sleep(nanosToMillis(untilNanos - nowNanos))
                yield* Queue.end(queue)
              }
            })
          )
        )
      )

    const version: Effect.Effect<Version, DockerError> = guard(
      "version",
      [],
      Effect.succeed({
        version: "20.10.24",
        apiVersion: "1.41",
        minApiVersion: "1.12",
        os: "linux",
        arch: "amd64",
        kernelVersion: "memory"
      })
    )

    const engine: DockerEngineShape = {
      ping: guard("ping", [], Effect.void),
      version,
      createContainer,
      startContainer,
      stopContainer,
      killContainer,
      removeContainer,
      inspectContainer,
      listContainers,
      waitContainer,
      stats,
      statsOnce,
      logs,
      putArchive,
      copyFiles,
      pullImage,
      inspectImage,
      removeImage,
      createNetwork,
      connectNetwork,
      disconnectNetwork,
      listNetworks,
      inspectNetwork,
      removeNetwork,
      events
    }

    // --- the control side ------------------------------------------------------------------

    const runningContainer = (operation: string, ref: string) =>
      Effect.flatMap(findContainer(operation, ref), (c) =>
        c.status === "running"
          ? Effect.succeed(c)
          : Effect.fail(engineError(operation, 409, `Container ${c.id} is not running`))
      )

    const control: MemoryEngineShape = {
      addImage: (image) =>
        Effect.map(Clock.currentTimeMillis, (nowMs) => {
          addImageSync(toDefinition(image), nowMs)
        }),
      addRegistryImage: (image) =>
        Effect.sync(() => {
          const definition = toDefinition(image)
          registry.set(normalizeReference(definition.reference), definition)
          if (definition.script !== undefined)
            imageScripts.set(normalizeReference(definition.reference), definition.script)
        }),
      script: (target: ScriptTarget, script: ScriptInput) =>
        Effect.sync(() => {
          if ("container" in target) {
            containerScripts.set(target.container, script)
            runCounts.delete(`container:${target.container}`)
          } else {
            const reference = normalizeReference(target.image)
            imageScripts.set(reference, script)
            runCounts.delete(`image:${reference}`)
          }
        }),
      failNext: (operation, reason: DockerErrorReason, failOptions) =>
        Effect.sync(() => {
          const statusCode = statusOfReason(reason)
          const error = new DockerError({
            reason,
            operation,
            message: failOptions?.message ?? `injected ${reason} failure of ${operation}`,
            ...(statusCode !== undefined ? { statusCode } : {})
          })
          const pending = faults.get(operation) ?? []
          pending.push({ remaining: failOptions?.times ?? 1, error })
          faults.set(operation, pending)
        }),
      delay: (operation, duration) =>
        Effect.sync(() => {
          if (duration === undefined) delays.delete(operation)
          else delays.set(operation, duration)
        }),
      dropEvents: (dropOptions) =>
        Effect.sync(() => {
          for (const subscriber of subscribers) {
            if (dropOptions?.end === true) Queue.endUnsafe(subscriber.queue)
            else {
              Queue.failCauseUnsafe(
                subscriber.queue,
                Cause.fail(
                  new DockerError({
                    reason: "Unavailable",
                    operation: "events",
                    message: "read ECONNRESET (dropped by MemoryEngine)"
                  })
                )
              )
            }
          }
          subscribers.clear()
        }),
      exit: (ref, code) =>
        Effect.gen(function* () {
          const c = yield* runningContainer("exit", ref)
          exitSync(c, code, yield* Clock.currentTimeNanos)
          yield* FiberMap.remove(processes, c.id)
        }),
      setHealth: (ref, status) =>
        Effect.gen(function* () {
          const c = yield* runningContainer("setHealth", ref)
          setHealthSync(c, status, yield* Clock.currentTimeNanos)
        }),
      writeLog: (ref, text, stream) =>
        Effect.gen(function* () {
          const c = yield* runningContainer("writeLog", ref)
          writeLogSync(c, stream ?? "stdout", text, yield* Clock.currentTimeMillis)
        }),
      containers: Effect.sync(() => [...containers.values()].map(containerInspect)),
      networks: Effect.sync(() => [...networks.values()].map((n) => networkInspect(n, true))),
      images: Effect.sync(() => [...images.values()].map(imageInspect)),
      files: (ref) =>
        Effect.map(findContainer("files", ref), (c) =>
          [...c.files.entries()]
            .filter(([path]) => !defaultDirectories.includes(path))
            .map(([path, file]): ContainerFileEntry => ({ path, ...file }))
        ),
      readFile: (ref, path) =>
        Effect.map(findContainer("readFile", ref), (c) => {
          const file = c.files.get(path)
          return file === undefined || file.type !== "file"
            ? undefined
            : new TextDecoder().decode(file.content)
        }),
      output: (ref) =>
        Effect.map(findContainer("output", ref), (c) =>
          c.logs.map((entry) => ({ stream: entry.stream, text: entry.text }))
        ),
      emittedEvents: Effect.sync(() => [...history]),
      calls: Effect.sync(() => [...calls]),
      clearCalls: Effect.sync(() => {
        calls.length = 0
      }),
      openStreams: Effect.sync(() => ({ ...open }))
    }

    const nowMs = yield* Clock.currentTimeMillis
    for (const image of options.images ?? []) addImageSync(toDefinition(image), nowMs)
    for (const image of options.registry ?? []) yield* control.addRegistryImage(image)
    for (const [name, script] of Object.entries(options.containers ?? {})) containerScripts.set(name, script)

    return { engine, control }
  })
