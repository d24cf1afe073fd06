/**
 * Reaching the container: the schemas and checks of published and exposed ports, mounts and
 * volumes, host names, capabilities, `privileged` and the `engineOptions` the supervisor
 * refuses. `ContainerSpec` re-exports the public ones.
 */
import { Schema } from "effect"
import { FILE_PATH_PROBLEM, FileMode, filePathIssue, Int, rule, UserLabels } from "./rules.js"

const PortNumber = Int.check(
  rule((port: number) => (port >= 1 && port <= 65535 ? undefined : "the port must be between 1 and 65535"))
)

/** IPv4 dotted quad or an IPv6 address (no zone). */
export const ipAddressProblem = (ip: string): string | undefined => {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (v4 !== null) return v4.slice(1).every((part) => Number(part) <= 255) ? undefined : "not an IP address"
  return /^[0-9a-fA-F:]+$/.test(ip) && ip.includes(":") ? undefined : "not an IP address"
}
const IpAddress = Schema.String.check(rule(ipAddressProblem))

/** `tcp` (default) or `udp`. @category models @since 0.2.0 */
export const Protocol = Schema.Literals(["tcp", "udp"])
/** @category models @since 0.2.0 */
export type Protocol = typeof Protocol.Type

/**
 * A container port published on the host: on a fixed `host` port, or (the default) on a free
 * one the engine chooses, on every host address or only `hostIp` (e.g. `"127.0.0.1"`).
 *
 * @category models
 * @since 0.2.0
 */
export const Port = Schema.Struct({
  container: PortNumber,
  protocol: Schema.optional(Protocol),
  /** The host port; absent: a free one (it may change at each restart). */
  host: Schema.optional(PortNumber),
  /** The host address to bind; absent: all of them. */
  hostIp: Schema.optional(IpAddress)
})
/** @category models @since 0.2.0 */
export type Port = typeof Port.Type

/**
 * A container port exposed (to the other containers of the instance) without publishing it.
 *
 * @category models
 * @since 0.2.0
 */
export const ExposedPort = Schema.Struct({ container: PortNumber, protocol: Schema.optional(Protocol) })
/** @category models @since 0.2.0 */
export type ExposedPort = typeof ExposedPort.Type

/** A directory in the container to mount on: absolute, normalised, not `/`. */
export const mountTargetProblem = (path: string): string | undefined => {
  if (path === "/") return "cannot mount on /"
  const issue = filePathIssue(path)
  return issue === undefined || issue === "directory" ? undefined : FILE_PATH_PROBLEM[issue]
}
const MountTarget = Schema.String.check(rule(mountTargetProblem))

const HostPath = Schema.String.check(
  rule((path: string) =>
    path.includes("\0")
      ? "the host path must not contain NUL"
      : path.startsWith("/")
        ? undefined
        : "the host path must be absolute"
  )
)

const volumeName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const VolumeName = Schema.String.check(
  rule((name: string) =>
    volumeName.test(name)
      ? undefined
      : "the volume name must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"
  )
)

/**
 * Who a named volume belongs to:
 * - `instance` (default): created for this Supervisor instance (`<app>-<instance>-<name>`),
 *   removed when the instance is released, swept by `removeStale` once its process is gone;
 * - `app`: shared by every instance of the app (`<app>_<name>`, as Compose names a project's
 *   volumes) and kept across them, removed only by `removeAppVolumes`;
 * - `external`: an existing volume used as it is, never created or removed.
 *
 * @category models
 * @since 0.2.0
 */
export const VolumeScope = Schema.Literals(["instance", "app", "external"])
/** @category models @since 0.2.0 */
export type VolumeScope = typeof VolumeScope.Type

const noNulText = (what: string) =>
  rule((text: string) =>
    text.length === 0
      ? `the ${what} is empty`
      : text.includes("\0")
        ? `the ${what} must not contain NUL`
        : undefined
  )

