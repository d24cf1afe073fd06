/**
 * A stand-in for `ContainerSpec` (owned by the model engineer, not landed yet when the
 * Supervisor was written), following the agreed contract: the Supervisor imports the spec
 * from here so that swapping in the real module is a one-line change.
 *
 * @internal
 */
import { Duration, Effect, Redacted, Schema } from "effect"
import type { ContainerFile, CreateContainerOptions } from "../DockerEngine.js"
import * as RestartPolicy from "../RestartPolicy.js"
import * as Sanitize from "./sanitize.js"

/** @internal */
export class InvalidSpec extends Schema.TaggedError<InvalidSpec>()("InvalidSpec", {
  field: Schema.String,
  message: Schema.String
}) {}

/** @internal */
export type Readiness = "started" | "healthy" | "exited" | { readonly logLine: string | RegExp }

/** @internal */
export interface Input {
  readonly name: string
  readonly image: string
  readonly command?: ReadonlyArray<string> | undefined
  readonly entrypoint?: ReadonlyArray<string> | undefined
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly healthcheck?:
    | {
        readonly test: ReadonlyArray<string>
        readonly interval?: Duration.Input | undefined
        readonly timeout?: Duration.Input | undefined
        readonly retries?: number | undefined
        readonly startPeriod?: Duration.Input | undefined
      }
    | undefined
  readonly resources?:
    | { readonly memoryBytes?: number | undefined; readonly cpus?: number | undefined }
    | undefined
  readonly network?: { readonly aliases?: ReadonlyArray<string> | undefined } | undefined
  readonly files?:
    | ReadonlyArray<{
        readonly path: string
        readonly content: string | Uint8Array
        readonly mode?: number | undefined
      }>
    | undefined
  readonly restartPolicy?: RestartPolicy.RestartPolicy | undefined
  readonly engineRestartPolicy?: "no" | "always" | "on-failure" | "unless-stopped" | undefined
  readonly pullPolicy?: "always" | "ifMissing" | "never" | undefined
  readonly stopTimeout?: Duration.Input | undefined
  readonly stopSignal?: string | undefined
  readonly readiness?: Readiness | undefined
  readonly statsInterface?: string | undefined
  readonly logTail?: number | undefined
  readonly logSanitizer?: ((line: string) => string) | undefined
}

/** @internal */
export interface ContainerSpec {
  readonly name: string
  readonly image: string
  readonly command: ReadonlyArray<string> | undefined
  readonly entrypoint: ReadonlyArray<string> | undefined
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly labels: Readonly<Record<string, string>>
  readonly healthcheck: Input["healthcheck"]
  readonly resources: Input["resources"]
  readonly aliases: ReadonlyArray<string>
  readonly files: ReadonlyArray<ContainerFile>
  readonly restartPolicy: RestartPolicy.RestartPolicy
  readonly engineRestartPolicy: Input["engineRestartPolicy"]
  readonly pullPolicy: "always" | "ifMissing" | "never"
  readonly stopTimeout: Duration.Duration
  readonly stopSignal: string | undefined
  readonly readiness: Readiness | undefined
  readonly statsInterface: string | undefined
  readonly logTail: number
  readonly logSanitizer: (line: string) => string
}

const componentName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const imageReference =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

const invalid = (field: string, message: string) => Effect.fail(new InvalidSpec({ field, message }))

const checkPath = (path: string): string | undefined => {
  if (path.includes("\0")) return "must not contain NUL"
  if (!path.startsWith("/")) return "must be absolute"
  const segments = path.split("/").slice(1)
  if (segments.some((segment) => segment === "..")) return "must not contain `..`"
  if (segments.some((segment, index) => segment === "." || (segment === "" && index < segments.length - 1)))
    return "must be normalised"
  if (path.endsWith("/")) return "must name a file"
  return undefined
}

const durationOf = (field: string, input: Duration.Input | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return Effect.succeed(fallback)
  const decoded = Duration.fromInput(input)
  return decoded._tag === "Some" ? Effect.succeed(decoded.value) : invalid(field, "is not a duration")
}

const millisOf = (input: Duration.Input | undefined) => {
  if (input === undefined) return undefined
  const decoded = Duration.fromInput(input)
  return decoded._tag === "Some" ? Duration.toMillis(decoded.value) : undefined
}

