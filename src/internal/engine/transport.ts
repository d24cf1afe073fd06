/**
 * The HTTP transport under the live engine: it finds the engine (`DOCKER_HOST` or the local
 * socket), owns the connection pool, and sends requests over docker-modem. Every failure it
 * sees becomes a `DockerError` through `DockerError.fromCause`, every answer it decodes
 * through one Schema step, and every streamed response is closed when its stream ends. The
 * endpoint modules beside it say what to send; this one says how.
 *
 * @internal
 */
import type { Agent } from "node:http"
import { Readable } from "node:stream"
// The module itself, not the package barrel: the barrel loads redis, http and cluster too.
import * as NodeStream from "@effect/platform-node/NodeStream"
import Dockerode from "dockerode"
import { Cause, Duration, Effect, Queue, Redacted, Result, Schema, type Scope, Stream } from "effect"
import type { Options } from "../../DockerEngine.js"
import { DockerError, decode as decodeError, fromCause } from "../../DockerError.js"
import type { LabelFilter } from "../../DockerModel.js"
import * as Connection from "../connection.js"
import * as Ndjson from "../ndjson.js"

/** @internal */
export type Method = "GET" | "POST" | "PUT" | "DELETE"

/** @internal */
export interface Request {
  readonly method: Method
  /** Without the query; path parameters already encoded. */
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | boolean | object | undefined>>
  readonly body?: unknown
  /** A request body streamed as `application/x-tar`. */
  readonly file?: Readable
  /** Hand back the response as it arrives instead of collecting it. */
  readonly stream?: boolean
  /** The `X-Registry-Auth` header, revealed only into the request. */
  readonly registryAuth?: Redacted.Redacted<string>
}

/**
 * The four ways to talk to the engine, all failing with `DockerError`, all aborting their
 * HTTP request when interrupted.
 *
 * @internal
 */
export interface Transport {
  /** Where the engine is (its host is where published ports are reached). */
  readonly endpoint: Connection.Endpoint
  /** One request; its answer as docker-modem gives it. */
  readonly call: (operation: string, request: Request) => Effect.Effect<unknown, DockerError>
  /** One request whose answer `read` turns into a value; what it refuses is a `Decode` error. */
  readonly readAnswer: <A>(
    operation: string,
    request: Request,
    read: (body: unknown) => Result.Result<A, unknown>
  ) => Effect.Effect<A, DockerError>
  /** One request whose answer `schema` decodes and `map` turns into the library's type. */
  readonly decoded: <A, I, B>(
    operation: string,
    request: Request,
    schema: Schema.Codec<A, I, never, never>,
    map: (a: A) => B
  ) => Effect.Effect<B, DockerError>
  /**
   * A streamed response as bytes. The response is destroyed (its socket closed) when the
   * stream ends, fails or is interrupted; a response docker-modem collected (a Buffer) is
   * one chunk. `openSpan` is a span around opening the stream only (see `stats`).
   */
  readonly bytes: (
    operation: string,
    request: Request,
    openSpan?: { readonly name: string; readonly attributes: Record<string, unknown> }
  ) => Stream.Stream<Uint8Array, DockerError>
  /**
   * A streamed newline-delimited JSON response read in flowing mode: each chunk is split,
   * parsed and read with `read` synchronously in the socket's `data` handler and each value
   * handed on with one queue offer, with no stream stage per chunk or per line. For a
   * response that arrives slowly and steadily (stats: a line a second per container): the
   * socket is not paused for a slow consumer. Ends with the response, or before the first
   * value `until` accepts (not emitted); the response is destroyed when the stream ends,
   * fails or is interrupted.
   */
  readonly flowingLines: <A>(
    operation: string,
    request: Request,
    read: (json: unknown, line: string) => Result.Result<A, unknown>,
    options?: {
      readonly openSpan?: { readonly name: string; readonly attributes: Record<string, unknown> }
      readonly until?: (value: A) => boolean
    }
  ) => Stream.Stream<A, DockerError>
}

// Anything else is an error docker-modem turns into one with `statusCode` and the body in `json`.
const success = { 200: true, 201: true, 204: true, 304: true }

const defaultConnectTimeout = Duration.seconds(5)

/**
 * A path parameter, encoded.
 *
 * @internal
 */
export const segment = (value: string): string => encodeURIComponent(value)

/**
 * A label filter as the engine's `label` filter values.
 *
 * @internal
 */
export const labelFilter = (labels: LabelFilter | undefined): ReadonlyArray<string> | undefined => {
  if (labels === undefined) return undefined
  const entries = Object.entries(labels)
  return entries.length === 0
    ? undefined
    : entries.map(([key, value]) => (value === true ? key : `${key}=${value}`))
}

/**
 * The engine's `filters` query parameter, without the empty ones (none at all when all are).
 *
 * @internal
 */
