/**
 * The Supervisor's one engine events subscription, shared by every container of the
 * instance.
 *
 * The seed opened one events connection per container, retried without a pause and lost
 * whatever happened while it was away. Here one connection, filtered on the engine's side by
 * the instance label, feeds a PubSub; each container's state stream subscribes to it. A
 * dropped (or ended) connection is reopened with exponential backoff and jitter, resuming with
 * `since` set to the last event seen; the events replayed at that exact time are dropped so a
 * reconnect neither loses nor repeats one.
 *
 * @internal
 */
import { Duration, Effect, PubSub, Ref, Schedule, type Scope, Stream } from "effect"
import type { DockerEngineShape, EngineEvent, LabelFilter } from "../DockerEngine.js"
import { DockerError } from "../DockerError.js"

/** @internal */
export interface InstanceEvents {
  /**
   * Subscribes now (events published from this moment on are buffered for the caller) and
   * gives the events of one container. The subscription lives as long as the scope.
   */
  readonly subscribe: (containerId: string) => Effect.Effect<Stream.Stream<EngineEvent>, never, Scope.Scope>
  /** How many times the engine's events endpoint has been opened (1 unless it dropped). */
  readonly connections: Effect.Effect<number>
}

/** @internal */
export interface Options {
  readonly labels: LabelFilter
  /** Unix seconds: replay from here on the first connection, so nothing between the layer's build and the connection is missed. */
  readonly since: number | undefined
  /** Backoff between reconnections (default: exponential from 100 ms, jittered, capped at 10 s). */
  readonly reconnect?: Schedule.Schedule<unknown, DockerError> | undefined
}

const defaultReconnect: Schedule.Schedule<unknown, DockerError> = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(10))))
)

interface Cursor {
  /** The time of the last event passed on, in nanoseconds (0: none yet). */
  readonly timeNano: number
  /** Events already passed on at exactly `timeNano`, replayed by a `since` resume. */
  readonly seenAtTime: ReadonlyArray<string>
}

const eventKey = (event: EngineEvent): string => `${event.type}/${event.action}/${event.actorId}`

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
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<EngineEvent>(), PubSub.shutdown)
    const cursor = yield* Ref.make<Cursor>({
      timeNano: options.since === undefined ? 0 : options.since * 1e9,
      seenAtTime: []
    })
    const connections = yield* Ref.make(0)

    // Passes an event on unless a resume replayed it; advances the cursor.
    const admit = (event: EngineEvent) =>
      Ref.modify(cursor, (current): [boolean, Cursor] => {
        const key = eventKey(event)
        if (event.timeNano < current.timeNano) return [false, current]
        if (event.timeNano === current.timeNano) {
          if (current.seenAtTime.includes(key)) return [false, current]
          return [true, { timeNano: current.timeNano, seenAtTime: [...current.seenAtTime, key] }]
        }
        return [true, { timeNano: event.timeNano, seenAtTime: [key] }]
      })

    const connection = Stream.unwrap(
      Effect.gen(function* () {
        const { timeNano } = yield* Ref.get(cursor)
        const count = yield* Ref.updateAndGet(connections, (n) => n + 1)
        if (count > 1)
          yield* Effect.logInfo("reconnecting to the engine's events").pipe(
            Effect.annotateLogs({ since: timeNano / 1e9 })
          )
        return engine.events({
          labels: options.labels,
          types: ["container"],
          ...(timeNano > 0 ? { since: timeNano / 1e9 } : {})
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
      Stream.retry(options.reconnect ?? defaultReconnect)
    )

    yield* connection.pipe(
      Stream.runForEach((event) =>
        admit(event).pipe(Effect.flatMap((fresh) => (fresh ? PubSub.publish(pubsub, event) : Effect.void)))
      ),
      Effect.withSpan("Supervisor.events"),
      Effect.forkScoped
    )

    return {
      subscribe: (containerId: string) =>
        PubSub.subscribe(pubsub).pipe(
          Effect.map((subscription) =>
            Stream.fromSubscription(subscription).pipe(
              Stream.filter((event) => event.actorId === containerId)
            )
          )
        ),
      connections: Ref.get(connections)
    }
  })
