/**
 * The Engine API's container endpoints (`/containers/...`): create, start, stop, kill,
 * remove, inspect, list, wait, stats, logs and archive upload, each mapped from the
 * library's options to a request and from the engine's answer to the library's types.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container
 * @internal
 */
import { PassThrough, type Readable } from "node:stream"
import { Effect, Stream } from "effect"
import * as TarStream from "tar-stream"
import type { DockerEngineShape } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type {
  ContainerFile,
  CreateContainerOptions,
  KillContainerOptions,
  ListContainersOptions,
  LogLine,
  LogsOptions,
  RemoveContainerOptions,
  StopContainerOptions,
  WaitContainerOptions
} from "../../DockerModel.js"
import * as LogFrames from "../logFrames.js"
import * as Tar from "../tar.js"
import * as Wire from "../wire.js"
import { filters, labelFilter, segment, type Transport, unixSeconds } from "./transport.js"

/**
 * The container operations of the engine.
 *
 * @internal
 */
export type Containers = Pick<
  DockerEngineShape,
  | "createContainer"
  | "startContainer"
  | "stopContainer"
  | "killContainer"
  | "removeContainer"
  | "inspectContainer"
  | "listContainers"
  | "waitContainer"
  | "stats"
  | "statsOnce"
  | "logs"
  | "putArchive"
  | "copyFiles"
>

/**
 * A demultiplexed line as the library's `LogLine`: with `timestamps`, the engine's leading
 * timestamp split off.
 *
 * @internal
 */
export const toLogLine =
  (timestamps: boolean) =>
  (line: LogFrames.RawLine): LogLine => {
    if (!timestamps) return { stream: line.stream, text: line.text }
    const space = line.text.indexOf(" ")
    return space === -1
      ? { stream: line.stream, text: "", timestamp: line.text }
      : { stream: line.stream, text: line.text.slice(space + 1), timestamp: line.text.slice(0, space) }
  }

