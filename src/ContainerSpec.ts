/**
 * What to run: a Schema-validated description of one container. Every field is checked
 * before any Docker call; a bad field is an {@link InvalidSpec} error naming it
 * (`files[0].path`, `env.TOKEN`, `resources.memoryBytes`). Env values given as `Redacted`
 * stay redacted: they appear in no error, log line, state, `String()` or JSON.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ContainerSpec, RestartPolicy } from "effect-docker"
 *
 * const spec = ContainerSpec.make({
 *   name: "db",
 *   image: "postgres:17",
 *   env: { POSTGRES_PASSWORD: Redacted.make("s3cret") },
 *   healthcheck: { test: ["CMD", "pg_isready"], interval: "1 second" },
 *   resources: { memoryBytes: 512 * 1024 * 1024 },
 *   restartPolicy: RestartPolicy.onFailure({ maxRetries: 3 }),
 *   stopTimeout: "5 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 */
import { existsSync } from "node:fs"
import { Duration, Effect, Option, Redacted, Schema, SchemaIssue, SchemaTransformation, Stream } from "effect"
import type { CreateContainerOptions, MountOptions } from "./DockerEngine.js"
import type { DockerError } from "./DockerError.js"
import { RegistryAuth } from "./DockerModel.js"
import * as ContainerPath from "./internal/containerPath.js"
import * as Labels from "./internal/labels.js"
import * as Sanitize from "./internal/sanitize.js"
import * as RestartPolicy from "./RestartPolicy.js"

// ---------------------------------------------------------------------------------------------
// Field rules: each message says what is wrong without repeating a value that could be secret
// ---------------------------------------------------------------------------------------------

const rule = <T>(message: (value: T) => string | undefined) =>
  Schema.makeFilter<T>((value) => message(value) ?? true)

