/**
 * Docker's JSON as it comes over the wire (PascalCase or snake_case, arrays and maps that
 * may be `null` or absent), decoded with Schema and mapped into the library's own types.
 *
 * Wire schemas name only the fields the library keeps; extra fields are ignored. Stats lines
 * are read by hand in `wireStats.ts`, and the create request body is built in `wireCreate.ts`;
 * both are re-exported from here.
 *
 * @internal
 */
import { Schema } from "effect"
import type {
  ContainerInspect,
  ContainerSummary,
  EngineEvent,
  ImageInspect,
  NetworkInspect,
  PullProgress,
  Version,
  WaitResult
} from "../DockerEngine.js"

export { toCreateBody } from "./wireCreate.js"
export { readStats } from "./wireStats.js"

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

// `"80/tcp": [{ HostIp: "0.0.0.0", HostPort: "32768" }]`; `null` for a port exposed, not published.
const WirePortMap = Schema.Record(
  Schema.String,
  Schema.NullOr(Schema.Array(Schema.Struct({ HostIp: maybe(Schema.String), HostPort: maybe(Schema.String) })))
)

/** The bindings of a port map, one entry per host address, in the engine's order. */
const toPorts = (wire: typeof WirePortMap.Type | null | undefined): ContainerInspect["ports"] =>
  Object.entries(mapOrEmpty(wire)).flatMap(([key, bindings]) => {
    const [port, protocol] = key.split("/")
    return orEmpty(bindings).map((binding) => ({
      containerPort: Number(port),
      protocol: protocol ?? "tcp",
      hostIp: binding.HostIp ?? "",
      hostPort: Number(binding.HostPort ?? "") || 0
    }))
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
      RestartPolicy: maybe(Schema.Struct({ Name: maybe(Schema.String) })),
      PortBindings: maybe(WirePortMap)
    })
  ),
  Mounts: maybe(
    Schema.Array(
      Schema.Struct({
        Type: maybe(Schema.String),
        Name: maybe(Schema.String),
        Source: maybe(Schema.String),
        Destination: Schema.String,
        RW: maybe(Schema.Boolean)
      })
    )
  ),
  NetworkSettings: maybe(
    Schema.Struct({
      Ports: maybe(WirePortMap),
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
    restartPolicy: restartPolicy && restartPolicy.length > 0 ? restartPolicy : "no",
    ports: toPorts(wire.NetworkSettings?.Ports),
    portBindings: toPorts(wire.HostConfig?.PortBindings),
    mounts: orEmpty(wire.Mounts).map((mount) => ({
      type: mount.Type ?? "",
      ...(mount.Name ? { name: mount.Name } : {}),
      source: mount.Source ?? "",
      destination: mount.Destination,
      readOnly: mount.RW === false
    }))
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
