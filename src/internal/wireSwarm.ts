/**
 * The Swarm API's JSON (swarm, nodes, services, tasks) as it comes over the wire, decoded with
 * Schema and mapped into the library's camelCase model, and the service spec as the engine
 * takes it (`Redacted` env values revealed only here, milliseconds turned into nanoseconds).
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Service
 * @internal
 */
import { Redacted, Schema } from "effect"
import type {
  NodeSpec,
  ServiceContainerSpec,
  ServiceInspect,
  ServiceMode,
  ServicePort,
  ServiceSpec,
  ServiceSpecOptions,
  SwarmInspect,
  SwarmNode,
  Task,
  TaskSpec
} from "../DockerModel.js"

// Docker leaves arrays and maps `null` (Go's nil) as often as it omits them.
const maybe = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))
const StringMap = Schema.Record(Schema.String, Schema.String)
const Strings = Schema.Array(Schema.String)
const WireVersion = Schema.Struct({ Index: Schema.Number })

/** Present fields only: `{ a: undefined }` is `{}` (the model's keys are `optionalKey`). */
const present = <A extends Record<string, unknown>>(
  value: A
): { [K in keyof A]?: Exclude<A[K], undefined | null> } =>
  Object.fromEntries(
    Object.entries(value).filter((entry) => entry[1] !== undefined && entry[1] !== null)
  ) as {
    [K in keyof A]?: Exclude<A[K], undefined | null>
  }

const toMs = (nanos: number | null | undefined): number | undefined =>
  nanos === undefined || nanos === null ? undefined : nanos / 1_000_000
const toNanos = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : Math.round(ms * 1_000_000)

// ---------------------------------------------------------------------------------------------
// The swarm
// ---------------------------------------------------------------------------------------------

export const WireSwarm = Schema.Struct({
  ID: Schema.String,
  Version: WireVersion,
  CreatedAt: Schema.String,
  UpdatedAt: Schema.String,
  JoinTokens: Schema.Struct({ Worker: Schema.String, Manager: Schema.String })
})

export const toSwarmInspect = (wire: typeof WireSwarm.Type): SwarmInspect => ({
  id: wire.ID,
  version: wire.Version.Index,
  createdAt: wire.CreatedAt,
  updatedAt: wire.UpdatedAt,
  joinTokens: { worker: wire.JoinTokens.Worker, manager: wire.JoinTokens.Manager }
})

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

const WireNodeSpec = Schema.Struct({
  Name: maybe(Schema.String),
  Labels: maybe(StringMap),
  Role: Schema.Literals(["worker", "manager"]),
  Availability: Schema.Literals(["active", "pause", "drain"])
})

export const WireNode = Schema.Struct({
  ID: Schema.String,
  Version: WireVersion,
  Spec: WireNodeSpec,
  Description: maybe(
    Schema.Struct({
      Hostname: maybe(Schema.String),
      Engine: maybe(Schema.Struct({ EngineVersion: maybe(Schema.String), Labels: maybe(StringMap) }))
    })
  ),
  Status: Schema.Struct({ State: Schema.String, Addr: maybe(Schema.String) }),
  ManagerStatus: maybe(
    Schema.Struct({
      Leader: maybe(Schema.Boolean),
      Reachability: maybe(Schema.String),
      Addr: maybe(Schema.String)
    })
  )
})
export const WireNodeList = Schema.Array(WireNode)

export const toSwarmNode = (wire: typeof WireNode.Type): SwarmNode => ({
  id: wire.ID,
  version: wire.Version.Index,
  spec: {
    ...(wire.Spec.Name ? { name: wire.Spec.Name } : {}),
    labels: wire.Spec.Labels ?? {},
    role: wire.Spec.Role,
    availability: wire.Spec.Availability
  },
  hostname: wire.Description?.Hostname ?? "",
  state: wire.Status.State,
  addr: wire.Status.Addr ?? "",
  engineLabels: wire.Description?.Engine?.Labels ?? {},
  engineVersion: wire.Description?.Engine?.EngineVersion ?? "",
  ...(wire.ManagerStatus !== undefined && wire.ManagerStatus !== null
    ? {
        manager: {
          leader: wire.ManagerStatus.Leader ?? false,
          reachability: wire.ManagerStatus.Reachability ?? "unknown",
          addr: wire.ManagerStatus.Addr ?? ""
        }
      }
    : {})
})