const componentName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/** Docker's reference grammar (distribution/reference): `[domain[:port]/]path[:tag][@digest]`. */
const imageReference = (() => {
  const alphanumeric = "[a-z0-9]+"
  const separator = "(?:[._]|__|[-]+)"
  const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`
  const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
  const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`
  const domain = `${host}(?::[0-9]+)?`
  const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`
  const tag = "[\\w][\\w.-]{0,127}"
  const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
  return new RegExp(`^(${name})(?::${tag})?(?:@${digest})?$`)
})()

/**
 * Why `reference` is not an image reference, or `undefined` when it is one.
 *
 * @example
 * ```ts
 * import { ContainerSpec } from "effect-docker"
 *
 * ContainerSpec.imageReferenceProblem("127.0.0.1:5000/team/app:1.2") // undefined
 * ContainerSpec.imageReferenceProblem("Busybox") // "the repository name must be lowercase"
 * ```
 *
 * @since 0.1.0
 */
export const imageReferenceProblem = (reference: string): string | undefined => {
  if (reference.length === 0) return "the image reference is empty"
  if (/\s/.test(reference)) return "the image reference contains whitespace"
  const match = imageReference.exec(reference)
  if (match === null) {
    const repository = (reference.split("@")[0] ?? "").replace(/:[\w][\w.-]*$/, "")
    const path = repository.includes("/") ? repository.slice(repository.indexOf("/") + 1) : repository
    return /[A-Z]/.test(path)
      ? "the repository name must be lowercase"
      : `${JSON.stringify(reference)} is not a valid image reference (name[:tag][@digest])`
  }
  if ((match[1] ?? "").length > 255) return "the repository name is longer than 255 characters"
  return undefined
}

/**
 * What is wrong with a file path in the container, checked in this order: `nul` (contains
 * NUL), `relative` (not absolute), `parent` (a `..` segment), `directory` (`/` or a trailing
 * `/`), `notNormalised` (`//` or a `.` segment).
 *
 * @category validation
 * @since 0.1.0
 */
export type FilePathIssue = ContainerPath.ContainerPathIssue

/**
 * The first problem of `path` as a file path in the container, or `undefined` when it can be
 * one. For a message to show, {@link filePathProblem} words it.
 *
 * @example
 * ```ts
 * import { ContainerSpec } from "effect-docker"
 *
 * ContainerSpec.filePathIssue("/etc/app/config.json") // undefined
 * ContainerSpec.filePathIssue("etc/app/config.json") // "relative"
 * ContainerSpec.filePathIssue("/etc/../root/.ssh/keys") // "parent"
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const filePathIssue: (path: string) => FilePathIssue | undefined = ContainerPath.containerPathIssue

const FILE_PATH_PROBLEM: Readonly<Record<FilePathIssue, string>> = {
  nul: "the path must not contain NUL",
  relative: "the path must be absolute",
  parent: "the path must not contain '..'",
  directory: "the path must name a file, not a directory",
  notNormalised: "the path must be normalised (no '//' or '.')"
}

/**
 * Why `path` cannot be a file path in the container, or `undefined` when it can: it must be
 * absolute, normalised, without `..` and without NUL.
 *
 * @example
 * ```ts
 * import { ContainerSpec } from "effect-docker"
 *
 * ContainerSpec.filePathProblem("/etc/app/config.json") // undefined
 * ContainerSpec.filePathProblem("/etc/../root/.ssh/keys") // "the path must not contain '..'"
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const filePathProblem = (path: string): string | undefined => {
  const issue = filePathIssue(path)
  return issue === undefined ? undefined : FILE_PATH_PROBLEM[issue]
}

const lineBreakOrNul = /[\0\r\n]/

const envProblems = (
  env: Readonly<Record<string, string | Redacted.Redacted<string>>>
): ReadonlyArray<Schema.FilterIssue> =>
  Object.entries(env).flatMap(([key, value]): ReadonlyArray<Schema.FilterIssue> => {
    const keyProblem =
      key.length === 0
        ? "the variable name is empty"
        : key.includes("=")
          ? "the variable name must not contain '='"
          : lineBreakOrNul.test(key)
            ? "the variable name must not contain NUL or a line break"
            : undefined
    if (keyProblem !== undefined) return [{ path: [key], issue: keyProblem }]
    const text = Redacted.isRedacted(value) ? Redacted.value(value) : value
    return lineBreakOrNul.test(text)
      ? [{ path: [key], issue: "the value must not contain NUL or a line break" }]
      : []
  })

/** The smallest memory limit the engine accepts (6 MiB). @since 0.1.0 */
export const minMemoryBytes = 6 * 1024 * 1024
/** The largest memory limit taken as meant (16 TiB); more is a typo. @since 0.1.0 */
export const maxMemoryBytes = 16 * 1024 ** 4
const maxCpus = 1024

// ---------------------------------------------------------------------------------------------
// The Schema
// ---------------------------------------------------------------------------------------------

const Int = Schema.Number.check(
  rule((n: number) => (Number.isSafeInteger(n) ? undefined : "must be a whole number"))
)
const NonNegativeInt = Int.check(rule((n: number) => (n >= 0 ? undefined : "must not be negative")))

const isDurationInput = (u: unknown): u is Duration.Input => {
  if (Duration.isDuration(u)) return true
  if (typeof u !== "number" && typeof u !== "string" && typeof u !== "bigint" && !Array.isArray(u))
    return false
  try {
    return Option.isSome(Duration.fromInput(u as Duration.Input))
  } catch {
    return false
  }
}

/**
 * A duration as users write it (`"5 seconds"`, `Duration.seconds(5)`, milliseconds as a
 * number), decoded to a `Duration`; negative durations are refused.
 *
 * @since 0.1.0
 */
export const DurationInput = Schema.declare(isDurationInput, {
  expected: 'a duration such as "5 seconds" or Duration.seconds(5)'
}).pipe(
  Schema.decodeTo(
    Schema.Duration.check(
      rule((d: Duration.Duration) =>
        Duration.isNegative(d) ? "must not be negative" : Duration.isFinite(d) ? undefined : "must be finite"
      )
    ),
    SchemaTransformation.transform({
      decode: (input: Duration.Input) => Duration.fromInputUnsafe(input),
      encode: (duration: Duration.Duration): Duration.Input => duration
    })
  )
)

const Env = Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Redacted(Schema.String)])).check(
  Schema.makeFilter(envProblems)
)

const UserLabels = Schema.Record(Schema.String, Schema.String).check(
  Schema.makeFilter((labels: Readonly<Record<string, string>>) =>
    Object.entries(labels).flatMap(([key, value]): ReadonlyArray<Schema.FilterIssue> => {
      if (key.length === 0) return [{ path: [key], issue: "the label key is empty" }]
      if (Labels.isReserved(Labels.keys(), key)) {
        return [{ path: [key], issue: `the label prefix ${Labels.defaultPrefix} belongs to effect-docker` }]
      }
      return key.includes("\0") || value.includes("\0")
        ? [{ path: [key], issue: "the label must not contain NUL" }]
        : []
    })
  )
)

/**
 * A container healthcheck. `test` is Docker's: `["CMD", ...]`, `["CMD-SHELL", "..."]` or
 * `["NONE"]` (disables the image's healthcheck).
 *
 * @since 0.1.0
 */
