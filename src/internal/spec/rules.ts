/**
 * The field rules of a spec: `rule` (a filter from a message), the checks of names, image
 * references, file paths, env variables and memory limits, and the number and duration
 * schemas the other spec schemas build on, and the env and user label schemas. Each message says what is wrong without repeating
 * a value that could be secret. `ContainerSpec` re-exports the public ones.
 */
import { Duration, Option, Redacted, Schema, SchemaTransformation } from "effect"
import * as ContainerPath from "../containerPath.js"
import * as Labels from "../labels.js"

export const rule = <T>(message: (value: T) => string | undefined) =>
  Schema.makeFilter<T>((value) => message(value) ?? true)

export const componentName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

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

export const FILE_PATH_PROBLEM: Readonly<Record<FilePathIssue, string>> = {
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

export const envProblems = (
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
export const maxCpus = 1024

export const Int = Schema.Number.check(
  rule((n: number) => (Number.isSafeInteger(n) ? undefined : "must be a whole number"))
)
export const NonNegativeInt = Int.check(rule((n: number) => (n >= 0 ? undefined : "must not be negative")))

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

export const FilePath = Schema.String.check(rule(filePathProblem))
export const FileMode = Schema.optionalKey(
  Int.check(
    rule((mode: number) =>
      mode >= 0 && mode <= 0o7777 ? undefined : "the mode must be between 0 and 0o7777"
    )
  )
)

export const Env = Schema.Record(
  Schema.String,
  Schema.Union([Schema.String, Schema.Redacted(Schema.String)])
).check(Schema.makeFilter(envProblems))

export const UserLabels = Schema.Record(Schema.String, Schema.String).check(
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
