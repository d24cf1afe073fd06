/**
 * The Supervisor's one engine events subscription, shared by every container of the
 * instance.
 *
 * One connection, filtered on the engine's side by the instance label and by the actions the
 * Supervisor reads, hands each event to its container's queue by id (one map lookup per
 * event, not one filter per container). A dropped (or ended) connection is reopened with the
 * instance's backoff, resuming with `since` a window before the latest event seen: the engine
 * stamps an event's time before it takes its lock and publishes it after, so events of
 * different containers arrive out of order and a cursor at the latest one would lose the
 * others. Replayed events are recognised by (container, action, exact `timeNano`) and dropped.
 * After every reconnect each container is told (`"reconnected"`), so it can ask the engine
 * what happened while the stream was down (what `since` cannot replay, the engine no longer
 * keeps).
 *
 * When the backoff gives up, the subscription is lost for good: `lost` fails, and every
 * lifecycle of the instance fails with it (see `supervisorContainer.ts`).
 *
 * @internal
 */
import { Deferred, Duration, Effect, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import type { DockerEngineShape, EngineEvent, LabelFilter } from "../DockerEngine.js"
import { DockerError } from "../DockerError.js"

/** Told to every container after the events connection was reopened. @internal */
export type Reconnected = "reconnected"

/** What a container's subscription yields: its events, and a notice after each reconnect. @internal */
export type Notice = EngineEvent | Reconnected

/** @internal */
export const isEvent = (notice: Notice): notice is EngineEvent => notice !== "reconnected"

/** @internal */
export interface InstanceEvents {
  /**
   * Subscribes now (events from this moment on are buffered for the caller) and gives the
   * events of one container, with a `"reconnected"` notice after each reconnect. The
   * subscription lives as long as the scope.
   */
  readonly subscribe: (containerId: string) => Effect.Effect<Stream.Stream<Notice>, never, Scope.Scope>
  /** How many times the engine's events endpoint has been opened (1 unless it dropped). */
  readonly connections: Effect.Effect<number>
  /** Fails with the last connection error once the reconnect schedule gave up; never succeeds. */
  readonly lost: Effect.Effect<never, DockerError>
  /** The instance's backoff for engine outages (the reconnect schedule), for other retries. */
  readonly backoff: Schedule.Schedule<unknown, DockerError>
}

/** @internal */
export interface Options {
  readonly labels: LabelFilter
  /** Unix nanoseconds: replay from here on the first connection, so nothing between the layer's build and the connection is missed. */
  readonly sinceNano: bigint | undefined
  /** Backoff between reconnections (default: exponential from 100 ms, jittered, capped at 10 s, forever). */
  readonly reconnect?: Schedule.Schedule<unknown, DockerError> | undefined
}

/** @internal */
export const defaultReconnect: Schedule.Schedule<unknown, DockerError> = Schedule.exponential(
  "100 millis"
).pipe(
  Schedule.jittered,
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(10))))
)

/**
 * The actions the Supervisor reads (`health_status` matches `health_status: healthy`). Exec
 * events, which a healthcheck adds at every interval, are not among them.
 *
 * @internal
 */
export const actions: ReadonlyArray<string> = ["start", "health_status"]

/** How far before the latest event seen a resume starts: wider than any reordering. */
const resumeWindow = 5_000_000_000n

/** Events passed on within the window, by key: what a resume may replay. */
interface Seen {
  readonly keys: Map<string, bigint>
  /** The latest exact time passed on (-1: none yet). */
  latest: bigint
  /** The size at which to forget old keys next: doubles past what the window holds, so a burst costs O(1) per event. */
  pruneAt: number
}

const maxBigInt = (a: bigint, b: bigint): bigint => (a > b ? a : b)

const eventKey = (event: EngineEvent): string => `${event.actorId}/${event.action}/${event.timeNanoExact}`