export const Healthcheck = Schema.Struct({
  test: Schema.Array(Schema.String).check(
    rule((test: ReadonlyArray<string>) => {
      const [kind, ...rest] = test
      if (kind === undefined) return "the healthcheck test is empty"
      if (kind === "NONE") return undefined
      if (kind !== "CMD" && kind !== "CMD-SHELL")
        return "the healthcheck test must start with CMD, CMD-SHELL or NONE"
      return rest.length === 0 ? `the healthcheck test has no command after ${kind}` : undefined
    })
  ),
  interval: Schema.optional(DurationInput),
  timeout: Schema.optional(DurationInput),
  retries: Schema.optional(NonNegativeInt),
  startPeriod: Schema.optional(DurationInput)
})
/** @since 0.1.0 */
export type Healthcheck = typeof Healthcheck.Type

/**
 * Resource limits.
 *
 * @since 0.1.0
 */
export const Resources = Schema.Struct({
  /** Bytes, at least 6 MiB (the engine's minimum). */
  memoryBytes: Schema.optional(
    Int.check(
      rule((bytes: number) =>
        bytes < minMemoryBytes
          ? `the memory limit must be at least ${minMemoryBytes} bytes (6 MiB)`
          : bytes > maxMemoryBytes
            ? `the memory limit must be at most ${maxMemoryBytes} bytes (16 TiB)`
            : undefined
      )
    )
  ),
  /** CPUs, fractions allowed (`0.5`). */
  cpus: Schema.optional(
    Schema.Number.check(
      rule((cpus: number) =>
        Number.isFinite(cpus) && cpus > 0 && cpus <= maxCpus
          ? undefined
          : `must be more than 0 and at most ${maxCpus}`
      )
    )
  )
})
/** @since 0.1.0 */
export type Resources = typeof Resources.Type

/**
 * Options on the instance network.
 *
 * @since 0.1.0
 */
export const NetworkOptions = Schema.Struct({
  /** More names the container answers to on the instance network (its component name always is one). */
  aliases: Schema.optional(
    Schema.Array(
      Schema.String.check(
        rule((alias: string) =>
          /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(alias) ? undefined : "not a valid network alias"
        )
      )
    )
  )
})
/** @since 0.1.0 */
export type NetworkOptions = typeof NetworkOptions.Type

const FilePath = Schema.String.check(rule(filePathProblem))
const FileMode = Schema.optionalKey(
  Int.check(
    rule((mode: number) =>
      mode >= 0 && mode <= 0o7777 ? undefined : "the mode must be between 0 and 0o7777"
    )
  )
)

const isByteStream = (u: unknown): u is Stream.Stream<Uint8Array, DockerError> => Stream.isStream(u)

/**
 * A file copied into the container before it starts: inline `content`, or a `stream` of
 * bytes with its `size` for large payloads (streamed, never buffered).
 *
 * @since 0.1.0
 */
export const File = Schema.Union([
  Schema.Struct({
    path: FilePath,
    content: Schema.Union([Schema.String, Schema.Uint8Array]),
    /** Permission bits, 0o644 by default. */
    mode: FileMode
  }),
  Schema.Struct({
    path: FilePath,
    stream: Schema.declare(isByteStream, { expected: "a Stream of bytes" }),
    size: NonNegativeInt,
    mode: FileMode
  })
])
/** @since 0.1.0 */
export type File = typeof File.Type

/**
 * Docker's own restart policy (applied by the engine, invisible to the supervisor). Only
 * `"no"` goes together with a supervisor `restartPolicy` other than `never`.
 *
 * @since 0.1.0
 */
export const EngineRestartPolicy = Schema.Literals(["no", "always", "on-failure", "unless-stopped"])
/** @since 0.1.0 */
export type EngineRestartPolicy = typeof EngineRestartPolicy.Type

/**
 * When to pull the image: `always`, `ifMissing` (default), `never` (a missing image is an
 * error).
 *
 * @since 0.1.0
 */
export const PullPolicy = Schema.Literals(["always", "ifMissing", "never"])
/** @since 0.1.0 */
export type PullPolicy = typeof PullPolicy.Type

/** How long an object readiness waits when it gives no `timeout`. @since 0.1.0 */
export const defaultReadinessTimeout: Duration.Duration = Duration.seconds(60)

const ReadinessPort = Int.check(
  rule((port: number) => (port >= 1 && port <= 65535 ? undefined : "the port must be between 1 and 65535"))
)

/** How long the condition may take before `start` fails with `NotReadyError` (default 60 seconds). */
const ReadinessTimeout = Schema.optional(DurationInput)

