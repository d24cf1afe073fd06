/**
 * Docker's JSON as it comes over the wire (PascalCase or snake_case, arrays and maps that
 * may be `null` or absent), decoded with Schema and mapped into the library's own types.
 *
 * Wire schemas name only the fields the library keeps; extra fields are ignored. Stats lines
 * are read by hand (see `readStats`).
 *
 * @internal
 */
import { Redacted, Result, Schema } from "effect"
import type {
  ContainerInspect,
  ContainerSummary,
  CreateContainerOptions,
  EngineEvent,
  ImageInspect,
  NetworkInspect,
  PullProgress,
  StatsSample,
  Version,
  WaitResult
} from "../DockerEngine.js"

// Docker leaves arrays and maps `null` (Go's nil) as often as it omits them.
const maybe = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))
const StringMap = Schema.Record(Schema.String, Schema.String)

const orEmpty = <A>(value: ReadonlyArray<A> | null | undefined): ReadonlyArray<A> => value ?? []
const mapOrEmpty = <A>(value: Readonly<Record<string, A>> | null | undefined): Readonly<Record<string, A>> =>
  value ?? {}

// ---------------------------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------------------------

export const WireVersion = Schema.Struct({
  Version: Schema.String,
  ApiVersion: Schema.String,
  MinAPIVersion: maybe(Schema.String),
  Os: Schema.String,
  Arch: Schema.String,
  KernelVersion: maybe(Schema.String)
})

export const toVersion = (wire: typeof WireVersion.Type): Version => ({
  version: wire.Version,
  apiVersion: wire.ApiVersion,
  ...(wire.MinAPIVersion ? { minApiVersion: wire.MinAPIVersion } : {}),
  os: wire.Os,
  arch: wire.Arch,
  ...(wire.KernelVersion ? { kernelVersion: wire.KernelVersion } : {})
})

// ---------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------

export const WireCreated = Schema.Struct({
  Id: Schema.String,
  Warnings: maybe(Schema.Array(Schema.String))
})

export const WireContainerInspect = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Image: Schema.String,
  Created: Schema.String,
  RestartCount: maybe(Schema.Number),
  Config: Schema.Struct({
    Image: Schema.String,
    Labels: maybe(StringMap),
    Tty: maybe(Schema.Boolean)
  }),
  State: Schema.Struct({
    Status: Schema.String,
    Running: Schema.Boolean,
    Restarting: Schema.Boolean,
    OOMKilled: Schema.Boolean,
    Pid: Schema.Number,
    ExitCode: Schema.Number,
    Error: maybe(Schema.String),
    StartedAt: Schema.String,
    FinishedAt: Schema.String,
    Health: maybe(
      Schema.Struct({
        Status: Schema.String,
        FailingStreak: maybe(Schema.Number)
      })
    )
  }),
  HostConfig: maybe(
    Schema.Struct({
      RestartPolicy: maybe(Schema.Struct({ Name: maybe(Schema.String) }))
    })
  ),
  NetworkSettings: maybe(
    Schema.Struct({
      Networks: maybe(
        Schema.Record(
          Schema.String,
          Schema.Struct({
            NetworkID: maybe(Schema.String),
            IPAddress: maybe(Schema.String),
            Aliases: maybe(Schema.Array(Schema.String))
          })
        )
      )
    })
  )
})

