/**
 * The engine's create-container request body (`POST /containers/create`), built from the
 * library's `CreateContainerOptions`: port bindings, mounts, healthcheck, env (`Redacted`
 * values revealed only here) and the raw `engineOptions` merged last. Re-exported by `wire.ts`.
 *
 * @internal
 */
import { Redacted } from "effect"
import type { CreateContainerOptions, MountOptions } from "../DockerModel.js"

const nanos = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : Math.round(ms * 1_000_000)

type PortBindingsBody = Record<string, Array<{ HostIp: string; HostPort: string }>>

/** `HostConfig.PortBindings` of the deprecated `ports` map and of `portBindings`. */
const toPortBindings = (options: CreateContainerOptions): PortBindingsBody => {
  const bindings: PortBindingsBody = {}
  for (const [port, hostPort] of Object.entries(options.ports ?? {})) {
    bindings[port] = [...(bindings[port] ?? []), { HostIp: "127.0.0.1", HostPort: hostPort ?? "" }]
  }
  for (const binding of options.portBindings ?? []) {
    const key = `${binding.containerPort}/${binding.protocol}`
    const hostPort = binding.hostPort === undefined || binding.hostPort === 0 ? "" : String(binding.hostPort)
    bindings[key] = [...(bindings[key] ?? []), { HostIp: binding.hostIp ?? "", HostPort: hostPort }]
  }
  return bindings
}

/** `HostConfig.Mounts`: the Engine API's mount objects. */
const toMountsBody = (mounts: ReadonlyArray<MountOptions>): ReadonlyArray<Record<string, unknown>> =>
  mounts.map((mount) => {
    switch (mount.type) {
      case "bind":
        return { Type: "bind", Source: mount.source, Target: mount.target, ReadOnly: mount.readOnly ?? false }
      case "volume":
        return {
          Type: "volume",
          Source: mount.source ?? "",
          Target: mount.target,
          ReadOnly: mount.readOnly ?? false
        }
      default:
        return {
          Type: "tmpfs",
          Target: mount.target,
          ReadOnly: mount.readOnly ?? false,
          TmpfsOptions:
            mount.sizeBytes === undefined && mount.mode === undefined
              ? undefined
              : { SizeBytes: mount.sizeBytes, Mode: mount.mode }
        }
    }
  })

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The raw options merged last: top-level keys replace, `HostConfig` and `Labels` keys one by one. */
const mergeRaw = (body: Record<string, unknown>, raw: Readonly<Record<string, unknown>> | undefined) => {
  if (raw === undefined) return body
  const merged: Record<string, unknown> = { ...body, ...raw }
  for (const key of ["HostConfig", "Labels"]) {
    const own = body[key]
    const given = raw[key]
    if (isPlainObject(own) && isPlainObject(given)) merged[key] = { ...own, ...given }
  }
  return merged
}

/** The body of `POST /containers/create`; `undefined` fields are dropped by JSON. */
export const toCreateBody = (options: CreateContainerOptions): Record<string, unknown> => {
  const portBindings = toPortBindings(options)
  const exposed = [...new Set([...Object.keys(portBindings), ...(options.exposedPorts ?? [])])]
  const networkMode = options.networkMode
  return mergeRaw(
    {
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
              StartPeriod: nanos(options.healthcheck.startPeriodMs),
              StartInterval: nanos(options.healthcheck.startIntervalMs)
            },
      StopSignal: options.stopSignal,
      StopTimeout: options.stopTimeout,
      ExposedPorts: exposed.length > 0 ? Object.fromEntries(exposed.map((port) => [port, {}])) : undefined,
      Hostname: options.hostname,
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
        PortBindings: Object.keys(portBindings).length > 0 ? portBindings : undefined,
        Mounts:
          options.mounts === undefined || options.mounts.length === 0
            ? undefined
            : toMountsBody(options.mounts),
        ExtraHosts: options.extraHosts,
        CapAdd: options.capAdd,
        CapDrop: options.capDrop,
        ReadonlyRootfs: options.readonlyRootfs,
        ShmSize: options.shmSize,
        Privileged: options.privileged
      },
      NetworkingConfig:
        networkMode !== undefined && options.networkAliases !== undefined
          ? { EndpointsConfig: { [networkMode]: { Aliases: options.networkAliases } } }
          : undefined
    },
    options.raw
  )
}
