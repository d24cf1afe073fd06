/**
 * What a fleet file describes once read: the services and their settings, and the error that
 * lists every problem of a file that cannot run. Plain data; reading lives beside it.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Runtime, Schema } from "effect"
import type * as ContainerSpec from "../../ContainerSpec.js"

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
  /** `required: false`: a dependency that is not part of the run (another profile) is skipped. */
  readonly required: boolean
  /** `restart: true`: kept as read; there is no `restart` command that would act on it. */
  readonly restart: boolean
}

/**
 * Compose's `restart`: `no`, `always` (and `unless-stopped`, read as `always`), `on-failure[:N]`.
 *
 * @category models
 * @since 0.1.0
 */
export type Restart =
  | { readonly _tag: "no" }
  | ({ readonly _tag: "always" } & RestartTiming)
  | ({ readonly _tag: "onFailure"; readonly maxRetries: number | undefined } & RestartTiming)

/**
 * `deploy.restart_policy.delay` (the pause between restarts) and `window` (how long a run must
 * last to count as a success), when given.
 *
 * @category models
 * @since 0.1.0
 */
export interface RestartTiming {
  readonly delay?: Duration.Duration | undefined
  readonly window?: Duration.Duration | undefined
}

/**
 * `deploy.update_config`: how a change rolls out over a service's replicas on Swarm.
 *
 * @category models
 * @since 0.3.0
 */
export interface UpdateConfig {
  readonly parallelism?: number | undefined
  readonly delay?: Duration.Duration | undefined
  readonly order?: "stop-first" | "start-first" | undefined
  readonly failureAction?: "pause" | "continue" | "rollback" | undefined
}

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
  /** Read and kept; not passed to the engine yet (the spec has no field for it). */
  readonly startInterval?: Duration.Duration | undefined
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
  /** `profiles`: the service runs only when one of them is enabled (none: always). */
  readonly profiles: ReadonlyArray<string>
  /** `deploy.replicas` or `scale` (default 1): containers `<service>-1..N`. */
  readonly replicas: number
  /** More names on the instance network (`networks.<net>.aliases`); the service name always is one. */
  readonly aliases: ReadonlyArray<string>
  /** `stop_signal`. */
  readonly stopSignal: string | undefined
  /** `ports`, one entry per published port (a range is several). */
  readonly ports: ReadonlyArray<ContainerSpec.Port>
  /** `expose`. */
  readonly exposedPorts: ReadonlyArray<ContainerSpec.ExposedPort>
  /** `volumes` and `tmpfs`: binds (absolute), app, external and anonymous volumes, tmpfs. */
  readonly mounts: ReadonlyArray<ContainerSpec.Mount>
  /** `user`, `working_dir`, `hostname`, `platform`. */
  readonly user: string | undefined
  readonly workingDir: string | undefined
  readonly hostname: string | undefined
  readonly platform: string | undefined
  /** `extra_hosts`: host name → IP. */
  readonly extraHosts: Readonly<Record<string, string>>
  readonly capAdd: ReadonlyArray<string>
  readonly capDrop: ReadonlyArray<string>
  /** `init`, `read_only`, `tty`. */
  readonly init: boolean | undefined
  readonly readOnly: boolean | undefined
  readonly tty: boolean | undefined
  /** `shm_size`, bytes. */
  readonly shmSize: number | undefined
  /** `deploy.placement.constraints` (Swarm only: `up --swarm`). */
  readonly placementConstraints?: ReadonlyArray<string> | undefined
  /** `deploy.update_config` (Swarm only: `up --swarm`). */
  readonly updateConfig?: UpdateConfig | undefined
}

/**
 * Where a key was read: the file (as the user named it) and the 1-based line.
 *
 * @category models
 * @since 0.1.0
 */
export interface Position {
  readonly file: string
  readonly line: number
}

/**
 * A parsed fleet: its services in dependency order (every service after the ones it depends on).
 *
 * @category models
 * @since 0.1.0
 */
export interface Fleet {
  /** The first file as the user named it, for messages. */
  readonly file: string
  /** Every file read, in merge order (the first is `file`). */
  readonly files: ReadonlyArray<string>
  /** The top-level `name`, when given. */
  readonly name: string | undefined
  readonly services: ReadonlyArray<Service>
  /** Where every key path was read (`services.web.environment.PORT` → demo.yaml:7), to place later errors. */
  readonly positions: ReadonlyMap<string, Position>
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
  /** The file, when not the error's own (an override file, an `env_file`, `.env`). */
  file: Schema.optionalKey(Schema.String),
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
  `${problem.file ?? file}:${problem.line}: ${problem.path}: ${problem.message}`

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
