/**
 * What stands between a caller and every in-memory operation: the call record, injected
 * delays and failures (`failNext`, `delay`), and the count of streams held open.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import { DockerError, type DockerErrorReason } from "../../DockerError.js"
import type { MemoryEngineShape, Operation } from "../../MemoryEngine.js"
import { statusOfReason } from "./docker.js"
import type { OpenCounts, Store } from "./store.js"

/** Records the call, applies its delay, fails it if a fault is pending, else runs `effect`. */
export const guard = <A, E>(
  store: Store,
  operation: Operation,
  args: ReadonlyArray<unknown>,
  effect: Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    store.calls.push({ operation, args })
    const delay = store.delays.get(operation)
    if (delay !== undefined) yield* Effect.sleep(delay)
    const pending = store.faults.get(operation)
    const fault = pending?.[0]
    if (pending !== undefined && fault !== undefined) {
      fault.remaining -= 1
      if (fault.remaining <= 0) pending.shift()
      return yield* Effect.fail(fault.error)
    }
    return yield* effect
  })

/** {@link guard} for a stream: the call is recorded, delayed or failed when the stream starts. */
export const guardStream = <A, E>(
  store: Store,
  operation: Operation,
  args: ReadonlyArray<unknown>,
  stream: Stream.Stream<A, E>
) => Stream.unwrap(guard(store, operation, args, Effect.succeed(stream)))

/** Counts the stream as open from its start until it ends, fails or is interrupted. */
export const counted = <A, E>(
  store: Store,
  kind: keyof OpenCounts,
  stream: Stream.Stream<A, E>
): Stream.Stream<A, E> =>
  Stream.unwrap(
    Effect.sync(() => {
      store.open[kind] += 1
      return stream.pipe(Stream.ensuring(Effect.sync(() => (store.open[kind] -= 1))))
    })
  )

/** The control side's `failNext` and `delay`. */
export const faultControl = (store: Store): Pick<MemoryEngineShape, "failNext" | "delay"> => ({
  failNext: (operation, reason: DockerErrorReason, failOptions) =>
    Effect.sync(() => {
      const statusCode = statusOfReason(reason)
      const error = new DockerError({
        reason,
        operation,
        message: failOptions?.message ?? `injected ${reason} failure of ${operation}`,
        ...(statusCode !== undefined ? { statusCode } : {})
      })
      const pending = store.faults.get(operation) ?? []
      pending.push({ remaining: failOptions?.times ?? 1, error })
      store.faults.set(operation, pending)
    }),
  delay: (operation, duration) =>
    Effect.sync(() => {
      if (duration === undefined) store.delays.delete(operation)
      else store.delays.set(operation, duration)
    })
})