const LogLineReadiness = Schema.Struct({
  logLine: Schema.Union([
    Schema.String.check(rule((line: string) => (line.length > 0 ? undefined : "the log line is empty"))),
    Schema.RegExp
  ]),
  /** How many times the line must appear in one run (default 1). */
  times: Schema.optional(Int.check(rule((times: number) => (times >= 1 ? undefined : "must be 1 or more")))),
  timeout: ReadinessTimeout
})

const PortReadiness = Schema.Struct({
  /** A TCP connect from this process to the host port the container port is published on succeeds. */
  port: ReadinessPort,
  timeout: ReadinessTimeout
})

const HttpReadiness = Schema.Struct({
  http: Schema.Struct({
    /** The container port (published on the host). */
    port: ReadinessPort,
    path: Schema.String.check(
      rule((path: string) => (path.startsWith("/") ? undefined : "the path must start with '/'"))
    ),
    /** The status awaited (default: any 2xx). */
    status: Schema.optional(
      Int.check(rule((status: number) => (status >= 100 && status <= 599 ? undefined : "not an HTTP status")))
    ),
    /** Default `GET`. */
    method: Schema.optional(
      Schema.String.check(
        rule((method: string) => (/^[A-Z]+$/.test(method) ? undefined : "not an HTTP method"))
      )
    )
  }),
  timeout: ReadinessTimeout
})

const CommandReadiness = Schema.Struct({
  /** Run in the container (an exec); ready when it exits 0. */
  command: Schema.Array(Schema.String).check(
    rule((command: ReadonlyArray<string>) => (command.length > 0 ? undefined : "the command is empty"))
  ),
  timeout: ReadinessTimeout
})

/**
 * Every readiness condition of `all`, as validated.
 *
 * @since 0.1.0
 */
export interface ReadinessAll {
  readonly all: ReadonlyArray<Readiness>
  /** A limit on the whole (default none beyond each condition's own). */
  readonly timeout?: Duration.Duration | undefined
}

/**
 * `all` as written.
 *
 * @since 0.1.0
 */
export interface ReadinessAllInput {
  readonly all: ReadonlyArray<ReadinessInput>
  readonly timeout?: Duration.Input | undefined
}

const ReadinessAll = Schema.Struct({
  all: Schema.Array(Schema.suspend((): Schema.Codec<Readiness, ReadinessInput> => Readiness)).check(
    rule((all: ReadonlyArray<Readiness>) => (all.length > 0 ? undefined : "`all` is empty"))
  ),
  timeout: ReadinessTimeout
})

/**
 * What `start` waits for:
 *
 * - `"started"`, `"healthy"` (fails at once when the container has no healthcheck), `"exited"`;
 * - `{ logLine, times? }`: a line (a substring or a RegExp) printed `times` times (default 1) in
 *   one run; the container exiting first fails `start`;
 * - `{ port }`: a TCP connect from this process to the host port the container port is
 *   published on succeeds;
 * - `{ http: { port, path, status?, method? } }`: an HTTP request to that published port
 *   answers `status` (default any 2xx);
 * - `{ command }`: an exec of the command in the container exits 0;
 * - `{ all: [...] }`: every one of them (awaited together).
 *
 * The object kinds take a `timeout` (default 60 seconds); past it, or when the container exits
 * first, `start` fails with `NotReadyError` naming the condition not met.
 *
 * @since 0.1.0
 */
export const Readiness: Schema.Codec<Readiness, ReadinessInput> = Schema.Union([
  Schema.Literals(["started", "healthy", "exited"]),
  LogLineReadiness,
  PortReadiness,
  HttpReadiness,
  CommandReadiness,
  ReadinessAll
])
/** @since 0.1.0 */
export type Readiness =
  | "started"
  | "healthy"
  | "exited"
  | typeof LogLineReadiness.Type
  | typeof PortReadiness.Type
  | typeof HttpReadiness.Type
  | typeof CommandReadiness.Type
  | ReadinessAll
/** A readiness as written (durations as `"5 seconds"`). @since 0.1.0 */
export type ReadinessInput =
  | "started"
  | "healthy"
  | "exited"
  | typeof LogLineReadiness.Encoded
  | typeof PortReadiness.Encoded
  | typeof HttpReadiness.Encoded
  | typeof CommandReadiness.Encoded
  | ReadinessAllInput

// ---------------------------------------------------------------------------------------------
// Reaching the container: ports, mounts, process and host options
// ---------------------------------------------------------------------------------------------