export const toNodeSpecBody = (spec: NodeSpec): Record<string, unknown> => ({
  ...(spec.name !== undefined ? { Name: spec.name } : {}),
  Labels: spec.labels,
  Role: spec.role,
  Availability: spec.availability
})

// ---------------------------------------------------------------------------------------------
// The service spec, read back
// ---------------------------------------------------------------------------------------------

const WireHealthcheck = Schema.Struct({
  Test: maybe(Strings),
  Interval: maybe(Schema.Number),
  Timeout: maybe(Schema.Number),
  Retries: maybe(Schema.Number),
  StartPeriod: maybe(Schema.Number)
})

const WireMount = Schema.Struct({
  Type: Schema.Literals(["bind", "volume", "tmpfs"]),
  Source: maybe(Schema.String),
  Target: Schema.String,
  ReadOnly: maybe(Schema.Boolean),
  TmpfsOptions: maybe(Schema.Struct({ SizeBytes: maybe(Schema.Number), Mode: maybe(Schema.Number) }))
})

const WireContainerSpec = Schema.Struct({
  Image: Schema.String,
  Command: maybe(Strings),
  Args: maybe(Strings),
  Env: maybe(Strings),
  Labels: maybe(StringMap),
  User: maybe(Schema.String),
  Dir: maybe(Schema.String),
  Mounts: maybe(Schema.Array(WireMount)),
  StopGracePeriod: maybe(Schema.Number),
  StopSignal: maybe(Schema.String),
  // The Go field is `Healthcheck`; the API reference spells it `HealthCheck`.
  Healthcheck: maybe(WireHealthcheck),
  HealthCheck: maybe(WireHealthcheck),
  Init: maybe(Schema.Boolean)
})

const WireTaskSpec = Schema.Struct({
  ContainerSpec: WireContainerSpec,
  Resources: maybe(
    Schema.Struct({
      Limits: maybe(Schema.Struct({ NanoCPUs: maybe(Schema.Number), MemoryBytes: maybe(Schema.Number) }))
    })
  ),
  RestartPolicy: maybe(
    Schema.Struct({
      Condition: maybe(Schema.Literals(["none", "on-failure", "any"])),
      Delay: maybe(Schema.Number),
      MaxAttempts: maybe(Schema.Number),
      Window: maybe(Schema.Number)
    })
  ),
  Placement: maybe(Schema.Struct({ Constraints: maybe(Strings) })),
  Networks: maybe(Schema.Array(Schema.Struct({ Target: Schema.String, Aliases: maybe(Strings) })))
})

const WirePort = Schema.Struct({
  Protocol: maybe(Schema.Literals(["tcp", "udp", "sctp"])),
  TargetPort: Schema.Number,
  PublishedPort: maybe(Schema.Number),
  PublishMode: maybe(Schema.Literals(["ingress", "host"]))
})

const WireServiceSpec = Schema.Struct({
  Name: Schema.String,
  Labels: maybe(StringMap),
  TaskTemplate: WireTaskSpec,
  Mode: maybe(
    Schema.Struct({
      Replicated: maybe(Schema.Struct({ Replicas: maybe(Schema.Number) })),
      Global: maybe(Schema.Struct({})),
      ReplicatedJob: maybe(
        Schema.Struct({ MaxConcurrent: maybe(Schema.Number), TotalCompletions: maybe(Schema.Number) })
      )
    })
  ),
  EndpointSpec: maybe(
    Schema.Struct({ Mode: maybe(Schema.Literals(["vip", "dnsrr"])), Ports: maybe(Schema.Array(WirePort)) })
  ),
  UpdateConfig: maybe(
    Schema.Struct({
      Parallelism: maybe(Schema.Number),
      Delay: maybe(Schema.Number),
      FailureAction: maybe(Schema.Literals(["continue", "pause", "rollback"])),
      Monitor: maybe(Schema.Number),
      MaxFailureRatio: maybe(Schema.Number),
      Order: maybe(Schema.Literals(["stop-first", "start-first"]))
    })
  )
})

const toEnvRecord = (env: ReadonlyArray<string>): Record<string, string> =>
  Object.fromEntries(
    env.map((entry) => {
      const equals = entry.indexOf("=")
      return equals === -1 ? [entry, ""] : [entry.slice(0, equals), entry.slice(equals + 1)]
    })
  )