/**
 * How a named volume the supervisor creates (`instance` or `app` scope) is created: your
 * `labels` (the library's prefix is reserved; the supervisor adds its own), the engine's volume
 * `driver` (default `local`) and its `driverOptions` (e.g. `{ type: "tmpfs", device: "tmpfs" }`).
 * An existing volume is used as it is: the options apply only when the volume is created.
 *
 * @category models
 * @since 0.2.0
 */
export const VolumeOptions = Schema.Struct({
  labels: Schema.optional(UserLabels),
  driver: Schema.optional(Schema.String.check(noNulText("volume driver"))),
  driverOptions: Schema.optional(
    Schema.Record(Schema.String, Schema.String).check(
      Schema.makeFilter((options: Readonly<Record<string, string>>) =>
        Object.entries(options).flatMap(
          ([key, value]): ReadonlyArray<Schema.FilterIssue> =>
            key.length === 0
              ? [{ path: [key], issue: "the driver option's key is empty" }]
              : key.includes("\0") || value.includes("\0")
                ? [{ path: [key], issue: "the driver option must not contain NUL" }]
                : []
        )
      )
    )
  )
})
/** @category models @since 0.2.0 */
export type VolumeOptions = typeof VolumeOptions.Type

/**
 * What is mounted where: a host path (`bind`, absolute and existing), a named `volume`
 * (with its `scope`), an anonymous `volume` (no `source`; removed with the container), or a
 * `tmpfs` (empty at each start). `readOnly` on any of them.
 *
 * @category models
 * @since 0.2.0
 */