export const filters = (
  entries: Readonly<Record<string, ReadonlyArray<string> | undefined>>
): Record<string, ReadonlyArray<string>> | undefined => {
  const present = Object.entries(entries).filter(
    (entry): entry is [string, ReadonlyArray<string>] => entry[1] !== undefined && entry[1].length > 0
  )
  return present.length === 0 ? undefined : Object.fromEntries(present)
}

/**
 * Unix seconds as the engine's `since`/`until` take them, fractions kept to the nanosecond.
 *
 * @internal
 */
export const unixSeconds = (seconds: number): string => seconds.toFixed(9)

/**
 * Exact Unix nanoseconds as the engine's `since` takes them (`seconds.nanoseconds`, nine
 * digits), with no trip through a double.
 *
 * @internal
 */
export const unixNanos = (nanos: bigint): string => {
  const exact = nanos < 0n ? 0n : nanos
  return `${exact / 1_000_000_000n}.${(exact % 1_000_000_000n).toString().padStart(9, "0")}`
}

const resolveEndpoint = (options: Options): Effect.Effect<Connection.Endpoint, DockerError> =>
  Effect.suspend(() => {
    const host = options.host
    if (host === undefined || host.trim().length === 0) {
      return Effect.succeed<Connection.Endpoint>({ _tag: "Unix", socketPath: Connection.discoverSocket() })
    }
    const endpoint = Connection.parseHost(host, { tls: options.tlsVerify ?? false })
    return endpoint === undefined
      ? Effect.fail(
          new DockerError({
            reason: "BadRequest",
            operation: "connect",
            message: `DOCKER_HOST ${JSON.stringify(host)} is not unix://<path>, tcp://<host>:<port> or ssh://<user>@<host>`
          })
        )
      : Effect.succeed(endpoint)
  })

/** dockerode's options plus the agent docker-modem takes (its type omits it). */
type ModemOptions = Dockerode.DockerOptions & { readonly agent?: Agent }

const makeModemOptions = (
  endpoint: Connection.Endpoint,
  options: Options,
  agent: Agent
): Effect.Effect<ModemOptions, DockerError> =>
  Effect.try({
    try: (): ModemOptions => {
      // Every key is given, so that docker-modem's own reading of DOCKER_HOST cannot leak in.
      switch (endpoint._tag) {
        case "Unix":
          return {
            socketPath: endpoint.socketPath,
            host: undefined,
            port: undefined,
            protocol: "http",
            agent
          }
        case "Tcp": {
          if (!endpoint.tls) {
            return {
              socketPath: undefined,
              host: endpoint.host,
              port: endpoint.port,
              protocol: "http",
              agent
            }
          }
          const tls = Connection.readTlsFiles(options.certPath ?? Connection.defaultCertPath())
          return {
            socketPath: undefined,
            host: endpoint.host,
            port: endpoint.port,
            protocol: "https",
            agent,
            ...tls
          }
        }
        case "Ssh":
          return {
            socketPath: undefined,
            host: endpoint.host,
            port: endpoint.port,
            protocol: "ssh",
            ...(endpoint.username !== undefined ? { username: endpoint.username } : {})
          }
      }
    },
    catch: (cause) =>
      new DockerError(
        {
          reason: "BadRequest",
          operation: "connect",
          message: `could not read the TLS certificates: ${cause instanceof Error ? cause.message : String(cause)}`
        },
        { cause }
      )
  })

/**
 * The transport for `options`. Nothing is sent until a request is made; the scope owns the
 * connection pool.
 *
 * @internal
 */