/**
 * The container endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ call, readAnswer, decoded, bytes, flowingLines }: Transport): Containers => {
  /** Sends `body` as a tar archive to be extracted at `path`, while `feed` writes it. */
  const upload = <E>(
    operation: string,
    id: string,
    path: string,
    body: Readable,
    feed: Effect.Effect<void, E>
  ): Effect.Effect<void, DockerError | E> =>
    Effect.all(
      [
        feed.pipe(Effect.onError(() => Effect.sync(() => body.destroy()))),
        call(operation, {
          method: "PUT",
          path: `/containers/${segment(id)}/archive`,
          query: { path },
          file: body
        })
      ],
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.ensuring(Effect.sync(() => body.destroy())))

  const createContainer = Effect.fn("DockerEngine.createContainer")(function* (
    create: CreateContainerOptions
  ) {
    yield* Effect.annotateCurrentSpan({ image: create.image })
    return yield* decoded(
      "createContainer",
      {
        method: "POST",
        path: "/containers/create",
        query: { name: create.name, platform: create.platform },
        body: Wire.toCreateBody(create)
      },
      Wire.WireCreated,
      (created) => ({ id: created.Id, warnings: created.Warnings ?? [] })
    )
  })

  const startContainer = Effect.fn("DockerEngine.startContainer")(function* (id: string) {
    yield* Effect.annotateCurrentSpan({ id })
    yield* call("startContainer", { method: "POST", path: `/containers/${segment(id)}/start` })
  })

  const stopContainer = Effect.fn("DockerEngine.stopContainer")(function* (
    id: string,
    stop?: StopContainerOptions
  ) {
    yield* Effect.annotateCurrentSpan({ id })
    yield* call("stopContainer", {
      method: "POST",
      path: `/containers/${segment(id)}/stop`,
      query: { t: stop?.timeout }
    })
  })

  const killContainer = Effect.fn("DockerEngine.killContainer")(function* (
    id: string,
    kill?: KillContainerOptions
  ) {
    yield* Effect.annotateCurrentSpan({ id })
    yield* call("killContainer", {
      method: "POST",
      path: `/containers/${segment(id)}/kill`,
      query: { signal: kill?.signal }
    })
  })

  const removeContainer = Effect.fn("DockerEngine.removeContainer")(function* (
    id: string,
    remove?: RemoveContainerOptions
  ) {
    yield* Effect.annotateCurrentSpan({ id })
    yield* call("removeContainer", {
      method: "DELETE",
      path: `/containers/${segment(id)}`,
      query: { force: remove?.force, v: remove?.volumes }
    })
  })

  const inspectContainer = Effect.fn("DockerEngine.inspectContainer")(function* (id: string) {
    yield* Effect.annotateCurrentSpan({ id })
    return yield* decoded(
      "inspectContainer",
      { method: "GET", path: `/containers/${segment(id)}/json` },
      Wire.WireContainerInspect,
      Wire.toContainerInspect
    )
  })

  const listContainers = Effect.fn("DockerEngine.listContainers")((list?: ListContainersOptions) =>
    decoded(
      "listContainers",
      {
        method: "GET",
        path: "/containers/json",
        query: { all: list?.all, filters: filters({ label: labelFilter(list?.labels) }) }
      },
      Wire.WireContainerList,
      (containers) => containers.map(Wire.toContainerSummary)
    )
  )

  const waitContainer = Effect.fn("DockerEngine.waitContainer")(function* (
    id: string,
    wait?: WaitContainerOptions
  ) {
    yield* Effect.annotateCurrentSpan({ id })
    return yield* decoded(
      "waitContainer",
      {
        method: "POST",
        path: `/containers/${segment(id)}/wait`,
        query: { condition: wait?.condition ?? "next-exit" }
      },
      Wire.WireWait,
      Wire.toWaitResult
    )
  })

  // The span covers opening the stream, not its life: a stream's span is entered on every
  // pull, and stats are pulled every second per container for as long as it runs. Read in
  // flowing mode (`flowingLines`): a line a second per container, each costing one queue offer.
  const stats = (id: string) =>
    flowingLines(
      "stats",
      { method: "GET", path: `/containers/${segment(id)}/stats`, query: { stream: true } },
      Wire.readStats,
      {
        openSpan: { name: "DockerEngine.stats", attributes: { id } },
        // dockerd keeps a stopped container's stream open with empty samples (Go's zero time):
        // the stream ends with the container's run, as `docker stats --no-stream` would see it.
        until: (sample) => sample.read.startsWith("0001-01-01")
      }
    )

  const statsOnce = Effect.fn("DockerEngine.statsOnce")(function* (
    id: string,
    once?: { readonly oneShot?: boolean | undefined }
  ) {
    yield* Effect.annotateCurrentSpan({ id })
    return yield* readAnswer(
      "statsOnce",
      {
        method: "GET",
        path: `/containers/${segment(id)}/stats`,
        query: { stream: false, "one-shot": once?.oneShot }
      },
      Wire.readStats
    )
  })

  const logs = (id: string, options?: LogsOptions) =>
    Stream.unwrap(
      inspectContainer(id).pipe(
        Effect.map(({ tty }) =>
          bytes("logs", {
            method: "GET",
            path: `/containers/${segment(id)}/logs`,
            query: {
              follow: options?.follow ?? false,
              stdout: options?.stdout ?? true,
              stderr: options?.stderr ?? true,
              tail: options?.tail,
              since: options?.since === undefined ? undefined : unixSeconds(options.since),
              timestamps: options?.timestamps ?? false
            }
          }).pipe(
            Stream.mapAccum(() => LogFrames.initial({ tty }), LogFrames.feed, { onHalt: LogFrames.flush }),
            Stream.map(toLogLine(options?.timestamps ?? false))
          )
        ),
        // The caller asked for logs: a missing container is a failed `logs`, not a failed inspect.
        Effect.mapError(
          (error) =>
            new DockerError(
              {
                reason: error.reason,
                operation: "logs",
                message: error.message,
                ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {})
              },
              { cause: error.cause }
            )
        )
      )
    ).pipe(Stream.withSpan("DockerEngine.logs", { attributes: { id } }))

  const putArchive = Effect.fn("DockerEngine.putArchive")(function* <E>(
    id: string,
    path: string,
    tar: Stream.Stream<Uint8Array, E>
  ): Effect.fn.Return<void, DockerError | E> {
    yield* Effect.annotateCurrentSpan({ id, path })
    if (!path.startsWith("/") || path.includes("\0")) {
      return yield* new DockerError({
        reason: "BadRequest",
        operation: "putArchive",
        message: `invalid archive path ${JSON.stringify(path)}: it must be absolute, without NUL`
      })
    }
    const body = new PassThrough()
    const feed = tar.pipe(
      Stream.runForEach((chunk) => Tar.write(body, chunk)),
      Effect.andThen(Effect.sync(() => body.end()))
    )
    return yield* upload("putArchive", id, path, body, feed)
  })

  const copyFiles = Effect.fn("DockerEngine.copyFiles")(function* (
    id: string,
    files: ReadonlyArray<ContainerFile>
  ) {
    yield* Effect.annotateCurrentSpan({ id, files: files.length })
    yield* Tar.validateFiles("copyFiles", files)
    const pack = TarStream.pack()
    const body = new PassThrough()
    pack.pipe(body)
    return yield* upload("copyFiles", id, "/", body, Tar.writeEntries("copyFiles", pack, files)).pipe(
      Effect.ensuring(Effect.sync(() => pack.destroy()))
    )
  })

  return {
    createContainer,
    startContainer,
    stopContainer,
    killContainer,
    removeContainer,
    inspectContainer,
    listContainers,
    waitContainer,
    stats,
    statsOnce,
    logs,
    putArchive,
    copyFiles
  }
}
