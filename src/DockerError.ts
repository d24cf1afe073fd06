/**
 * The one error every Docker Engine call can fail with.
 *
 * A `DockerError` says what went wrong as a `reason` a caller can branch on, which
 * `operation` failed, the HTTP status when the engine answered, and the engine's own
 * message. Status codes and socket errors are mapped to a reason in one place,
 * {@link fromCause}, never at each call site.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const inspectOrNone = (id: string) =>
 *   Effect.gen(function*() {
 *     const engine = yield* DockerEngine.DockerEngine
 *     return yield* engine.inspectContainer(id)
 *   }).pipe(
 *     Effect.catchTag("DockerError", (error) =>
 *       error.reason === "NotFound" ? Effect.succeed(undefined) : Effect.fail(error))
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Why a Docker call failed.
 *
 * - `NotFound`: no such container, image or network (404).
 * - `Conflict`: the name is taken, the container is running, the network is in use (409, and
 *   the 403 the engine answers for a network with active endpoints).
 * - `Unavailable`: the daemon cannot be reached (no socket, connection refused, reset).
 * - `BadRequest`: the engine refused the request as invalid (400), or the input was.
 * - `Unauthorized`: the engine or registry refused the credentials (401, 403, EACCES).
 * - `ServerError`: the engine failed (500 and other statuses), including errors reported
 *   inside a 200 stream such as a failed pull.
 * - `Timeout`: no answer within the configured time.
 * - `Decode`: the engine answered with something this library could not decode.
 * - `NotSwarmManager`: a Swarm call (services, tasks, nodes, the swarm itself) reached an
 *   engine that is not a manager of a swarm (503 "This node is not a swarm manager" or "not
 *   part of a swarm"). Not an outage: retrying does not help.
 *
 * @category errors
 * @since 0.1.0
 */
export const DockerErrorReason = Schema.Literals([
  "NotFound",
  "Conflict",
  "Unavailable",
  "BadRequest",
  "Unauthorized",
  "ServerError",
  "Timeout",
  "Decode",
  "NotSwarmManager"
])

/**
 * @category errors
 * @since 0.1.0
 */
export type DockerErrorReason = typeof DockerErrorReason.Type

/**
 * Options of the {@link DockerError} constructor beside its fields.
 *
 * @category errors
 * @since 0.1.0
 */
export interface DockerErrorOptions extends Schema.MakeOptions {
  /**
   * What was thrown underneath (a socket or TLS error, docker-modem's HTTP error, a
   * decoding issue). Kept as the error's standard `cause`, not as a field.
   */
  readonly cause?: unknown
}

/**
 * A failed Docker Engine call.
 *
 * `cause` holds what was thrown underneath (for `Unavailable`, the socket error with its
 * `code`, `address` and `syscall`). It is a non-enumerable property, like the `cause` of a
 * native `Error`: error trackers and `Cause.pretty` show it, but it is not one of the
 * error's fields, so `JSON.stringify`, `toJSON` and the error's `toString` leave it out
 * and nothing underneath (a request's body, a registry's answer) is serialised with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DockerEngine } from "effect-docker"
 *
 * const diagnose = Effect.gen(function*() {
 *   const engine = yield* DockerEngine.DockerEngine
 *   yield* engine.ping
 * }).pipe(
 *   Effect.catchTag("DockerError", (error) =>
 *     Effect.logError(error.message, error.cause))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  reason: DockerErrorReason,
  operation: Schema.String,
  statusCode: Schema.optionalKey(Schema.Number),
  message: Schema.String
}) {
  constructor(
    fields: {
      readonly reason: DockerErrorReason
      readonly operation: string
      readonly statusCode?: number
      readonly message: string
    },
    options?: DockerErrorOptions
  ) {
    super(fields, options)
    if (options?.cause !== undefined) {
      // Non-enumerable, as `new Error(message, { cause })` makes it.
      Object.defineProperty(this, "cause", {
        value: options.cause,
        enumerable: false,
        writable: true,
        configurable: true
      })
    }
  }
}

/**
 * Whether a value is a {@link DockerError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isDockerError = (u: unknown): u is DockerError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "DockerError"

/**
 * The reason for an HTTP status the engine answered with.
 *
 * @category mapping
 * @since 0.1.0
 */
export const reasonFromStatus = (statusCode: number): DockerErrorReason => {
  if (statusCode === 404) return "NotFound"
  if (statusCode === 409) return "Conflict"
  if (statusCode === 400 || statusCode === 422) return "BadRequest"
  if (statusCode === 401 || statusCode === 403) return "Unauthorized"
  if (statusCode === 408 || statusCode === 504) return "Timeout"
  if (statusCode === 503) return "Unavailable"
  return "ServerError"
}

const socketReasons: Record<string, DockerErrorReason> = {
  ENOENT: "Unavailable",
  ECONNREFUSED: "Unavailable",
  ECONNRESET: "Unavailable",
  EPIPE: "Unavailable",
  EHOSTUNREACH: "Unavailable",
  ENETUNREACH: "Unavailable",
  ENOTFOUND: "Unavailable",
  EAI_AGAIN: "Unavailable",
  ENOTSOCK: "Unavailable",
  EACCES: "Unauthorized",
  EPERM: "Unauthorized",
  ETIMEDOUT: "Timeout",
  ESOCKETTIMEDOUT: "Timeout",
  // TLS: a wrong CA, an expired or missing client certificate.
  DEPTH_ZERO_SELF_SIGNED_CERT: "Unauthorized",
  SELF_SIGNED_CERT_IN_CHAIN: "Unauthorized",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "Unauthorized",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "Unauthorized",
  CERT_HAS_EXPIRED: "Unauthorized",
  ERR_TLS_CERT_ALTNAME_INVALID: "Unauthorized",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "Unauthorized",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "Unauthorized",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "Unauthorized"
}

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null && key in u ? (u as Record<string, unknown>)[key] : undefined

