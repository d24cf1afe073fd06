/**
 * A container's output in the in-memory engine: writing a line (and handing it to followers),
 * the `logs` stream with `since`, `tail`, stream selection, timestamps and `follow`, and ending
 * the followers when the process ends.
 *
 * @internal
 */
import { Effect, Queue, Stream } from "effect"
import type { DockerEngineShape, LogLine, LogsOptions } from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import { engineError } from "./docker.js"
import { counted, guardStream } from "./faults.js"
import {
  type ContainerRecord,
  findContainer,
  iso,
  type LogEntry,
  type LogFollower,
  type Store
} from "./store.js"

/** The line a reader sees of an entry, or undefined when its stream is not selected. */
export const toLogLine = (
  entry: LogEntry,
  selection: { readonly stdout: boolean; readonly stderr: boolean; readonly timestamps: boolean }
): LogLine | undefined => {
  if (entry.stream === "stdout" && !selection.stdout) return undefined
  if (entry.stream === "stderr" && !selection.stderr) return undefined
  return selection.timestamps
    ? { stream: entry.stream, text: entry.text, timestamp: iso(entry.timeMs) }
    : { stream: entry.stream, text: entry.text }
}

/** Appends a line to the container's output (all on stdout with a TTY) and to its followers. */
export const writeLogSync = (
  c: ContainerRecord,
  stream: "stdout" | "stderr",
  text: string,
  nowMs: number
) => {
  const entry: LogEntry = { stream: c.options.tty === true ? "stdout" : stream, text, timeMs: nowMs }
  c.logs.push(entry)
  for (const follower of c.followers) {
    const line = toLogLine(entry, follower)
    if (line !== undefined) Queue.offerUnsafe(follower.queue, line)
  }
}

/** Ends every following `logs` stream: the process is gone. */
export const endFollowers = (c: ContainerRecord) => {
  for (const follower of c.followers) Queue.endUnsafe(follower.queue)
  c.followers.clear()
}

/**
 * A container's output from its `from`-th line on, then what it writes next until its process
 * ends: the backlog and the follower are taken in one turn, so no line is missed or repeated.
 */
export const followFrom = (
  c: ContainerRecord,
  from: number,
  selection: { readonly stdout: boolean; readonly stderr: boolean; readonly timestamps: boolean }
): Stream.Stream<LogLine, DockerError> =>
  Stream.callback<LogLine, DockerError>((queue) =>
    Effect.sync(() => {
      for (const entry of c.logs.slice(from)) {
        const line = toLogLine(entry, selection)
        if (line !== undefined) Queue.offerUnsafe(queue, line)
      }
      if (c.status !== "running" || c.removed) {
        Queue.endUnsafe(queue)
        return undefined
      }
      const follower: LogFollower = { queue, ...selection }
      c.followers.add(follower)
      return follower
    }).pipe(
      Effect.tap((follower) =>
        follower === undefined
          ? Effect.void
          : Effect.addFinalizer(() => Effect.sync(() => c.followers.delete(follower)))
      )
    )
  )

/** The engine's `logs`. */
export const logs =
  (store: Store): DockerEngineShape["logs"] =>
  (ref: string, logsOptions: LogsOptions = {}) =>
    guardStream(
      store,
      "logs",
      [ref, logsOptions],
      Stream.unwrap(
        Effect.gen(function* () {
          const c = yield* findContainer(store, "logs", ref)
          const noneChosen = logsOptions.stdout === false && logsOptions.stderr === false
          if (noneChosen) {
            return yield* Effect.fail(
              engineError("logs", 400, "Bad parameters: you must choose at least one stream")
            )
          }
          const selection = {
            stdout: logsOptions.stdout ?? true,
            stderr: logsOptions.stderr ?? true,
            timestamps: logsOptions.timestamps === true
          }
          return counted(
            store,
            "logs",
            Stream.callback<LogLine, DockerError>((queue) =>
              Effect.sync(() => {
                const sinceMs = logsOptions.since !== undefined ? logsOptions.since * 1000 : undefined
                let lines = c.logs.filter((entry) => sinceMs === undefined || entry.timeMs >= sinceMs)
                // Like the engine's log file, `tail` counts lines of both streams before selecting one.
                if (logsOptions.tail !== undefined)
                  lines = logsOptions.tail === 0 ? [] : lines.slice(-logsOptions.tail)
                for (const entry of lines) {
                  const line = toLogLine(entry, selection)
                  if (line !== undefined) Queue.offerUnsafe(queue, line)
                }
                if (logsOptions.follow !== true || c.status !== "running" || c.removed) {
                  Queue.endUnsafe(queue)
                  return undefined
                }
                const follower: LogFollower = { queue, ...selection }
                c.followers.add(follower)
                return follower
              }).pipe(
                Effect.tap((follower) =>
                  follower === undefined
                    ? Effect.void
                    : Effect.addFinalizer(() => Effect.sync(() => c.followers.delete(follower)))
                )
              )
            )
          )
        })
      )
    )
