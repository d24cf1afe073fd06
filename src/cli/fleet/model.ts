/**
 * What a fleet file describes once read: the services and their settings, and the error that
 * lists every problem of a file that cannot run. Plain data; reading lives beside it.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Runtime, Schema } from "effect"

/**
 * When a service may start, relative to one it depends on (Compose's `depends_on.condition`).
 *
 * @category models
 * @since 0.1.0
 */
export type DependencyCondition = "service_started" | "service_healthy" | "service_completed_successfully"

/**
 * @category models
 * @since 0.1.0
 */
export interface Dependency {
  readonly service: string
  readonly condition: DependencyCondition
}

/**
 * Compose's `restart`: `no`, `always` (and `unless-stopped`, read as `always`), `on-failure[:N]`.
 *
 * @category models
 * @since 0.1.0
 */
export type Restart =
  | { readonly _tag: "no" }
  | { readonly _tag: "always" }
  | { readonly _tag: "onFailure"; readonly maxRetries: number | undefined }

/**
 * @category models
 * @since 0.1.0
 */
export interface Healthcheck {
  /** `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`. */
  readonly test: ReadonlyArray<string>
  readonly interval: Duration.Duration | undefined
  readonly timeout: Duration.Duration | undefined
  readonly retries: number | undefined
  readonly startPeriod: Duration.Duration | undefined
}

/**
 * A file copied into the container before it starts (the `x-files` extension).
 *
 * @category models
 * @since 0.1.0
 */
export interface File {
  readonly path: string
  readonly content: string
  readonly mode: number | undefined
}

/**
 * One service of the fleet, as read from the file.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  readonly name: string
  readonly image: string
  readonly command: ReadonlyArray<string> | undefined
  readonly entrypoint: ReadonlyArray<string> | undefined
  readonly environment: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly healthcheck: Healthcheck | undefined
  readonly restart: Restart
  readonly stopGracePeriod: Duration.Duration | undefined
  readonly dependsOn: ReadonlyArray<Dependency>
  /** Bytes. */
  readonly memLimit: number | undefined
  readonly cpus: number | undefined
  readonly files: ReadonlyArray<File>
}

/**
 * A parsed fleet: its services in dependency order (every service after the ones it depends on).
 *
 * @category models
 * @since 0.1.0
 */
export interface Fleet {
  /** The file as the user named it, for messages. */
  readonly file: string
  /** The top-level `name`, when given. */
  readonly name: string | undefined
  readonly services: ReadonlyArray<Service>
  /** The line of every key path read (`services.web.environment.PORT` → 7), to place later errors. */
  readonly lines: ReadonlyMap<string, number>
}

/**
 * Variables for `${VAR}` interpolation and for `environment` entries given without a value.
 *
 * @category models
 * @since 0.1.0
 */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * One problem in a fleet file.
 *
 * @category errors
 * @since 0.1.0
 */
export const Problem = Schema.Struct({
  line: Schema.Number,
  /** The key path, `services.web.healthcheck.interval`; `(yaml)` for a syntax error. */
  path: Schema.String,
  message: Schema.String
})
/**
 * @category errors
 * @since 0.1.0
 */
export type Problem = typeof Problem.Type

/**
 * `demo.yaml:12: services.web.healthcheck.interval: expected a duration like 5s`
 *
 * @category errors
 * @since 0.1.0
 */
export const formatProblem = (file: string, problem: Problem): string =>
  `${file}:${problem.line}: ${problem.path}: ${problem.message}`

/**
 * A fleet file that cannot run, with every problem found. Exit status 2 when it ends the program.
 *
 * @category errors
 * @since 0.1.0
 */
export class FleetError extends Schema.TaggedError<FleetError>()("FleetError", {
  file: Schema.String,
  problems: Schema.Array(Problem)
}) {
  override readonly [Runtime.errorExitCode] = 2

  override get message(): string {
    return this.problems.map((problem) => formatProblem(this.file, problem)).join("\n")
  }
}
