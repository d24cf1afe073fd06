/**
 * The readiness schemas: what `start` waits for (`started`, `healthy`, `exited`, a log line,
 * a port, an HTTP answer, a command, or `all` of them). `ContainerSpec` re-exports them.
 */
import { Duration, Schema } from "effect"
import { DurationInput, Int, rule } from "./rules.js"

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