const toContainerSpec = (wire: typeof WireContainerSpec.Type): ServiceContainerSpec => {
  const health = wire.Healthcheck ?? wire.HealthCheck
  return {
    image: wire.Image,
    ...present({
      command: wire.Command,
      args: wire.Args,
      env: wire.Env === undefined || wire.Env === null ? undefined : toEnvRecord(wire.Env),
      labels: wire.Labels,
      user: wire.User || undefined,
      dir: wire.Dir || undefined,
      mounts: wire.Mounts?.map((mount) => ({
        type: mount.Type,
        target: mount.Target,
        ...present({
          source: mount.Source || undefined,
          readOnly: mount.ReadOnly,
          sizeBytes: mount.TmpfsOptions?.SizeBytes,
          mode: mount.TmpfsOptions?.Mode
        })
      })),
      stopGracePeriodMs: toMs(wire.StopGracePeriod),
      stopSignal: wire.StopSignal || undefined,
      healthcheck:
        health === undefined || health === null
          ? undefined
          : {
              test: health.Test ?? [],
              ...present({
                intervalMs: toMs(health.Interval),
                timeoutMs: toMs(health.Timeout),
                retries: health.Retries,
                startPeriodMs: toMs(health.StartPeriod)
              })
            },
      init: wire.Init
    })
  }
}

export const toTaskSpec = (wire: typeof WireTaskSpec.Type): TaskSpec => {
  const limits = wire.Resources?.Limits
  const restart = wire.RestartPolicy
  return {
    container: toContainerSpec(wire.ContainerSpec),
    ...present({
      limits:
        limits === undefined || limits === null
          ? undefined
          : present({ nanoCpus: limits.NanoCPUs, memoryBytes: limits.MemoryBytes }),
      restartPolicy:
        restart === undefined || restart === null
          ? undefined
          : {
              condition: restart.Condition ?? "any",
              ...present({
                delayMs: toMs(restart.Delay),
                maxAttempts: restart.MaxAttempts,
                windowMs: toMs(restart.Window)
              })
            },
      constraints: wire.Placement?.Constraints,
      networks: wire.Networks?.map((network) => ({
        target: network.Target,
        ...present({ aliases: network.Aliases })
      }))
    })
  }
}

const toMode = (wire: (typeof WireServiceSpec.Type)["Mode"]): ServiceMode => {
  if (wire?.Global !== undefined && wire.Global !== null) return { _tag: "Global" }
  const job = wire?.ReplicatedJob
  if (job !== undefined && job !== null) {
    return {
      _tag: "ReplicatedJob",
      ...present({ maxConcurrent: job.MaxConcurrent, totalCompletions: job.TotalCompletions })
    }
  }
  return { _tag: "Replicated", replicas: wire?.Replicated?.Replicas ?? 1 }
}

const toPort = (wire: typeof WirePort.Type): ServicePort => ({
  protocol: wire.Protocol ?? "tcp",
  targetPort: wire.TargetPort,
  ...present({ publishedPort: wire.PublishedPort, publishMode: wire.PublishMode })
})

