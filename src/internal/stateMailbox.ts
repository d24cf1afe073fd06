/**
 * The backlog of container states between a lifecycle and a slow consumer, bounded.
 *
 * A lifecycle publishes a state on every observation, a stats sample every second included;
 * a consumer that reads one state a minute would otherwise hold an ever-growing queue of
 * them. Every state is a full snapshot, so a state that differs from the one before only by
 * its stats or pull progress (a "progress-only" state) may replace a progress-only state still
 * waiting at the tail; lifecycle states (status, health, restarts, exit, ...) are always kept,
 * in order. The backlog then holds at most one progress-only state after each lifecycle state:
 * its size is bounded by the run's lifecycle transitions, not by its duration.
 *
 * Effect's queues drop (sliding, dropping) or suspend the producer; none replaces a tail by
 * a rule, so the backlog is an array woken through a `Latch`.
 *
 * @internal
 */
import { Cause, Effect, Exit, Latch, Metric, Stream } from "effect"
import type { ContainerState } from "../ContainerState.js"

/** States waiting in every mailbox of this process for their consumer. */
export const statesQueued = Metric.gauge("effect_docker_states_queued", {
  description: "Container states published and not yet read by their (slow) consumers"
})

/** The fields a stats sample or a pull progress line changes. */
const progressFields = [
  "pull",
  "cpuPercent",
  "memoryUsed",
  "memoryLimit",
  "memoryPercent",
  "rxRate",
  "txRate",
  "rxTotal",
  "txTotal"
] as const satisfies ReadonlyArray<keyof ContainerState>

const progressSet: ReadonlySet<string> = new Set(progressFields)

/**
 * Whether `next` differs from `previous` only by stats and pull progress (then a consumer
 * loses nothing when it sees `next` instead of both).
 *
 * @internal
 */
export const isProgressOnly = (previous: ContainerState, next: ContainerState): boolean => {
  for (const key of Object.keys(next) as Array<keyof ContainerState>) {
    if (progressSet.has(key)) continue
    const before = previous[key]
    const after = next[key]
    if (before === after) continue
    if (before instanceof Date && after instanceof Date && before.getTime() === after.getTime()) continue
    if (Array.isArray(before) && Array.isArray(after) && sameLines(before, after)) continue
    return false
  }
  return true
}

const sameLines = (before: ReadonlyArray<unknown>, after: ReadonlyArray<unknown>) =>
  before.length === after.length && before.every((line, index) => line === after[index])

interface Entry {
  state: ContainerState
  /** May be replaced by a later progress-only state. */
  readonly replaceable: boolean
}

/** @internal */
export interface StateMailbox<E> {
  /** Queues a state: replaces a progress-only tail when it is progress-only itself. Never blocks. */
  readonly offer: (state: ContainerState) => Effect.Effect<void>
  /** No more states: the stream ends after those queued. */
  readonly end: Effect.Effect<void>
  /** The stream fails with `cause` after the states queued. */
  readonly failCause: (cause: Cause.Cause<E>) => Effect.Effect<void>
  /** How many states wait now. */
  readonly size: Effect.Effect<number>
  /** The states, one at a time, in order; one consumer. Ending it early discards the rest. */
  readonly stream: Stream.Stream<ContainerState, E>
}

/** @internal */
export const make = <E = never>(): Effect.Effect<StateMailbox<E>> =>
  Effect.sync(() => {
    const entries: Array<Entry> = []
    let last: ContainerState | undefined
    let closed: Exit.Exit<void, E> | undefined
    const wake = Latch.makeUnsafe(false)

    const offer = (state: ContainerState) =>
      Effect.suspend(() => {
        if (closed !== undefined) return Effect.void
        const replaceable = last !== undefined && isProgressOnly(last, state)
        last = state
        const tail = entries[entries.length - 1]
        if (replaceable && tail?.replaceable === true) {
          tail.state = state
          return Effect.void
        }
        entries.push({ state, replaceable })
        wake.openUnsafe()
        return Metric.modify(statesQueued, 1)
      })

    const close = (exit: Exit.Exit<void, E>) =>
      Effect.sync(() => {
        if (closed !== undefined) return
        closed = exit
        wake.openUnsafe()
      })

    const take: Effect.Effect<readonly [ContainerState], E | Cause.Done> = Effect.suspend(() => {
      const head = entries.shift()
      if (head !== undefined) {
        return Metric.modify(statesQueued, -1).pipe(Effect.as([head.state] as const))
      }
      if (closed !== undefined) return Exit.isSuccess(closed) ? Cause.done() : Effect.failCause(closed.cause)
      wake.closeUnsafe()
      return Effect.andThen(wake.await, take)
    })

    // What the consumer left unread is no longer queued.
    const discard = Effect.suspend(() => {
      const left = entries.length
      entries.length = 0
      closed ??= Exit.void
      return left === 0 ? Effect.void : Metric.modify(statesQueued, -left)
    })

    return {
      offer,
      end: close(Exit.void),
      failCause: (cause) => close(Exit.failCause(cause)),
      size: Effect.sync(() => entries.length),
      stream: Stream.fromPull(Effect.succeed(take)).pipe(Stream.ensuring(discard))
    }
  })

/**
 * Runs `states` eagerly into a mailbox and reads them from it: the consumer's pace no longer
 * decides how many states wait (see the module comment). Ending the result early interrupts
 * `states`.
 *
 * @internal
 */
export const buffered = <E, R>(
  states: Stream.Stream<ContainerState, E, R>
): Stream.Stream<ContainerState, E, R> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const mailbox = yield* make<E>()
      yield* states.pipe(
        Stream.runForEach(mailbox.offer),
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? mailbox.end : mailbox.failCause(exit.cause))),
        // Now, as `Stream.callback` starts its producer: the source begins when the stream does.
        Effect.forkScoped({ startImmediately: true })
      )
      return mailbox.stream
    })
  )
