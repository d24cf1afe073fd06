/**
 * The engine's model of the exec API group: the options of an exec and its result.
 * Re-exported by `DockerModel`; no service and no I/O here.
 */
import { type Redacted, Schema } from "effect"

/**
 * Options for `exec`: how the command runs inside the container.
 *
 * @category options
 * @since 0.1.0
 */
export interface ExecOptions {
  /** Added to the container's environment; values given as `Redacted` are revealed only into the request body. */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /** `user`, `user:group`, `uid` or `uid:gid` (the container's user when absent). */
  readonly user?: string
  /** Absolute directory to run in (the container's working directory when absent). */
  readonly workingDir?: string
  /** Run with a terminal: stdout and stderr arrive mixed, all as `stdout` (default false). */
  readonly tty?: boolean
}

/**
 * What a finished `exec` gives: the command's exit code and its output, collected whole.
 * Line endings are `\n` (a `\r\n` arrives as `\n`).
 *
 * @category models
 * @since 0.1.0
 */
export const ExecResult = Schema.Struct({
  exitCode: Schema.Number,
  stdout: Schema.String,
  stderr: Schema.String
})
/**
 * @category models
 * @since 0.1.0
 */
export type ExecResult = typeof ExecResult.Type
