import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Metric, Stream } from "effect"
import * as ContainerState from "../src/ContainerState.js"
import * as StateMailbox from "../src/internal/stateMailbox.js"

const initial = ContainerState.initial("db", "postgres:17")
const withFields = (state: ContainerState.ContainerState, fields: Partial<ContainerState.Fields>) =>
  new ContainerState.ContainerState({ ...state, ...fields })
const created = withFields(initial, { status: "created", id: "c1" })
const running = withFields(created, { status: "running", startedAt: new Date(1_000) })
const sample = (memoryUsed: number) => withFields(running, { memoryUsed })
const healthy = withFields(sample(3), { health: "healthy" })
const healthySample = (memoryUsed: number) => withFields(healthy, { memoryUsed })

describe("StateMailbox", () => {
  it("a state is progress-only when only stats or pull progress changed", () => {
    assert.isTrue(StateMailbox.isProgressOnly(running, sample(1)))
    assert.isTrue(StateMailbox.isProgressOnly(sample(1), withFields(sample(1), { cpuPercent: 50 })))
    assert.isTrue(
      StateMailbox.isProgressOnly(
        running,
        withFields(running, { startedAt: new Date(1_000), lastLogLines: [] })
      )
    )
    assert.isFalse(StateMailbox.isProgressOnly(created, running))
    assert.isFalse(StateMailbox.isProgressOnly(sample(3), healthy))
    assert.isFalse(StateMailbox.isProgressOnly(running, withFields(running, { lastLogLines: ["boom"] })))
  })

  it.effect("stats-only states replace a stats-only tail; lifecycle states are all kept, in order", () =>
    Effect.gen(function* () {
      const mailbox = yield* StateMailbox.make()
      for (const state of [
        created,
        running,
        sample(1),
        sample(2),
        sample(3),
        healthy,
        healthySample(4),
        healthySample(5)
      ]) {
        yield* mailbox.offer(state)
      }
      assert.strictEqual(yield* mailbox.size, 5)
      yield* mailbox.end
      const read = yield* Stream.runCollect(mailbox.stream)
      assert.deepStrictEqual(read, [created, running, sample(3), healthy, healthySample(5)])
    })
  )

  it.effect("a lifecycle state is never replaced, even by a stats-only state after it", () =>
    Effect.gen(function* () {
      const mailbox = yield* StateMailbox.make()
      yield* mailbox.offer(running)
      yield* mailbox.offer(sample(1))
      yield* mailbox.offer(healthy)
      yield* mailbox.offer(healthySample(9))
      yield* mailbox.end
      assert.deepStrictEqual(yield* Stream.runCollect(mailbox.stream), [
        running,
        sample(1),
        healthy,
        healthySample(9)
      ])
    })
  )

  it.effect("a failure reaches the consumer after the states queued before it", () =>
    Effect.gen(function* () {
      const mailbox = yield* StateMailbox.make<string>()
      yield* mailbox.offer(created)
      yield* mailbox.failCause(Cause.fail("pull failed"))
      yield* mailbox.offer(running)
      const read: Array<ContainerState.ContainerState> = []
      const exit = yield* mailbox.stream.pipe(
        Stream.runForEach((state) => Effect.sync(() => read.push(state))),
        Effect.exit
      )
      assert.deepStrictEqual(read, [created])
      assert.deepStrictEqual(exit, Exit.fail("pull failed"))
    })
  )

  it.effect(
    "buffered: the source runs ahead of a consumer that waits, which then reads the latest snapshot",
    () =>
      Effect.gen(function* () {
        const before = (yield* Metric.value(StateMailbox.statesQueued)).value
        const sourceDone = yield* Deferred.make<void>()
        const samples = Array.from({ length: 1_000 }, (_, i) => sample(i))
        const source = Stream.fromIterable([created, running, ...samples]).pipe(
          Stream.ensuring(Deferred.succeed(sourceDone, undefined))
        )
        const read = yield* source.pipe(
          StateMailbox.buffered,
          // The consumer reads one state, then nothing until the source is done.
          Stream.tap((state) => (state === created ? Deferred.await(sourceDone) : Effect.void)),
          Stream.runCollect
        )
        assert.deepStrictEqual(read, [created, running, sample(999)])
        assert.strictEqual((yield* Metric.value(StateMailbox.statesQueued)).value, before)
      })
  )

  it.effect("buffered: a consumer that stops early leaves nothing counted as queued", () =>
    Effect.gen(function* () {
      const before = (yield* Metric.value(StateMailbox.statesQueued)).value
      const source = Stream.fromIterable([
        created,
        running,
        healthy,
        withFields(healthy, { status: "exited" })
      ])
      const read = yield* source.pipe(StateMailbox.buffered, Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(read, [created])
      assert.strictEqual((yield* Metric.value(StateMailbox.statesQueued)).value, before)
    })
  )
})