/** Whether the event is new; remembers it, and forgets what a resume can no longer replay. */
const admit = (seen: Seen, event: EngineEvent): boolean => {
  const key = eventKey(event)
  if (seen.keys.has(key)) return false
  seen.keys.set(key, event.timeNanoExact)
  if (event.timeNanoExact > seen.latest) seen.latest = event.timeNanoExact
  if (seen.keys.size > seen.pruneAt) {
    const horizon = seen.latest - resumeWindow
    for (const [k, time] of seen.keys) if (time < horizon) seen.keys.delete(k)
    seen.pruneAt = Math.max(1024, seen.keys.size * 2)
  }
  return true
}

const ended = new DockerError({
  reason: "Unavailable",
  operation: "events",
  message: "the engine closed the events stream"
})

/**
 * Opens the shared subscription in the current scope (closing the scope closes the
 * connection and ends every subscriber).
 *
 * @internal
 */
export const make = (
  engine: DockerEngineShape,
  options: Options
): Effect.Effect<InstanceEvents, never, Scope.Scope> =>
  Effect.gen(function* () {
    const backoff = options.reconnect ?? defaultReconnect
    const byContainer = new Map<string, Set<Queue.Queue<Notice>>>()
    const seen: Seen = { keys: new Map(), latest: -1n, pruneAt: 1024 }
    const connections = yield* Ref.make(0)
    const lost = yield* Deferred.make<never, DockerError>()

    const dispatch = (containerId: string, notice: Notice) => {
      const queues = byContainer.get(containerId)
      if (queues !== undefined) for (const queue of queues) Queue.offerUnsafe(queue, notice)
    }

    const connection = Stream.unwrap(
      Effect.gen(function* () {
        const count = yield* Ref.updateAndGet(connections, (n) => n + 1)
        // Never before the subscription's own start: what came earlier is not this instance's.
        // Exact nanoseconds: a double in seconds is off by up to ~256 ns and could start the
        // resume after an event it must replay.
        const sinceNano =
          seen.latest >= 0n
            ? maxBigInt(options.sinceNano ?? 0n, seen.latest - resumeWindow)
            : options.sinceNano
        if (count > 1) {
          yield* Effect.logInfo("reconnecting to the engine's events").pipe(
            Effect.annotateLogs({ sinceNano: String(sinceNano) })
          )
          for (const containerId of byContainer.keys()) dispatch(containerId, "reconnected")
        }
        return engine.events({
          labels: options.labels,
          types: ["container"],
          actions,
          ...(sinceNano === undefined ? {} : { sinceNano })
        })
      })
    ).pipe(
      // An events stream never ends on its own: an end is a dropped connection.
      Stream.concat(Stream.fail(ended)),
      Stream.tapError((error) =>
        Effect.logWarning("engine events connection lost", error.message).pipe(
          Effect.annotateLogs({ reason: error.reason })
        )
      ),
      Stream.retry(backoff)
    )

    yield* connection.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (admit(seen, event)) dispatch(event.actorId, event)
        })
      ),
      Effect.catch((error) =>
        Effect.logError("gave up reconnecting to the engine's events", error.message).pipe(
          Effect.andThen(Deferred.fail(lost, error))
        )
      ),
      Effect.withSpan("Supervisor.events"),
      Effect.forkScoped
    )

    const subscribe = (containerId: string) =>
      Effect.acquireRelease(
        Effect.gen(function* () {
          const queue = yield* Queue.unbounded<Notice>()
          const queues = byContainer.get(containerId) ?? new Set()
          queues.add(queue)
          byContainer.set(containerId, queues)
          return queue
        }),
        (queue) =>
          Effect.gen(function* () {
            const queues = byContainer.get(containerId)
            queues?.delete(queue)
            if (queues?.size === 0) byContainer.delete(containerId)
            yield* Queue.shutdown(queue)
          })
      ).pipe(Effect.map((queue) => Stream.fromQueue(queue)))

    return {
      subscribe,
      connections: Ref.get(connections),
      lost: Deferred.await(lost),
      backoff
    }
  })