const toServiceSpec = (wire: typeof WireServiceSpec.Type): ServiceSpec => {
  const update = wire.UpdateConfig
  return {
    name: wire.Name,
    labels: wire.Labels ?? {},
    taskTemplate: toTaskSpec(wire.TaskTemplate),
    mode: toMode(wire.Mode),
    ...present({
      endpoint:
        wire.EndpointSpec === undefined || wire.EndpointSpec === null
          ? undefined
          : present({ mode: wire.EndpointSpec.Mode, ports: wire.EndpointSpec.Ports?.map(toPort) }),
      updateConfig:
        update === undefined || update === null
          ? undefined
          : present({
              parallelism: update.Parallelism,
              delayMs: toMs(update.Delay),
              failureAction: update.FailureAction,
              monitorMs: toMs(update.Monitor),
              maxFailureRatio: update.MaxFailureRatio,
              order: update.Order
            })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Services and tasks
// ---------------------------------------------------------------------------------------------

export const WireServiceCreated = Schema.Struct({ ID: Schema.String, Warnings: maybe(Strings) })
export const WireServiceUpdated = Schema.Struct({ Warnings: maybe(Strings) })

export const WireService = Schema.Struct({
  ID: Schema.String,
  Version: WireVersion,
  CreatedAt: Schema.String,
  UpdatedAt: Schema.String,
  Spec: WireServiceSpec,
  Endpoint: maybe(Schema.Struct({ Ports: maybe(Schema.Array(WirePort)) })),
  UpdateStatus: maybe(Schema.Struct({ State: maybe(Schema.String) })),
  ServiceStatus: maybe(
    Schema.Struct({
      RunningTasks: maybe(Schema.Number),
      DesiredTasks: maybe(Schema.Number),
      CompletedTasks: maybe(Schema.Number)
    })
  )
})
export const WireServiceList = Schema.Array(WireService)

export const toServiceInspect = (wire: typeof WireService.Type): ServiceInspect => ({
  id: wire.ID,
  version: wire.Version.Index,
  createdAt: wire.CreatedAt,
  updatedAt: wire.UpdatedAt,
  spec: toServiceSpec(wire.Spec),
  ports: (wire.Endpoint?.Ports ?? []).map(toPort),
  ...(wire.UpdateStatus?.State ? { updateState: wire.UpdateStatus.State } : {}),
  ...(wire.ServiceStatus !== undefined && wire.ServiceStatus !== null
    ? {
        tasks: {
          running: wire.ServiceStatus.RunningTasks ?? 0,
          desired: wire.ServiceStatus.DesiredTasks ?? 0,
          completed: wire.ServiceStatus.CompletedTasks ?? 0
        }
      }
    : {})
})

export const WireTask = Schema.Struct({
  ID: Schema.String,
  Version: WireVersion,
  ServiceID: Schema.String,
  Slot: maybe(Schema.Number),
  NodeID: maybe(Schema.String),
  CreatedAt: Schema.String,
  UpdatedAt: Schema.String,
  Labels: maybe(StringMap),
  Status: Schema.Struct({
    State: Schema.String,
    Timestamp: maybe(Schema.String),
    Message: maybe(Schema.String),
    Err: maybe(Schema.String),
    ContainerStatus: maybe(
      Schema.Struct({ ContainerID: maybe(Schema.String), ExitCode: maybe(Schema.Number) })
    )
  }),
  DesiredState: Schema.String,
  Spec: WireTaskSpec
})
export const WireTaskList = Schema.Array(WireTask)

export const toTask = (wire: typeof WireTask.Type): Task => {
  const container = wire.Status.ContainerStatus
  return {
    id: wire.ID,
    version: wire.Version.Index,
    serviceId: wire.ServiceID,
    ...(wire.Slot !== undefined && wire.Slot !== null && wire.Slot > 0 ? { slot: wire.Slot } : {}),
    ...(wire.NodeID ? { nodeId: wire.NodeID } : {}),
    createdAt: wire.CreatedAt,
    updatedAt: wire.UpdatedAt,
    labels: wire.Labels ?? {},
    status: {
      state: wire.Status.State,
      timestamp: wire.Status.Timestamp ?? "",
      message: wire.Status.Message ?? "",
      ...(wire.Status.Err ? { err: wire.Status.Err } : {}),
      ...(container?.ContainerID
        ? {
            container: {
              containerId: container.ContainerID,
              ...(container.ExitCode !== undefined && container.ExitCode !== null
                ? { exitCode: container.ExitCode }
                : {})
            }
          }
        : {})
    },
    desiredState: wire.DesiredState,
    spec: toTaskSpec(wire.Spec)
  }
}

// ---------------------------------------------------------------------------------------------
// The service spec, as sent
// ---------------------------------------------------------------------------------------------

type ContainerSpecOptions = ServiceSpecOptions["taskTemplate"]["container"]

const toContainerSpecBody = (spec: ContainerSpecOptions): Record<string, unknown> => ({
  Image: spec.image,
  Command: spec.command,
  Args: spec.args,
  Env:
    spec.env === undefined
      ? undefined
      : Object.entries(spec.env).map(
          ([key, value]) => `${key}=${typeof value === "string" ? value : Redacted.value(value)}`
        ),
  Labels: spec.labels,
  User: spec.user,
  Dir: spec.dir,
  Mounts: spec.mounts?.map((mount) => ({
    Type: mount.type,
    Source: mount.source,
    Target: mount.target,
    ReadOnly: mount.readOnly,
    TmpfsOptions:
      mount.type === "tmpfs" && (mount.sizeBytes !== undefined || mount.mode !== undefined)
        ? { SizeBytes: mount.sizeBytes, Mode: mount.mode }
        : undefined
  })),
  StopGracePeriod: toNanos(spec.stopGracePeriodMs),
  StopSignal: spec.stopSignal,
  Healthcheck:
    spec.healthcheck === undefined
      ? undefined
      : {
          Test: spec.healthcheck.test,
          Interval: toNanos(spec.healthcheck.intervalMs),
          Timeout: toNanos(spec.healthcheck.timeoutMs),
          Retries: spec.healthcheck.retries,
          StartPeriod: toNanos(spec.healthcheck.startPeriodMs)
        },
  Init: spec.init
})

const toModeBody = (mode: ServiceMode | undefined): Record<string, unknown> => {
  switch (mode?._tag) {
    case undefined:
      return { Replicated: { Replicas: 1 } }
    case "Replicated":
      return { Replicated: { Replicas: mode.replicas } }
    case "ReplicatedJob":
      return { ReplicatedJob: { MaxConcurrent: mode.maxConcurrent, TotalCompletions: mode.totalCompletions } }
    case "Global":
      return { Global: {} }
  }
}

/** The body of `POST /services/create` and `/services/{id}/update`; `undefined` fields are dropped by JSON. */
export const toServiceSpecBody = (spec: ServiceSpecOptions): Record<string, unknown> => {
  const template = spec.taskTemplate
  return {
    Name: spec.name,
    Labels: spec.labels ?? {},
    TaskTemplate: {
      ContainerSpec: toContainerSpecBody(template.container),
      Resources:
        template.limits === undefined
          ? undefined
          : { Limits: { NanoCPUs: template.limits.nanoCpus, MemoryBytes: template.limits.memoryBytes } },
      RestartPolicy:
        template.restartPolicy === undefined
          ? undefined
          : {
              Condition: template.restartPolicy.condition,
              Delay: toNanos(template.restartPolicy.delayMs),
              MaxAttempts: template.restartPolicy.maxAttempts,
              Window: toNanos(template.restartPolicy.windowMs)
            },
      Placement: template.constraints === undefined ? undefined : { Constraints: template.constraints },
      Networks: template.networks?.map((network) => ({ Target: network.target, Aliases: network.aliases }))
    },
    Mode: toModeBody(spec.mode),
    EndpointSpec:
      spec.endpoint === undefined
        ? undefined
        : {
            Mode: spec.endpoint.mode,
            Ports: spec.endpoint.ports?.map((port) => ({
              Protocol: port.protocol,
              TargetPort: port.targetPort,
              PublishedPort: port.publishedPort,
              PublishMode: port.publishMode
            }))
          },
    UpdateConfig:
      spec.updateConfig === undefined
        ? undefined
        : {
            Parallelism: spec.updateConfig.parallelism,
            Delay: toNanos(spec.updateConfig.delayMs),
            FailureAction: spec.updateConfig.failureAction,
            Monitor: toNanos(spec.updateConfig.monitorMs),
            MaxFailureRatio: spec.updateConfig.maxFailureRatio,
            Order: spec.updateConfig.order
          }
  }
}

/**
 * The spec as the engine stores it and reads it back: `Redacted` env values revealed, the
 * defaults filled in. For the memory engine, which keeps what a live engine would.
 */
export const readServiceSpec = (spec: ServiceSpecOptions): ServiceSpec => {
  const { env, ...container } = spec.taskTemplate.container
  return {
    name: spec.name,
    labels: { ...(spec.labels ?? {}) },
    taskTemplate: {
      ...spec.taskTemplate,
      container: {
        ...container,
        ...(env !== undefined
          ? {
              env: Object.fromEntries(
                Object.entries(env).map(([key, value]) => [
                  key,
                  typeof value === "string" ? value : Redacted.value(value)
                ])
              )
            }
          : {})
      }
    },
    mode: spec.mode ?? { _tag: "Replicated", replicas: 1 },
    ...(spec.endpoint !== undefined ? { endpoint: spec.endpoint } : {}),
    ...(spec.updateConfig !== undefined ? { updateConfig: spec.updateConfig } : {})
  }
}