export const make = Effect.fnUntraced(function* (
  options: Options
): Effect.fn.Return<Transport, DockerError, Scope.Scope> {
  const endpoint = yield* resolveEndpoint(options)
  const where = Connection.describe(endpoint)
  const connectTimeoutMs = Duration.toMillis(options.connectTimeout ?? defaultConnectTimeout)
  const agent = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Connection.makeAgent({ secure: endpoint._tag === "Tcp" && endpoint.tls, connectTimeoutMs })
    ),
    (agent) => Effect.sync(() => agent.destroy())
  )
  const modemOptions = yield* makeModemOptions(endpoint, options, agent)
  const modem = yield* Effect.try({
    try: () => new Dockerode(modemOptions).modem,
    catch: (cause) =>
      new DockerError(
        {
          reason: "BadRequest",
          operation: "connect",
          message: `could not set up the connection to ${where}: ${String(cause)}`
        },
        { cause }
      )
  })

  const toError = (operation: string) => fromCause(operation, { endpoint: where })

  const send = (request: Request, signal: AbortSignal): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const query = Object.fromEntries(
        Object.entries(request.query ?? {}).filter((entry) => entry[1] !== undefined)
      )
      modem.dial(
        {
          path: `${request.path}?`,
          method: request.method,
          // `_body: {}` sends no body at all (docker-modem drops an empty object).
          options: { _query: query, _body: request.body ?? {} },
          ...(request.file !== undefined ? { file: request.file } : {}),
          ...(request.registryAuth !== undefined
            ? { authconfig: { key: Redacted.value(request.registryAuth) } }
            : {}),
          isStream: request.stream ?? false,
          statusCodes: success,
          abortSignal: signal
        },
        (error, result) => (error ? reject(error) : resolve(result))
      )
    })

  const call = (operation: string, request: Request): Effect.Effect<unknown, DockerError> =>
    Effect.tryPromise({ try: (signal) => send(request, signal), catch: toError(operation) })

  const readAnswer = <A>(
    operation: string,
    request: Request,
    read: (body: unknown) => Result.Result<A, unknown>
  ): Effect.Effect<A, DockerError> =>
    call(operation, request).pipe(
      Effect.flatMap((body) =>
        Result.match(read(body), {
          onSuccess: Effect.succeed,
          onFailure: (cause) => Effect.fail(decodeError(operation, cause))
        })
      )
    )

  const decoded = <A, I, B>(
    operation: string,
    request: Request,
    schema: Schema.Codec<A, I, never, never>,
    map: (a: A) => B
  ): Effect.Effect<B, DockerError> => {
    const decode = Schema.decodeUnknownResult(schema)
    return readAnswer(operation, request, (body) => Result.map(decode(body), map))
  }

  const bytes = (
    operation: string,
    request: Request,
    openSpan?: { readonly name: string; readonly attributes: Record<string, unknown> }
  ): Stream.Stream<Uint8Array, DockerError> => {
    const open = Effect.interruptible(call(operation, { ...request, stream: true }))
    return Stream.unwrap(
      Effect.acquireRelease(
        openSpan === undefined
          ? open
          : Effect.withSpan(open, openSpan.name, { attributes: openSpan.attributes }),
        (response) =>
          Effect.sync(() => {
            if (response instanceof Readable) response.destroy()
          })
      ).pipe(
        Effect.map((response): Stream.Stream<Uint8Array, DockerError> => {
          if (response instanceof Readable) {
            return NodeStream.fromReadable<Uint8Array, DockerError>({
              evaluate: () => response,
              onError: toError(operation)
            })
          }
          if (response instanceof Uint8Array)
            return response.length > 0 ? Stream.succeed(response) : Stream.empty
          return Stream.empty
        })
      )
    )
  }

  const flowingLines: Transport["flowingLines"] = <A>(
    operation: string,
    request: Request,
    read: (json: unknown, line: string) => Result.Result<A, unknown>,
    options?: {
      readonly openSpan?: { readonly name: string; readonly attributes: Record<string, unknown> }
      readonly until?: (value: A) => boolean
    }
  ) =>
    Stream.callback<A, DockerError>((queue) =>
      Effect.gen(function* () {
        const open = Effect.interruptible(call(operation, { ...request, stream: true }))
        const openSpan = options?.openSpan
        const response = yield* Effect.acquireRelease(
          openSpan === undefined
            ? open
            : Effect.withSpan(open, openSpan.name, { attributes: openSpan.attributes }),
          (response) =>
            Effect.sync(() => {
              if (response instanceof Readable) response.destroy()
            })
        )
        const context = yield* Effect.context<never>()
        const until = options?.until
        const lines = Ndjson.splitter(operation, read)
        const values: Array<A> = []
        let done = false
        const finish = (failure: DockerError | undefined) => {
          done = true
          if (failure === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(failure))
          if (response instanceof Readable) response.destroy()
        }
        // Hands on the values read; false when one of them ended the stream.
        const emit = (): boolean => {
          for (const value of values) {
            if (until?.(value) === true) {
              values.length = 0
              finish(undefined)
              return false
            }
            Queue.offerUnsafe(queue, value)
          }
          values.length = 0
          return true
        }
        const onChunk = (chunk: Uint8Array) => {
          if (done) return
          const failure = lines.push(chunk, values)
          if (!emit()) return
          if (failure !== undefined) return finish(failure)
          const drops = lines.takeDrops()
          if (drops > 0) Effect.runForkWith(context)(Ndjson.droppedLines(operation, drops))
        }
        const onEnd = () => {
          if (done) return
          const failure = lines.finish(values)
          if (emit()) finish(failure)
        }
        if (!(response instanceof Readable)) {
          // docker-modem collected it (a Buffer): one chunk.
          if (response instanceof Uint8Array) onChunk(response)
          return onEnd()
        }
        response.on("data", onChunk)
        response.on("end", onEnd)
        // Closed without an end (the engine went away): what arrived counts, then it ends.
        response.on("close", onEnd)
        response.on("error", (error) => {
          if (!done) finish(toError(operation)(error))
        })
      })
    )

  return { endpoint, call, readAnswer, decoded, bytes, flowingLines } satisfies Transport
})
