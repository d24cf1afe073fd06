/**
 * The errors of a container's run, one per step, each carrying the engine's
 * {@link DockerError} as its `cause`. Re-exported by `Supervisor`.
 *
 * @internal
 */
import { Schema } from "effect"
import { DockerError } from "../DockerError.js"

const StepFields = {
  /** The spec's component name. */
  component: Schema.String,
  image: Schema.String,
  /** The container, once created. */
  containerId: Schema.optionalKey(Schema.String),
  cause: DockerError
}

const describe = (step: string, error: { readonly component: string; readonly cause: DockerError }) =>
  `${step} of ${error.component} failed: ${error.cause.message} (${error.cause.reason})`

/**
 * The image could not be pulled (or is missing under the `never` pull policy). No container
 * was created.
 *
 * @since 0.1.0
 */
export class PullError extends Schema.TaggedError<PullError>()("PullError", StepFields) {
  override get message(): string {
    return describe(`pulling ${this.image}`, this)
  }
}

/**
 * The engine refused to create the container (name taken, unknown network, bad option).
 *
 * @since 0.1.0
 */
export class CreateError extends Schema.TaggedError<CreateError>()("CreateError", StepFields) {
  override get message(): string {
    return describe("creating the container", this)
  }
}

/**
 * Copying the spec's files into the container failed.
 *
 * @since 0.1.0
 */
export class CopyError extends Schema.TaggedError<CopyError>()("CopyError", StepFields) {
  override get message(): string {
    return describe("copying files", this)
  }
}

/**
 * Starting (or restarting) the container failed.
 *
 * @since 0.1.0
 */
export class StartError extends Schema.TaggedError<StartError>()("StartError", StepFields) {
  override get message(): string {
    return describe("starting the container", this)
  }
}

/**
 * Waiting for the container's exit failed: the container vanished, the engine stayed away
 * longer than the instance's backoff retries, or the events stream was lost for good
 * (`cause.operation` is `"events"`).
 *
 * @since 0.1.0
 */
export class WaitError extends Schema.TaggedError<WaitError>()("WaitError", StepFields) {
  override get message(): string {
    return describe("waiting for the container", this)
  }
}

/**
 * `start` waited for a readiness condition and it was not met: the container exited (or
 * turned unhealthy) first, the condition's timeout passed, or it cannot hold (no healthcheck
 * to wait for, a port not published, a command the image lacks). `lastLogLines` says why,
 * sanitized.
 *
 * @since 0.1.0
 */
export class NotReadyError extends Schema.TaggedError<NotReadyError>()("NotReadyError", {
  component: Schema.String,
  image: Schema.String,
  containerId: Schema.optionalKey(Schema.String),
  /** The condition not met: `started`, `healthy`, `ready (port 5432 accepting connections)`, ... */
  readiness: Schema.String,
  /** What happened instead: `exited with code 1`, `unhealthy`, `not met within 1m (last attempt: ...)`. */
  outcome: Schema.String,
  lastLogLines: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const tail = this.lastLogLines.length > 0 ? `; last log lines:\n${this.lastLogLines.join("\n")}` : ""
    return `${this.component} never became ${this.readiness}: ${this.outcome}${tail}`
  }
}
