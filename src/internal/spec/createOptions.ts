/**
 * Mapping a validated spec to the engine's create options (`toCreateOptions`, re-exported by
 * `ContainerSpec`).
 */
import { Duration } from "effect"
import type { ContainerSpec } from "../../ContainerSpec.js"
import type { CreateContainerOptions, MountOptions } from "../../DockerModel.js"
import { privilegedConsent, type VolumeScope } from "./reach.js"

const millis = (duration: Duration.Duration | undefined): number | undefined =>
  duration === undefined ? undefined : Math.round(Duration.toMillis(duration))

const defined = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

/**
 * The engine's create options for a validated spec: the container `name`, its `labels`
 * (the instance's, merged over the spec's) and the instance `network` it is attached to
 * (only that one, with the component name as an alias).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ContainerSpec } from "effect-docker"
 *
 * const program = ContainerSpec.validate({ name: "web", image: "nginx" }).pipe(
 *   Effect.map((spec) => ContainerSpec.toCreateOptions(spec, { name: "demo-1a2b-web", labels: {}, network: "demo-1a2b" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const toCreateOptions = (
  spec: ContainerSpec,
  options: {
    readonly name: string
    readonly labels: Readonly<Record<string, string>>
    readonly network: string
    /** The engine's name of a named volume (default: the spec's `source`, as it is). */
    readonly volumeName?: ((source: string, scope: VolumeScope) => string) | undefined
  }
): CreateContainerOptions => {
  const healthcheck = spec.healthcheck
  const aliases = [...new Set([spec.name, ...(spec.network?.aliases ?? [])])]
  const volumeName = options.volumeName ?? ((source: string) => source)
  return {
    ...defined(
      "portBindings",
      spec.ports?.map((port) => ({
        containerPort: port.container,
        protocol: port.protocol ?? "tcp",
        ...defined("hostIp", port.hostIp),
        ...defined("hostPort", port.host)
      }))
    ),
    ...defined(
      "exposedPorts",
      spec.exposedPorts?.map((port) => `${port.container}/${port.protocol ?? "tcp"}`)
    ),
    ...defined(
      "mounts",
      spec.mounts?.map((mount): MountOptions => {
        switch (mount.type) {
          case "bind":
            return {
              type: "bind",
              source: mount.source,
              target: mount.target,
              ...defined("readOnly", mount.readOnly)
            }
          case "volume":
            return {
              type: "volume",
              ...defined(
                "source",
                mount.source === undefined ? undefined : volumeName(mount.source, mount.scope ?? "instance")
              ),
              target: mount.target,
              ...defined("readOnly", mount.readOnly)
            }
          default:
            return {
              type: "tmpfs",
              target: mount.target,
              ...defined("readOnly", mount.readOnly),
              ...defined("sizeBytes", mount.sizeBytes),
              ...defined("mode", mount.mode)
            }
        }
      })
    ),
    ...defined("user", spec.user),
    ...defined("workingDir", spec.workingDir),
    ...defined("hostname", spec.hostname),
    ...defined(
      "extraHosts",
      spec.extraHosts === undefined
        ? undefined
        : Object.entries(spec.extraHosts).map(([host, ip]) => `${host}:${ip}`)
    ),
    ...defined("capAdd", spec.capAdd),
    ...defined("capDrop", spec.capDrop),
    ...defined("init", spec.init),
    ...defined("readonlyRootfs", spec.readOnlyRootFs),
    ...defined("shmSize", spec.shmSize),
    ...defined("tty", spec.tty),
    ...defined("privileged", spec.privileged === privilegedConsent ? true : undefined),
    ...defined("platform", spec.platform),
    ...defined("raw", spec.engineOptions),
    image: spec.image,
    name: options.name,
    labels: { ...spec.labels, ...options.labels },
    networkMode: options.network,
    networkAliases: aliases,
    stopTimeout: Math.ceil(Duration.toSeconds(spec.stopTimeout)),
    ...defined("cmd", spec.command),
    ...defined("entrypoint", spec.entrypoint),
    ...defined("env", spec.env),
    ...defined("stopSignal", spec.stopSignal),
    ...defined("memory", spec.resources?.memoryBytes),
    ...defined(
      "nanoCpus",
      spec.resources?.cpus === undefined ? undefined : Math.round(spec.resources.cpus * 1e9)
    ),
    ...defined(
      "restartPolicy",
      spec.engineRestartPolicy === undefined ? undefined : { name: spec.engineRestartPolicy }
    ),
    ...defined(
      "healthcheck",
      healthcheck === undefined
        ? undefined
        : {
            test: healthcheck.test,
            ...defined("intervalMs", millis(healthcheck.interval)),
            ...defined("timeoutMs", millis(healthcheck.timeout)),
            ...defined("retries", healthcheck.retries),
            ...defined("startPeriodMs", millis(healthcheck.startPeriod)),
            ...defined("startIntervalMs", millis(healthcheck.startInterval))
          }
    )
  }
}