/** @internal */
export const validate = (input: Input): Effect.Effect<ContainerSpec, InvalidSpec> =>
  Effect.gen(function* () {
    if (!componentName.test(input.name)) return yield* invalid("name", `"${input.name}" is not a valid name`)
    if (!imageReference.test(input.image))
      return yield* invalid("image", `"${input.image}" is not an image reference`)
    for (const [key, value] of Object.entries(input.env ?? {})) {
      if (key.length === 0 || key.includes("=") || /[\0\n]/.test(key))
        return yield* invalid(`env.${key}`, "is not a valid name")
      const text = Redacted.isRedacted(value) ? Redacted.value(value) : value
      if (/[\0\n]/.test(text)) return yield* invalid(`env.${key}`, "must not contain NUL or a newline")
    }
    const files: Array<ContainerFile> = []
    for (const [index, file] of (input.files ?? []).entries()) {
      const problem = checkPath(file.path)
      if (problem !== undefined) return yield* invalid(`files[${index}].path`, problem)
      files.push({
        path: file.path,
        content: file.content,
        ...(file.mode === undefined ? {} : { mode: file.mode })
      })
    }
    const restartPolicy = input.restartPolicy ?? RestartPolicy.never
    if (
      restartPolicy._tag !== "Never" &&
      input.engineRestartPolicy !== undefined &&
      input.engineRestartPolicy !== "no"
    ) {
      return yield* invalid("engineRestartPolicy", "conflicts with restartPolicy: use one or the other")
    }
    return {
      name: input.name,
      image: input.image,
      command: input.command,
      entrypoint: input.entrypoint,
      env: input.env ?? {},
      labels: input.labels ?? {},
      healthcheck: input.healthcheck,
      resources: input.resources,
      aliases: input.network?.aliases ?? [],
      files,
      restartPolicy,
      engineRestartPolicy: input.engineRestartPolicy,
      pullPolicy: input.pullPolicy ?? "ifMissing",
      stopTimeout: yield* durationOf("stopTimeout", input.stopTimeout, Duration.seconds(10)),
      stopSignal: input.stopSignal,
      readiness: input.readiness,
      statsInterface: input.statsInterface,
      logTail: input.logTail ?? 20,
      logSanitizer: input.logSanitizer ?? Sanitize.defaultSanitizer
    }
  })

/** @internal */
export const toCreateOptions = (
  spec: ContainerSpec,
  options: {
    readonly name: string
    readonly labels: Readonly<Record<string, string>>
    readonly network: string
  }
): CreateContainerOptions => {
  const healthcheck = spec.healthcheck
  const interval = millisOf(healthcheck?.interval)
  const timeout = millisOf(healthcheck?.timeout)
  const startPeriod = millisOf(healthcheck?.startPeriod)
  return {
    image: spec.image,
    name: options.name,
    ...(spec.command === undefined ? {} : { cmd: spec.command }),
    ...(spec.entrypoint === undefined ? {} : { entrypoint: spec.entrypoint }),
    env: spec.env,
    labels: { ...spec.labels, ...options.labels },
    ...(healthcheck === undefined
      ? {}
      : {
          healthcheck: {
            test: healthcheck.test,
            ...(interval === undefined ? {} : { intervalMs: interval }),
            ...(timeout === undefined ? {} : { timeoutMs: timeout }),
            ...(healthcheck.retries === undefined ? {} : { retries: healthcheck.retries }),
            ...(startPeriod === undefined ? {} : { startPeriodMs: startPeriod })
          }
        }),
    ...(spec.stopSignal === undefined ? {} : { stopSignal: spec.stopSignal }),
    stopTimeout: Math.ceil(Duration.toSeconds(spec.stopTimeout)),
    ...(spec.resources?.memoryBytes === undefined ? {} : { memory: spec.resources.memoryBytes }),
    ...(spec.resources?.cpus === undefined ? {} : { nanoCpus: Math.round(spec.resources.cpus * 1e9) }),
    networkMode: options.network,
    ...(spec.aliases.length === 0 ? {} : { networkAliases: spec.aliases }),
    ...(spec.engineRestartPolicy === undefined ? {} : { restartPolicy: { name: spec.engineRestartPolicy } })
  }
}