const PortNumber = Int.check(
  rule((port: number) => (port >= 1 && port <= 65535 ? undefined : "the port must be between 1 and 65535"))
)

/** IPv4 dotted quad or an IPv6 address (no zone). */
const ipAddressProblem = (ip: string): string | undefined => {
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
const mountTargetProblem = (path: string): string | undefined => {
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

const mountsProblems = (mounts: ReadonlyArray<Mount>): ReadonlyArray<Schema.FilterIssue> => {
  const seen = new Set<string>()
  return mounts.flatMap((mount, index): ReadonlyArray<Schema.FilterIssue> => {
    const target = mount.target.replace(/\/+$/, "")
    if (seen.has(target)) return [{ path: [index, "target"], issue: `${target} is mounted on twice` }]
    seen.add(target)
    if (mount.type === "volume" && mount.source === undefined && mount.scope !== undefined) {
      return [{ path: [index, "scope"], issue: "an anonymous volume (no source) has no scope" }]
    }
    return []
  })
}

const hostnameLabel = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/
const hostnameProblem = (name: string): string | undefined =>
  name.length <= 253 && name.split(".").every((label) => hostnameLabel.test(label))
    ? undefined
    : "not a host name (letters, digits and '-', dot-separated labels of at most 63)"

const Capability = Schema.String.check(
  rule((cap: string) =>
    /^(?:CAP_)?[A-Z][A-Z_]*$|^ALL$/.test(cap) ? undefined : "not a capability name (e.g. NET_ADMIN)"
  )
)

const noNul = (what: string) =>
  rule((text: string) =>
    text.length === 0
      ? `the ${what} is empty`
      : text.includes("\0")
        ? `the ${what} must not contain NUL`
        : undefined
  )

/** The word that asks for a privileged container (root on the host): `privileged: "yes-i-know"`. @since 0.2.0 */
export const privilegedConsent = "yes-i-know"

const Privileged = Schema.Union([Schema.Literal(privilegedConsent), Schema.Literal(false)]).annotate({
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

const EngineOptions = Schema.Record(Schema.String, Schema.Unknown).check(
  Schema.makeFilter(engineOptionsProblems)
)

const RestartPolicySchema = Schema.declare(RestartPolicy.isRestartPolicy, {
  expected: "a RestartPolicy (RestartPolicy.never, always(), onFailure({ maxRetries }), when(predicate))"
}).check(
  Schema.makeFilter((policy: RestartPolicy.RestartPolicy) =>
    policy._tag === "OnFailure" &&
    !(
      policy.maxRetries === Number.POSITIVE_INFINITY ||
      (Number.isSafeInteger(policy.maxRetries) && policy.maxRetries >= 1)
    )
      ? { path: ["maxRetries"], issue: "must be a whole number, 1 or more (leave it out for no limit)" }
      : policy._tag !== "Never" && !Duration.isFinite(policy.stableAfter)
        ? { path: ["stableAfter"], issue: "must be finite" }
        : true
  )
)

const Sanitizer = Schema.declare((u: unknown): u is (line: string) => string => typeof u === "function", {
  expected: "a function from a log line to a log line"
})

const Fields = Schema.Struct({
  /** The component name; the container is named `<app>-<instance>-<name>`. */
  name: Schema.String.check(
    rule((name: string) =>
      name.length > 128
        ? "the name is longer than 128 characters"
        : componentName.test(name)
          ? undefined
          : "the name must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"
    )
  ),
  /** `name[:tag][@digest]`, e.g. `postgres:17`, `127.0.0.1:5000/team/app@sha256:...`. */
  image: Schema.String.check(rule(imageReferenceProblem)),
  command: Schema.optional(Schema.Array(Schema.String)),
  entrypoint: Schema.optional(Schema.Array(Schema.String)),
  /** Values given as `Redacted` are revealed only into the engine's request. */
  env: Schema.optional(Env),
  /** Your labels; the library's prefix (`dev.effect-docker.`) is reserved. */
  labels: Schema.optional(UserLabels),
  healthcheck: Schema.optional(Healthcheck),
  resources: Schema.optional(Resources),
  network: Schema.optional(NetworkOptions),
  /** Copied in before the container starts (default none). */
  files: Schema.Array(File).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  /** The supervisor's restart policy (default {@link RestartPolicy.never}). */
  restartPolicy: RestartPolicySchema.pipe(Schema.withDecodingDefault(Effect.succeed(RestartPolicy.never))),
  engineRestartPolicy: Schema.optional(EngineRestartPolicy),
  pullPolicy: PullPolicy.pipe(Schema.withDecodingDefault(Effect.succeed("ifMissing" as const))),
  /** Credentials for the image's registry (default: the Docker CLI's config for that registry). */
  registryAuth: Schema.optional(RegistryAuth),
  /** How long a stop waits after the stop signal before it kills (default 10 seconds). */
  stopTimeout: DurationInput.pipe(Schema.withDecodingDefault(Effect.succeed<Duration.Input>("10 seconds"))),
  stopSignal: Schema.optional(
    Schema.String.check(
      rule((signal: string) =>
        /^(?:SIG)?[A-Z][A-Z0-9]*(?:[+-][0-9]+)?$|^[0-9]+$/.test(signal)
          ? undefined
          : "not a signal name or number (e.g. SIGTERM, SIGINT, 15)"
      )
    )
  ),
  /** What `start` waits for (default: `healthy` with a healthcheck in the spec or image, else `started`). */
  readiness: Schema.optional(Readiness),
  /** Count rx/tx over this interface only (default: all). */
  statsInterface: Schema.optional(
    Schema.String.check(rule((name: string) => (name.length > 0 ? undefined : "the interface name is empty")))
  ),
  /**
   * Where this container's stats come from (default: the Supervisor's `statsSource`): `auto`,
   * `engine` or `cgroup`, as `Supervisor.Options.statsSource` describes.
   */
  statsSource: Schema.optional(Schema.Literals(["auto", "engine", "cgroup"])),
  /** How many last log lines are kept for the exit error and the restart decision (default 20). */
  logTail: NonNegativeInt.check(
    rule((lines: number) => (lines <= 10_000 ? undefined : "must be at most 10000"))
  ).pipe(Schema.withDecodingDefault(Effect.succeed(20))),
  /** Applied to kept log lines (default: URL credentials and token-like values redacted). */
  logSanitizer: Schema.optional(Sanitizer),
  /** Ports published on the host (`docker run -p`). */
  ports: Schema.optional(Schema.Array(Port)),
  /** Ports exposed without publishing (`--expose`). */
  exposedPorts: Schema.optional(Schema.Array(ExposedPort)),
  /** Binds, volumes and tmpfs (`--mount`). */
  mounts: Schema.optional(Schema.Array(Mount).check(Schema.makeFilter(mountsProblems))),
  /** `user`, `user:group`, `uid` or `uid:gid` (`--user`). */
  user: Schema.optional(Schema.String.check(noNul("user"))),
  /** The process's working directory, absolute (`--workdir`). */
  workingDir: Schema.optional(Schema.String.check(rule(mountTargetProblem))),
  hostname: Schema.optional(Schema.String.check(rule(hostnameProblem))),
  /** Host name → IP added to `/etc/hosts` (`--add-host`); `"host-gateway"` is the host. */
  extraHosts: Schema.optional(
    Schema.Record(
      Schema.String.check(rule(hostnameProblem)),
      Schema.String.check(rule((ip: string) => (ip === "host-gateway" ? undefined : ipAddressProblem(ip))))
    )
  ),
  capAdd: Schema.optional(Schema.Array(Capability)),
  capDrop: Schema.optional(Schema.Array(Capability)),
  /** Run an init process as PID 1 that reaps zombies and forwards signals (`--init`). */
  init: Schema.optional(Schema.Boolean),
  readOnlyRootFs: Schema.optional(Schema.Boolean),
  /** Bytes of `/dev/shm` (`--shm-size`). */
  shmSize: Schema.optional(
    Int.check(rule((bytes: number) => (bytes > 0 ? undefined : "the size must be more than 0")))
  ),
  tty: Schema.optional(Schema.Boolean),
  /** Root on the host: refused unless written `"yes-i-know"` ({@link privilegedConsent}). */
  privileged: Schema.optional(Privileged),
  /** `os[/arch[/variant]]` (`--platform`), e.g. `linux/arm64`. */
  platform: Schema.optional(
    Schema.String.check(
      rule((platform: string) =>
        /^[a-z0-9]+(?:\/[a-z0-9_]+(?:\/[a-z0-9]+)?)?$/.test(platform)
          ? undefined
          : "not a platform (os[/arch[/variant]], e.g. linux/arm64)"
      )
    )
  ),
  /**
   * Anything else the Engine API's create body accepts (its own names: `{ HostConfig: { Ulimits: [...] } }`),
   * merged last. Refused where it would break the supervisor's guarantees: labels of the library's
   * prefix, another network, an engine restart policy beside a supervisor one, `AutoRemove`.
   */
  engineOptions: Schema.optional(EngineOptions)
})

/**
 * The spec Schema. Decoding validates every field and fills the defaults
 * (`restartPolicy`, `pullPolicy`, `stopTimeout`, `logTail`).
 *
 * @since 0.1.0
 */
export const ContainerSpec = Fields.check(
  Schema.makeFilter((spec: typeof Fields.Type) => {
    if (
      spec.engineRestartPolicy !== undefined &&
      spec.engineRestartPolicy !== "no" &&
      spec.restartPolicy._tag !== "Never"
    ) {
      return {
        path: ["engineRestartPolicy"],
        issue: `an engine restart policy (${spec.engineRestartPolicy}) conflicts with the supervisor's restart policy (${spec.restartPolicy._tag}): choose one`
      }
    }
    const rawPolicy = engineRestartPolicyOf(spec.engineOptions)
    if (
      rawPolicy !== undefined &&
      rawPolicy !== "no" &&
      rawPolicy !== "" &&
      spec.restartPolicy._tag !== "Never"
    ) {
      return {
        path: ["engineOptions", "HostConfig", "RestartPolicy"],
        issue: `an engine restart policy (${rawPolicy}) conflicts with the supervisor's restart policy (${spec.restartPolicy._tag}): choose one`
      }
    }
    return true
  })
)

/** The restart policy name set through `engineOptions.HostConfig.RestartPolicy`, if any. */
const engineRestartPolicyOf = (
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

/**
 * A validated spec, defaults filled.
 *
 * @since 0.1.0
 */
export type ContainerSpec = typeof ContainerSpec.Type

/**
 * A spec as users write it (durations as `"5 seconds"`, defaults optional).
 *
 * @since 0.1.0
 */
export type Input = typeof ContainerSpec.Encoded

/**
 * A spec field is invalid. `field` is its path (`files[0].path`, `env.TOKEN`,
 * `resources.memoryBytes`); `message` says what is wrong and never holds an env value.
 *
 * @since 0.1.0
 */
export class InvalidSpec extends Schema.TaggedError<InvalidSpec>()("InvalidSpec", {
  field: Schema.String,
  message: Schema.String
}) {}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, segment) => {
    if (typeof segment === "number") return `${out}[${segment}]`
    const key = String(segment)
    return out.length === 0 ? key : `${out}.${key}`
  }, "")

const unknownKey = "unknown key (a typo? e.g. restartPolicy, not restart)"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) =>
    issue._tag === "MissingKey"
      ? "is required"
      : // Not the default text: it would repeat the value, which may be a secret.
        issue._tag === "UnexpectedKey"
        ? unknownKey
        : SchemaIssue.defaultLeafHook(issue)
})

