/**
 * The in-memory engine's events: emitting one (strictly increasing times, the replay buffer,
 * fan-out to subscribers by their filters), the `events` stream with `since`/`until` replay,
 * and `dropEvents`, which cuts every subscriber off as a lost connection would.
 *
 * @internal
 */
import { Cause, Clock, Effect, Queue, Stream } from "effect"
import type { DockerEngineShape, EngineEvent, EventsOptions } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { MemoryEngineShape } from "../../MemoryEngine.js"
import { matchesEvent, secondsToNanos } from "./docker.js"
import { counted, guardStream } from "./faults.js"
import { type ContainerRecord, nanosToMillis, type Store, type Subscriber } from "./store.js"

/** Records an event and hands it to every subscriber whose filter it passes. */
export const emit = (
  store: Store,
  nowNanos: bigint,
  type: string,
  action: string,
  actorId: string,
  attributes: Record<string, string>
) => {
  // Strictly increasing (by 1 µs at least) so order and `since` resume are unambiguous.
  const nanos = nowNanos > store.lastEventNanos ? nowNanos : store.lastEventNanos + 1000n
  store.lastEventNanos = nanos
  const event: EngineEvent = {
    type,
    action,
    actorId,
    attributes,
    time: Number(nanos / 1_000_000_000n),
    timeNano: Number(nanos),
    timeNanoExact: nanos
  }
  store.history.push(event)
  store.buffer.push({ event, nanos })
  if (store.buffer.length > store.eventsBuffer) {
    store.buffer = store.buffer.slice(store.buffer.length - store.eventsBuffer)
  }
  for (const subscriber of store.subscribers) {
    if (subscriber.untilNanos !== undefined && nanos > subscriber.untilNanos) continue
    if (matchesEvent(event, subscriber.options)) Queue.offerUnsafe(subscriber.queue, event)
  }
}

/** A container event's attributes: its labels, `image` and `name`, then `extra`. */
export const containerAttributes = (
  c: ContainerRecord,
  extra: Record<string, string> = {}
): Record<string, string> => ({
  ...(c.options.labels ?? {}),
  image: c.image,
  name: c.name,
  ...extra
})

/** The engine's `events`. */
export const events =
  (store: Store): DockerEngineShape["events"] =>
  (eventsOptions: EventsOptions = {}) =>
    guardStream(
      store,
      "events",
      [eventsOptions],
      counted(
        store,
        "events",
        Stream.callback<EngineEvent, DockerError>((queue) =>
          Effect.gen(function* () {
            const nowNanos = yield* Clock.currentTimeNanos
            const sinceNanos =
              eventsOptions.sinceNano ??
              (eventsOptions.since !== undefined ? secondsToNanos(eventsOptions.since) : undefined)
            const untilNanos =
              eventsOptions.until !== undefined ? secondsToNanos(eventsOptions.until) : undefined
            const subscriber: Subscriber = { queue, options: eventsOptions, untilNanos }
            // Replay and subscription in one turn: nothing is emitted in between.
            const live = yield* Effect.sync(() => {
              if (sinceNanos !== undefined || untilNanos !== undefined) {
                for (const { event, nanos } of store.buffer) {
                  if (nanos < (sinceNanos ?? 0n)) continue
                  if (untilNanos !== undefined && nanos > untilNanos) continue
                  if (matchesEvent(event, eventsOptions)) Queue.offerUnsafe(queue, event)
                }
              }
              if (untilNanos !== undefined && untilNanos <= nowNanos) {
                Queue.endUnsafe(queue)
                return false
              }
              store.subscribers.add(subscriber)
              return true
            })
            if (!live) return
            yield* Effect.addFinalizer(() => Effect.sync(() => store.subscribers.delete(subscriber)))
            if (untilNanos !== undefined) {
              yield* Effect.sleep(nanosToMillis(untilNanos - nowNanos))
              yield* Queue.end(queue)
            }
          })
        )
      )
    )

/** The control side's `dropEvents`. */
export const dropEvents =
  (store: Store): MemoryEngineShape["dropEvents"] =>
  (dropOptions) =>
    Effect.sync(() => {
      for (const subscriber of store.subscribers) {
        if (dropOptions?.end === true) Queue.endUnsafe(subscriber.queue)
        else {
          Queue.failCauseUnsafe(
            subscriber.queue,
            Cause.fail(
              new DockerError({
                reason: "Unavailable",
                operation: "events",
                message: "read ECONNRESET (dropped by MemoryEngine)"
              })
            )
          )
        }
      }
      store.subscribers.clear()
    })