/** The engine's own message: docker-modem keeps the decoded body in `json`, raw text in `reason`. */
const engineMessage = (cause: unknown): string | undefined => {
  const json = field(cause, "json")
  const fromJson = field(json, "message")
  if (typeof fromJson === "string" && fromJson.length > 0) return fromJson.trim()
  if (typeof json === "string" && json.trim().length > 0) return json.trim()
  if (json instanceof Uint8Array && json.length > 0) {
    const text = new TextDecoder().decode(json).trim()
    try {
      const parsed: unknown = JSON.parse(text)
      const message = field(parsed, "message")
      if (typeof message === "string") return message
    } catch {
      // not JSON: the text itself is the message
    }
    if (text.length > 0) return text
  }
  const message = field(cause, "message")
  if (typeof message === "string" && message.length > 0) return message
  const reason = field(cause, "reason")
  if (typeof reason === "string" && reason.length > 0) return reason
  return undefined
}

/** Socket error codes that mean the connection to the engine was never made. */
const connectCodes = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOTSOCK",
  "ETIMEDOUT"
])

/**
 * The one message for an engine that cannot be reached, naming where it was looked for.
 *
 * @example
 * ```ts
 * unreachableMessage("unix:///var/run/docker.sock", "connect ENOENT /var/run/docker.sock")
 * // "Could not connect to Docker at unix:///var/run/docker.sock: is it running? (connect ENOENT ...)"
 * ```
 *
 * @category mapping
 * @since 0.1.0
 */
export const unreachableMessage = (endpoint: string, detail?: string): string =>
  `Could not connect to Docker at ${endpoint}: is it running?${detail ? ` (${detail})` : ""}`

/**
 * Options of {@link fromCause}.
 *
 * @category mapping
 * @since 0.1.0
 */
export interface FromCauseOptions {
  /** Where the engine was looked for (`unix:///var/run/docker.sock`); connect failures name it. */
  readonly endpoint?: string
}

/**
 * Maps anything a Docker call can throw (an HTTP error from the engine, a socket or TLS
 * error, an abort) to a {@link DockerError}. This is the one place where statuses and
 * error codes become reasons. Given the `endpoint`, a connection that could not be made
 * (no socket, refused, unreachable, connect timeout) gets the message
 * "Could not connect to Docker at <endpoint>: is it running?".
 * What was thrown is kept as the error's (non-enumerable) `cause`.
 *
 * @example
 * ```ts
 * Effect.tryPromise({
 *   try: (signal) => docker.ping({ abortSignal: signal }),
 *   catch: DockerError.fromCause("ping")
 * })
 * ```
 *
 * @category mapping
 * @since 0.1.0
 */
export const fromCause =
  (operation: string, options?: FromCauseOptions) =>
  (cause: unknown): DockerError => {
    if (isDockerError(cause)) return cause
    const statusCode = field(cause, "statusCode")
    const message = engineMessage(cause) ?? String(cause)
    if (typeof statusCode === "number" && statusCode >= 300) {
      // The engine answers 403 Forbidden for a network that still has containers: that is "in use",
      // and so is a swarm manager's 400 "FailedPrecondition ... is in use by task/service" (its
      // tasks are not reaped yet); a manager answers 500 for an overlay network already removed;
      // and 503 for a Swarm call to an engine outside a swarm, which no retry cures.
      const reason =
        (statusCode === 403 && /active endpoints|in use/i.test(message)) ||
        (statusCode === 400 && /FailedPrecondition.*\bin use by\b/i.test(message))
          ? "Conflict"
          : statusCode === 500 && /^network \S+ not found$/i.test(message.trim())
            ? "NotFound"
            : statusCode === 503 && /not a swarm manager|not part of a swarm/i.test(message)
              ? "NotSwarmManager"
              : reasonFromStatus(statusCode)
      return new DockerError({ reason, operation, statusCode, message }, { cause })
    }
    const code = field(cause, "code")
    const reason = typeof code === "string" ? socketReasons[code] : undefined
    if (reason !== undefined) {
      const endpoint = options?.endpoint
      if (endpoint !== undefined && typeof code === "string" && connectCodes.has(code)) {
        return new DockerError(
          { reason, operation, message: unreachableMessage(endpoint, message) },
          { cause }
        )
      }
      return new DockerError({ reason, operation, message }, { cause })
    }
    if (field(cause, "name") === "AbortError" || field(cause, "name") === "TimeoutError") {
      return new DockerError({ reason: "Timeout", operation, message }, { cause })
    }
    // TLS refusals: ERR_TLS_* from Node, ERR_SSL_*_ALERT_* from OpenSSL, whose names changed
    // between versions (Node 20: ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE, Node 22+:
    // ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE).
    if (typeof code === "string" && (code.startsWith("ERR_TLS") || /^ERR_SSL_.*ALERT/.test(code))) {
      const where = options?.endpoint === undefined ? "" : ` (Docker at ${options.endpoint})`
      return new DockerError({ reason: "Unauthorized", operation, message: `${message}${where}` }, { cause })
    }
    return new DockerError({ reason: "ServerError", operation, message }, { cause })
  }

/**
 * A `Decode` error for an engine answer that does not have the expected shape.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (operation: string, cause: unknown): DockerError =>
  new DockerError(
    {
      reason: "Decode",
      operation,
      message: `could not decode the engine's answer: ${String(cause)}`
    },
    { cause }
  )