/**
 * The issue to report. A union (`readiness`) reports one per member, most of them the key
 * the member is told apart by, missing, or the other members' keys, unknown: the deepest of
 * the others is the one the user meant.
 */
const reported = <I extends { readonly path?: ReadonlyArray<unknown> | undefined; readonly message: string }>(
  issues: ReadonlyArray<I>
): I | undefined => {
  const meant = issues.filter((issue) => issue.message !== "is required" && issue.message !== unknownKey)
  if (issues.length < 2) return issues[0]
  if (meant.length === 0) return issues.find((issue) => issue.message === unknownKey) ?? issues[0]
  return meant.reduce((deepest, issue) =>
    (issue.path?.length ?? 0) > (deepest.path?.length ?? 0) ? issue : deepest
  )
}

const toInvalidSpec = (error: Schema.SchemaError): InvalidSpec => {
  const first = reported(formatter(error.issue).issues)
  const path = (first?.path ?? []).map((segment) =>
    typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
  )
  return new InvalidSpec({
    field: path.length === 0 ? "spec" : formatPath(path),
    message: first?.message ?? "invalid spec"
  })
}

/**
 * Options of {@link validate}.
 *
 * @since 0.1.0
 */
export interface ValidateOptions {
  /** The supervisor's label prefix, reserved in user labels (default `dev.effect-docker.`). */
  readonly labelPrefix?: string | undefined
}