export const toContainerInspect = (wire: typeof WireContainerInspect.Type): ContainerInspect => {
  const state = wire.State
  const networks = mapOrEmpty(wire.NetworkSettings?.Networks)
  const restartPolicy = wire.HostConfig?.RestartPolicy?.Name
  return {
    id: wire.Id,
    name: wire.Name.replace(/^\//, ""),
    image: wire.Config.Image,
    imageId: wire.Image,
    created: wire.Created,
    labels: mapOrEmpty(wire.Config.Labels),
    restartCount: wire.RestartCount ?? 0,
    state: {
      status: state.Status,
      running: state.Running,
      restarting: state.Restarting,
      oomKilled: state.OOMKilled,
      pid: state.Pid,
      exitCode: state.ExitCode,
      error: state.Error ?? "",
      startedAt: state.StartedAt,
      finishedAt: state.FinishedAt,
      ...(state.Health
        ? { health: { status: state.Health.Status, failingStreak: state.Health.FailingStreak ?? 0 } }
        : {})
    },
    networks: Object.fromEntries(
      Object.entries(networks).map(([name, network]) => [
        name,
        {
          networkId: network.NetworkID ?? "",
          ipAddress: network.IPAddress ?? "",
          aliases: orEmpty(network.Aliases)
        }
      ])
    ),
    tty: wire.Config.Tty ?? false,
    // Docker reports an unset policy as "" and means "no".
    restartPolicy: restartPolicy && restartPolicy.length > 0 ? restartPolicy : "no"
  }
}

export const WireContainerSummary = Schema.Struct({
  Id: Schema.String,
  Names: maybe(Schema.Array(Schema.String)),
  Image: Schema.String,
  Labels: maybe(StringMap),
  State: Schema.String,
  Status: Schema.String,
  Created: Schema.Number
})

export const WireContainerList = Schema.Array(WireContainerSummary)

export const toContainerSummary = (wire: typeof WireContainerSummary.Type): ContainerSummary => ({
  id: wire.Id,
  names: orEmpty(wire.Names).map((name) => name.replace(/^\//, "")),
  image: wire.Image,
  labels: mapOrEmpty(wire.Labels),
  state: wire.State,
  status: wire.Status,
  created: wire.Created
})

export const WireWait = Schema.Struct({
  StatusCode: Schema.Number,
  Error: maybe(Schema.Struct({ Message: maybe(Schema.String) }))
})

export const toWaitResult = (wire: typeof WireWait.Type): WaitResult => {
  const message = wire.Error?.Message
  return message && message.length > 0
    ? { exitCode: wire.StatusCode, error: message }
    : { exitCode: wire.StatusCode }
}

const nanos = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : Math.round(ms * 1_000_000)

/** The body of `POST /containers/create`; `undefined` fields are dropped by JSON. */
export const toCreateBody = (options: CreateContainerOptions): Record<string, unknown> => {
  const ports = options.ports ?? {}
  const portKeys = Object.keys(ports)
  const networkMode = options.networkMode
  return {
    Image: options.image,
    Cmd: options.cmd,
    Entrypoint: options.entrypoint,
    Env:
      options.env === undefined
        ? undefined
        : Object.entries(options.env).map(
            ([key, value]) => `${key}=${typeof value === "string" ? value : Redacted.value(value)}`
          ),
    Labels: options.labels,
    WorkingDir: options.workingDir,
    User: options.user,
    Tty: options.tty ?? false,
    Healthcheck:
      options.healthcheck === undefined
        ? undefined
        : {
            Test: options.healthcheck.test,
            Interval: nanos(options.healthcheck.intervalMs),
            Timeout: nanos(options.healthcheck.timeoutMs),
            Retries: options.healthcheck.retries,
            StartPeriod: nanos(options.healthcheck.startPeriodMs)
          },
    StopSignal: options.stopSignal,
    StopTimeout: options.stopTimeout,
    ExposedPorts: portKeys.length > 0 ? Object.fromEntries(portKeys.map((port) => [port, {}])) : undefined,
    HostConfig: {
      Memory: options.memory,
      NanoCpus: options.nanoCpus,
      NetworkMode: networkMode,
      RestartPolicy:
        options.restartPolicy === undefined
          ? undefined
          : {
              Name: options.restartPolicy.name,
              MaximumRetryCount: options.restartPolicy.maximumRetryCount
            },
      AutoRemove: options.autoRemove,
      Init: options.init,
      PortBindings:
        portKeys.length > 0
          ? Object.fromEntries(
              portKeys.map((port) => [port, [{ HostIp: "127.0.0.1", HostPort: ports[port] ?? "" }]])
            )
          : undefined
    },
    NetworkingConfig:
      networkMode !== undefined && options.networkAliases !== undefined
        ? { EndpointsConfig: { [networkMode]: { Aliases: options.networkAliases } } }
        : undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

// Read by hand, not with a Schema: a stats line arrives every second per container for as long
// as it runs, and measured on the real engine (`npm run bench`) a Schema decode of it costs the
// supervisor more CPU than `JSON.parse` does. The checks are the same: every field the library
// keeps has its type checked, absent or `null` where Docker may leave it so, extra fields ignored.

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A stats line whose fields do not have the types Docker gives them. */
class StatsMismatch {
  constructor(readonly message: string) {}
  toString() {
    return this.message
  }
}

// A field is named by its parent and its own path, joined only when it is wrong: building
// the names of a good sample's fields would cost on every line.
const mismatch = (parent: string, field: string, expected: string, value: unknown): never => {
  throw new StatsMismatch(
    `${parent === "" ? field : `${parent}.${field}`}: expected ${expected}, got ${JSON.stringify(value)}`
  )
}

const optionalObject = (
  value: unknown,
  parent: string,
  field: string
): Readonly<Record<string, unknown>> | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value === "object" && !Array.isArray(value)) return value as Readonly<Record<string, unknown>>
  return mismatch(parent, field, "an object", value)
}

const optionalNumber = (value: unknown, parent: string, field: string): number | undefined => {
  if (value === undefined || value === null) return undefined
  return typeof value === "number" ? value : mismatch(parent, field, "a number", value)
}

const optionalNumbers = (
  value: unknown,
  parent: string,
  field: string
): ReadonlyArray<number> | undefined => {
  if (value === undefined || value === null) return undefined
  if (Array.isArray(value) && value.every((item) => typeof item === "number")) return value
  return mismatch(parent, field, "an array of numbers", value)
}

// Optional parts are assigned, not spread in: spreads cost more than the rest of the sample.
const readCpu = (value: unknown, parent: "cpu_stats" | "precpu_stats"): StatsSample["cpu"] => {
  const wire = optionalObject(value, "", parent)
  const usage = optionalObject(wire?.cpu_usage, parent, "cpu_usage")
  const cpu: Mutable<StatsSample["cpu"]> = {
    totalUsage: optionalNumber(usage?.total_usage, parent, "cpu_usage.total_usage") ?? 0
  }
  const percpu = optionalNumbers(usage?.percpu_usage, parent, "cpu_usage.percpu_usage")
  if (percpu !== undefined) cpu.percpuUsage = percpu
  const system = optionalNumber(wire?.system_cpu_usage, parent, "system_cpu_usage")
  if (system !== undefined) cpu.systemUsage = system
  const online = optionalNumber(wire?.online_cpus, parent, "online_cpus")
  if (online !== undefined) cpu.onlineCpus = online
  return cpu
}

const readMemory = (value: unknown): StatsSample["memory"] => {
  const memory: Mutable<StatsSample["memory"]> = {}
  const wire = optionalObject(value, "", "memory_stats")
  if (wire === undefined) return memory
  const usage = optionalNumber(wire.usage, "memory_stats", "usage")
  if (usage !== undefined) memory.usage = usage
  const limit = optionalNumber(wire.limit, "memory_stats", "limit")
  if (limit !== undefined) memory.limit = limit
  const stats = optionalObject(wire.stats, "memory_stats", "stats")
  const totalInactiveFile = optionalNumber(
    stats?.total_inactive_file,
    "memory_stats",
    "stats.total_inactive_file"
  )
  if (totalInactiveFile !== undefined) memory.totalInactiveFile = totalInactiveFile
  const inactiveFile = optionalNumber(stats?.inactive_file, "memory_stats", "stats.inactive_file")
  if (inactiveFile !== undefined) memory.inactiveFile = inactiveFile
  return memory
}

const readNetworks = (value: unknown): StatsSample["networks"] => {
  const wire = optionalObject(value, "", "networks")
  if (wire === undefined) return undefined
  const networks: Record<string, { readonly rxBytes: number; readonly txBytes: number }> = {}
  for (const name of Object.keys(wire)) {
    const network =
      optionalObject(wire[name], "networks", name) ?? mismatch("networks", name, "an object", null)
    const { rx_bytes: rxBytes, tx_bytes: txBytes } = network
    if (typeof rxBytes !== "number") return mismatch("networks", `${name}.rx_bytes`, "a number", rxBytes)
    if (typeof txBytes !== "number") return mismatch("networks", `${name}.tx_bytes`, "a number", txBytes)
    networks[name] = { rxBytes, txBytes }
  }
  return networks
}

/**
 * One parsed line of `GET /containers/{id}/stats` as a sample; fails with the path of the
 * first field whose type is not Docker's.
 */
export const readStats = (json: unknown): Result.Result<StatsSample, StatsMismatch> => {
  try {
    const wire = optionalObject(json, "", "stats") ?? mismatch("", "stats", "an object", json)
    if (typeof wire.read !== "string") return mismatch("", "read", "a string", wire.read)
    const sample: Mutable<StatsSample> = {
      read: wire.read,
      cpu: readCpu(wire.cpu_stats, "cpu_stats"),
      precpu: readCpu(wire.precpu_stats, "precpu_stats"),
      memory: readMemory(wire.memory_stats)
    }
    const networks = readNetworks(wire.networks)
    if (networks !== undefined) sample.networks = networks
    const pids = optionalNumber(
      optionalObject(wire.pids_stats, "", "pids_stats")?.current,
      "pids_stats",
      "current"
    )
    if (pids !== undefined) sample.pids = pids
    return Result.succeed(sample)
  } catch (cause) {
    if (cause instanceof StatsMismatch) return Result.fail(cause)
    throw cause
  }
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

/** A pull progress line; `error`/`errorDetail` lines are failures, told apart by the caller. */
export const WirePullLine = Schema.Struct({
  status: maybe(Schema.String),
  id: maybe(Schema.String),
  progressDetail: maybe(Schema.Struct({ current: maybe(Schema.Number), total: maybe(Schema.Number) })),
  error: maybe(Schema.String),
  errorDetail: maybe(Schema.Struct({ message: maybe(Schema.String), code: maybe(Schema.Number) }))
})

/** The error a pull line carries, if any. */
export const pullLineError = (wire: typeof WirePullLine.Type): string | undefined => {
  const message = wire.errorDetail?.message ?? wire.error
  if (message != null && message.length > 0) return message
  return wire.errorDetail != null || wire.error != null ? "pull failed" : undefined
}

export const toPullProgress = (wire: typeof WirePullLine.Type): PullProgress => {
  const current = wire.progressDetail?.current
  const total = wire.progressDetail?.total
  return {
    status: wire.status ?? "",
    ...(wire.id != null ? { id: wire.id } : {}),
    ...(current != null ? { current } : {}),
    ...(total != null ? { total } : {})
  }
}

export const WireImageInspect = Schema.Struct({
  Id: Schema.String,
  RepoTags: maybe(Schema.Array(Schema.String)),
  Size: Schema.Number,
  Config: maybe(
    Schema.Struct({
      Cmd: maybe(Schema.Array(Schema.String)),
      Entrypoint: maybe(Schema.Array(Schema.String)),
      Healthcheck: maybe(Schema.Struct({ Test: maybe(Schema.Array(Schema.String)) })),
      Labels: maybe(StringMap)
    })
  )
})

export const toImageInspect = (wire: typeof WireImageInspect.Type): ImageInspect => {
  const config = wire.Config
  const healthcheck = config?.Healthcheck?.Test
  return {
    id: wire.Id,
    repoTags: orEmpty(wire.RepoTags),
    size: wire.Size,
    ...(config?.Cmd ? { cmd: config.Cmd } : {}),
    ...(config?.Entrypoint ? { entrypoint: config.Entrypoint } : {}),
    ...(healthcheck && healthcheck.length > 0 ? { healthcheck } : {}),
    labels: mapOrEmpty(config?.Labels)
  }
}

// ---------------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------------

export const WireNetwork = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Driver: Schema.String,
  Internal: maybe(Schema.Boolean),
  Labels: maybe(StringMap),
  Containers: maybe(
    Schema.Record(
      Schema.String,
      Schema.Struct({ Name: maybe(Schema.String), IPv4Address: maybe(Schema.String) })
    )
  )
})

export const WireNetworkList = Schema.Array(WireNetwork)

export const toNetworkInspect = (wire: typeof WireNetwork.Type): NetworkInspect => ({
  id: wire.Id,
  name: wire.Name,
  driver: wire.Driver,
  internal: wire.Internal ?? false,
  labels: mapOrEmpty(wire.Labels),
  containers: Object.fromEntries(
    Object.entries(mapOrEmpty(wire.Containers)).map(([id, container]) => [
      id,
      { name: container.Name ?? "", ipv4Address: container.IPv4Address ?? "" }
    ])
  )
})

export const WireNetworkCreated = Schema.Struct({ Id: Schema.String })

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export const WireEvent = Schema.Struct({
  Type: Schema.String,
  Action: Schema.String,
  Actor: maybe(Schema.Struct({ ID: maybe(Schema.String), Attributes: maybe(StringMap) })),
  time: Schema.Number,
  timeNano: maybe(Schema.Number)
})

/**
 * The `timeNano` of an event's JSON text, as digits. Only the top-level field can match: the
 * other values holding text are strings (a quote inside one is escaped), never a bare number.
 */
const timeNanoDigits = /"timeNano"\s*:\s*(\d+)/

/**
 * An event; `line` is its JSON text, read again for `timeNano`, which `JSON.parse` would round
 * to a double.
 */
export const toEngineEvent = (wire: typeof WireEvent.Type, line?: string): EngineEvent => {
  const digits = line === undefined ? undefined : timeNanoDigits.exec(line)?.[1]
  const timeNanoExact =
    digits !== undefined
      ? BigInt(digits)
      : typeof wire.timeNano === "number"
        ? BigInt(Math.round(wire.timeNano))
        : BigInt(Math.round(wire.time)) * 1_000_000_000n
  return {
    type: wire.Type,
    action: wire.Action,
    actorId: wire.Actor?.ID ?? "",
    attributes: mapOrEmpty(wire.Actor?.Attributes),
    time: wire.time,
    timeNano: Number(timeNanoExact),
    timeNanoExact
  }
}