export const Mount = Schema.Union([
  Schema.Struct({
    type: Schema.Literal("bind"),
    source: HostPath,
    target: MountTarget,
    readOnly: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({
    type: Schema.Literal("volume"),
    /** The volume's name within its scope; absent: an anonymous volume. */
    source: Schema.optional(VolumeName),
    target: MountTarget,
    scope: Schema.optional(VolumeScope),
    /** How the supervisor creates the volume (named `instance`/`app` volumes only). */
    volumeOptions: Schema.optional(VolumeOptions),
    readOnly: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({
    type: Schema.Literal("tmpfs"),
    target: MountTarget,
    sizeBytes: Schema.optional(
      Int.check(rule((bytes: number) => (bytes > 0 ? undefined : "the size must be more than 0")))
    ),
    mode: FileMode,
    readOnly: Schema.optional(Schema.Boolean)
  })
])
/** @category models @since 0.2.0 */
export type Mount = typeof Mount.Type

/** Options in a canonical form, to compare two mounts of one volume. */
const canonicalOptions = (options: VolumeOptions | undefined): string => {
  const sorted = (record: Readonly<Record<string, string>> | undefined) =>
    Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify([sorted(options?.labels), options?.driver ?? "", sorted(options?.driverOptions)])
}

export const mountsProblems = (mounts: ReadonlyArray<Mount>): ReadonlyArray<Schema.FilterIssue> => {
  const seen = new Set<string>()
  const optionsOf = new Map<string, string>()
  return mounts.flatMap((mount, index): ReadonlyArray<Schema.FilterIssue> => {
    const target = mount.target.replace(/\/+$/, "")
    if (seen.has(target)) return [{ path: [index, "target"], issue: `${target} is mounted on twice` }]
    seen.add(target)
    if (mount.type === "volume" && mount.source === undefined && mount.scope !== undefined) {
      return [{ path: [index, "scope"], issue: "an anonymous volume (no source) has no scope" }]
    }
    if (mount.type === "volume" && mount.volumeOptions !== undefined) {
      if (mount.source === undefined)
        return [
          { path: [index, "volumeOptions"], issue: "an anonymous volume (no source) has no volumeOptions" }
        ]
      if (mount.scope === "external")
        return [
          {
            path: [index, "volumeOptions"],
            issue: "an external volume is used as it is, never created: it takes no volumeOptions"
          }
        ]
    }
    if (mount.type === "volume" && mount.source !== undefined && mount.scope !== "external") {
      const key = `${mount.scope ?? "instance"}/${mount.source}`
      const options = canonicalOptions(mount.volumeOptions)
      const earlier = optionsOf.get(key)
      if (earlier !== undefined && earlier !== options)
        return [
          {
            path: [index, "volumeOptions"],
            issue: `volume ${mount.source} is mounted twice with different volumeOptions`
          }
        ]
      optionsOf.set(key, options)
    }
    return []
  })
}

const hostnameLabel = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/
export const hostnameProblem = (name: string): string | undefined =>
  name.length <= 253 && name.split(".").every((label) => hostnameLabel.test(label))
    ? undefined
    : "not a host name (letters, digits and '-', dot-separated labels of at most 63)"

export const Capability = Schema.String.check(
  rule((cap: string) =>
    /^(?:CAP_)?[A-Z][A-Z_]*$|^ALL$/.test(cap) ? undefined : "not a capability name (e.g. NET_ADMIN)"
  )
)

export const noNul = (what: string) =>
  rule((text: string) =>
    text.length === 0
      ? `the ${what} is empty`
      : text.includes("\0")
        ? `the ${what} must not contain NUL`
        : undefined
  )

/** The word that asks for a privileged container (root on the host): `privileged: "yes-i-know"`. @since 0.2.0 */
export const privilegedConsent = "yes-i-know"

export const Privileged = Schema.Union([Schema.Literal(privilegedConsent), Schema.Literal(false)]).annotate({
  message: `a privileged container is root on the host: write privileged: "${privilegedConsent}" to ask for it`
})

/** Create-body keys the supervisor owns, refused in `engineOptions`. */
const engineOptionsProblems = (
  options: Readonly<Record<string, unknown>>
): ReadonlyArray<Schema.FilterIssue> => {
  const problems: Array<Schema.FilterIssue> = []
  const hostConfig = options.HostConfig
  if (options.NetworkingConfig !== undefined) {
    problems.push({
      path: ["NetworkingConfig"],
      issue: "the container joins only its instance network; use network.aliases"
    })
  }
  if (
    hostConfig !== undefined &&
    (typeof hostConfig !== "object" || hostConfig === null || Array.isArray(hostConfig))
  ) {
    problems.push({ path: ["HostConfig"], issue: "must be an object" })
  } else if (hostConfig !== undefined) {
    const host = hostConfig as Readonly<Record<string, unknown>>
    if (host.NetworkMode !== undefined) {
      problems.push({
        path: ["HostConfig", "NetworkMode"],
        issue: "the container joins only its instance network"
      })
    }
    if (host.AutoRemove !== undefined && host.AutoRemove !== false) {
      problems.push({
        path: ["HostConfig", "AutoRemove"],
        issue: "the supervisor removes its containers itself (AutoRemove would lose the exit)"
      })
    }
  }
  const labels = options.Labels
  if (labels !== undefined && (typeof labels !== "object" || labels === null || Array.isArray(labels))) {
    problems.push({ path: ["Labels"], issue: "must be an object" })
  }
  return problems
}

export const EngineOptions = Schema.Record(Schema.String, Schema.Unknown).check(
  Schema.makeFilter(engineOptionsProblems)
)

/** The restart policy name set through `engineOptions.HostConfig.RestartPolicy`, if any. */
export const engineRestartPolicyOf = (
  options: Readonly<Record<string, unknown>> | undefined
): string | undefined => {
  const hostConfig = options?.HostConfig
  if (typeof hostConfig !== "object" || hostConfig === null) return undefined
  const policy = (hostConfig as Readonly<Record<string, unknown>>).RestartPolicy
  if (policy === undefined || policy === null) return undefined
  if (typeof policy !== "object") return String(policy)
  const name = (policy as Readonly<Record<string, unknown>>).Name
  return typeof name === "string" ? name : "(unnamed)"
}