/**
 * Validates a spec and fills its defaults (`restartPolicy`, `pullPolicy`, `stopTimeout`, `logTail`, `files`); the first invalid field is an
 * {@link InvalidSpec} naming it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ContainerSpec } from "effect-docker"
 *
 * const program = ContainerSpec.validate({ name: "web", image: "nginx", files: [{ path: "../etc", content: "" }] }).pipe(
 *   Effect.catchTag("InvalidSpec", (error) => Effect.succeed(error.field)) // "files[0].path"
 * )
 * ```
 *
 * @since 0.1.0
 */
export const validate = (
  input: Input,
  options?: ValidateOptions
): Effect.Effect<ContainerSpec, InvalidSpec> => validateUnknown(input, options)

/**
 * {@link validate} for a value of unknown shape (parsed from a file, sent by a client).
 *
 * @example
 * ```ts
 * import { ContainerSpec } from "effect-docker"
 *
 * const fromFile = (parsed: unknown) => ContainerSpec.validateUnknown(parsed)
 * ```
 *
 * @since 0.1.0
 */
export const validateUnknown = (
  input: unknown,
  options?: ValidateOptions
): Effect.Effect<ContainerSpec, InvalidSpec> =>
  // Unknown keys are errors: a typo (`restart:` for `restartPolicy:`) must not pass silently.
  Schema.decodeUnknownEffect(ContainerSpec)(input, { errors: "first", onExcessProperty: "error" }).pipe(
    Effect.mapError(toInvalidSpec),
    Effect.flatMap((spec) => {
      const keys = Labels.keys(options?.labelPrefix)
      const reserved = Object.keys(spec.labels ?? {}).find((key) => Labels.isReserved(keys, key))
      if (reserved !== undefined) {
        return Effect.fail(
          new InvalidSpec({
            field: `labels.${reserved}`,
            message: `the label prefix ${keys.prefix} belongs to effect-docker`
          })
        )
      }
      const rawLabels = spec.engineOptions?.Labels
      const rawReserved = Object.keys(
        typeof rawLabels === "object" && rawLabels !== null ? rawLabels : {}
      ).find((key) => Labels.isReserved(keys, key) || key.startsWith(Labels.defaultPrefix))
      if (rawReserved !== undefined) {
        return Effect.fail(
          new InvalidSpec({
            field: `engineOptions.Labels.${rawReserved}`,
            message: `the label prefix ${keys.prefix} belongs to effect-docker`
          })
        )
      }
      return missingBindSource(spec)
    })
  )

