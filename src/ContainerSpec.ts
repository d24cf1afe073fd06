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
 * The field rules live in `internal/spec/rules.ts`, the readiness schemas in
 * `internal/spec/readiness.ts`, the port, mount and host options in `internal/spec/reach.ts`,
 * how a failed decode is reported in `internal/spec/issues.ts` and the mapping to the
 * engine's create options in `internal/spec/createOptions.ts`. This module assembles the spec
 * Schema, validates it and re-exports their public names.
 *
 * @since 0.1.0
 */
import { existsSync } from "node:fs"
import { Duration, Effect, Redacted, Schema, Stream } from "effect"
import type { DockerError } from "./DockerError.js"
import { RegistryAuth } from "./DockerModel.js"
import * as Labels from "./internal/labels.js"
import * as Sanitize from "./internal/sanitize.js"
import * as Issues from "./internal/spec/issues.js"
import {
  Capability,
  EngineOptions,
  ExposedPort,
  engineRestartPolicyOf,
  hostnameProblem,
  ipAddressProblem,
  Mount,
  mountsProblems,
  mountTargetProblem,
  noNul,
  Port,
  Privileged
} from "./internal/spec/reach.js"
import { Readiness } from "./internal/spec/readiness.js"
import {
  componentName,
  DurationInput,
  Env,
  FileMode,
  FilePath,
  Int,
  imageReferenceProblem,
  maxCpus,
  maxMemoryBytes,
  minMemoryBytes,
  NonNegativeInt,
  rule,
  UserLabels
} from "./internal/spec/rules.js"
import * as RestartPolicy from "./RestartPolicy.js"

export { toCreateOptions } from "./internal/spec/createOptions.js"
export {
  ExposedPort,
  Mount,
  Port,
  Protocol,
  privilegedConsent,
  VolumeOptions,
  VolumeScope
} from "./internal/spec/reach.js"
export {
  defaultReadinessTimeout,
  Readiness,
  type ReadinessAll,
  type ReadinessAllInput,
  type ReadinessInput
} from "./internal/spec/readiness.js"
export {
  DurationInput,
  type FilePathIssue,
  filePathIssue,
  filePathProblem,
  imageReferenceProblem,
  maxMemoryBytes,
  minMemoryBytes
} from "./internal/spec/rules.js"

// ---------------------------------------------------------------------------------------------
// The Schema
// ---------------------------------------------------------------------------------------------

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
  startPeriod: Schema.optional(DurationInput),
  /**
   * Between checks during `startPeriod` (Engine API 1.44+, Docker 25; an older engine ignores
   * it and checks at `interval`).
   */
  startInterval: Schema.optional(DurationInput)
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
   * How many copies run (default 1): Swarm replicas, each in a slot of its own, under
   * `Supervisor.layerSwarm`. The single-host Supervisor runs one (more is an `InvalidSpec`: use
   * `layerSwarm`, or one spec per replica).
   */
  replicas: Schema.optional(
    Int.check(rule((count: number) => (count >= 1 ? undefined : "must be a whole number, 1 or more")))
  ),
  /**
   * Swarm only (ignored on one host): the nodes the replicas may run on, as Swarm's placement
   * constraints (`node.hostname==n1`, `node.role!=manager`, `node.labels.zone==a`).
   */
  placement: Schema.optional(
    Schema.Struct({
      constraints: Schema.optional(
        Schema.Array(
          Schema.String.check(
            rule((constraint: string) =>
              /^[^=!]+(==|!=)[^=!]+$/.test(constraint)
                ? undefined
                : "not a placement constraint (key==value or key!=value)"
            )
          )
        )
      )
    })
  ),
  /**
   * Swarm only (ignored on one host): how a change of the service rolls out over its replicas
   * (Compose's `deploy.update_config`): `parallelism` tasks at a time (0: all at once), `delay`
   * between batches, `order` (`stop-first`, Swarm's default, or `start-first`) and what a
   * failed update does (`failureAction`: `pause`, Swarm's default, `continue` or `rollback`).
   */
  swarmUpdate: Schema.optional(
    Schema.Struct({
      parallelism: Schema.optional(
        Int.check(rule((count: number) => (count >= 0 ? undefined : "must be a whole number, 0 or more")))
      ),
      delay: Schema.optional(DurationInput),
      order: Schema.optional(Schema.Literals(["stop-first", "start-first"])),
      failureAction: Schema.optional(Schema.Literals(["pause", "continue", "rollback"]))
    })
  ),
  /**
   * Swarm only (ignored on one host): how the replicas are reached on the instance network,
   * through one virtual IP (`vip`, which needs the kernel's IPVS) or DNS round-robin over them
   * (`dnsrr`, the default here: it works without IPVS); and how `ports` are published, on the
   * node of each task (`host`, the default, no routing mesh needed) or on every node through
   * the routing mesh (`ingress`, which needs `vip`).
   */
  swarmEndpoint: Schema.optional(
    Schema.Struct({
      mode: Schema.optional(Schema.Literals(["vip", "dnsrr"])),
      publishMode: Schema.optional(Schema.Literals(["host", "ingress"]))
    })
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

const toInvalidSpec = (error: Schema.SchemaError): InvalidSpec => new InvalidSpec(Issues.firstIssue(error))

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
      const volumeReserved = (spec.mounts ?? []).flatMap((mount, index) =>
        mount.type === "volume"
          ? Object.keys(mount.volumeOptions?.labels ?? {})
              .filter((key) => Labels.isReserved(keys, key))
              .map((key) => `mounts[${index}].volumeOptions.labels.${key}`)
          : []
      )[0]
      if (volumeReserved !== undefined) {
        return Effect.fail(
          new InvalidSpec({
            field: volumeReserved,
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