/** A bind mount's host path must exist: checked here, before any engine call. */
const missingBindSource = (spec: ContainerSpec): Effect.Effect<ContainerSpec, InvalidSpec> =>
  Effect.suspend(() => {
    const index = (spec.mounts ?? []).findIndex((mount) => mount.type === "bind" && !existsSync(mount.source))
    return index === -1
      ? Effect.succeed(spec)
      : Effect.fail(
          new InvalidSpec({ field: `mounts[${index}].source`, message: "the host path does not exist" })
        )
  })

/**
 * Types a spec literal (no validation: `validate`, or the Supervisor, does that).
 *
 * @example
 * ```ts
 * import { ContainerSpec } from "effect-docker"
 *
 * const web = ContainerSpec.make({ name: "web", image: "nginx:1.27", readiness: { logLine: "ready" } })
 * ```
 *
 * @since 0.1.0
 */
export const make = (input: Input): Input => input

/**
 * The readiness `start` waits for: the spec's, else `healthy` when the spec or the image
 * has a healthcheck (and it is not `NONE`), else `started`.
 *
 * @since 0.1.0
 */
export const readinessOf = (spec: ContainerSpec, imageHasHealthcheck: boolean): Readiness => {
  if (spec.readiness !== undefined) return spec.readiness
  const own = spec.healthcheck?.test[0]
  if (own === "NONE") return "started"
  return own !== undefined || imageHasHealthcheck ? "healthy" : "started"
}

/**
 * The values of the spec's `Redacted` env variables (to mask them in log lines).
 *
 * @since 0.1.0
 */
export const secrets = (spec: Pick<ContainerSpec, "env">): ReadonlyArray<string> =>
  Object.values(spec.env ?? {}).flatMap((value) =>
    Redacted.isRedacted(value) ? [Redacted.value(value)] : []
  )

/**
 * The log line sanitizer of a spec: its `logSanitizer` (or the default, which redacts URL
 * credentials and token-like values), then its `Redacted` env values masked in any case.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { ContainerSpec } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const spec = yield* ContainerSpec.validate({ name: "db", image: "postgres", env: { PW: Redacted.make("hunter2") } })
 *   return ContainerSpec.sanitizer(spec)("password is hunter2") // "password is <redacted>"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const sanitizer = (spec: Pick<ContainerSpec, "env" | "logSanitizer">): ((line: string) => string) =>
  Sanitize.make({ sanitizer: spec.logSanitizer, secrets: secrets(spec) })

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
            ...defined("startPeriodMs", millis(healthcheck.startPeriod))
          }
    )
  }
}
