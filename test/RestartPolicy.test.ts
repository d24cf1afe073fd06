import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as RestartPolicy from "../src/RestartPolicy.js"

const exit = (
  exitCode: number,
  restartCount = 0,
  ranFor: Duration.Input = "1 second"
): RestartPolicy.ExitInfo => ({
  exitCode,
  restartCount,
  ranFor,
  lastLogLines: ["last words"]
})

describe("RestartPolicy.decide", () => {
  it("never restarts with never", () => {
    assert.isFalse(RestartPolicy.decide(RestartPolicy.never, exit(1)))
    assert.isFalse(RestartPolicy.decide(RestartPolicy.never, exit(0)))
  })

  it("always restarts with always, whatever the code and count", () => {
    assert.isTrue(RestartPolicy.decide(RestartPolicy.always(), exit(0)))
    assert.isTrue(RestartPolicy.decide(RestartPolicy.always(), exit(137, 500)))
  })

  it("onFailure restarts non-zero exits only, up to maxRetries", () => {
    const policy = RestartPolicy.onFailure({ maxRetries: 2 })
    assert.isFalse(RestartPolicy.decide(policy, exit(0, 0)))
    assert.isTrue(RestartPolicy.decide(policy, exit(1, 0)))
    assert.isTrue(RestartPolicy.decide(policy, exit(1, 1)))
    assert.isFalse(RestartPolicy.decide(policy, exit(1, 2)))
    const once = RestartPolicy.onFailure({ maxRetries: 1 })
    assert.isTrue(RestartPolicy.decide(once, exit(1, 0)))
    assert.isFalse(RestartPolicy.decide(once, exit(1, 1)))
  })

  it("onFailure() without maxRetries restarts every non-zero exit, without limit (Docker's `on-failure`)", () => {
    for (const policy of [RestartPolicy.onFailure(), RestartPolicy.onFailure({ stableAfter: "1 minute" })]) {
      assert.isTrue(RestartPolicy.decide(policy, exit(1, 0)))
      assert.isTrue(RestartPolicy.decide(policy, exit(137, 1_000_000)))
      assert.isFalse(RestartPolicy.decide(policy, exit(0, 0)))
    }
  })

  it("refuses maxRetries: 0 at compile time: Docker reads 0 as no limit, so it is written onFailure()", () => {
    // @ts-expect-error: 0 is not a retry count here
    const zero = () => RestartPolicy.onFailure({ maxRetries: 0 })
    // @ts-expect-error: nor is a negative one
    const negative = () => RestartPolicy.onFailure({ maxRetries: -2 })
    assert.isFunction(zero)
    assert.isFunction(negative)
  })

  it("when hands the predicate the exit: code, restart count, time it ran, last log lines", () => {
    const seen: Array<RestartPolicy.ExitInfo> = []
    const policy = RestartPolicy.when((info) => {
      seen.push(info)
      return info.exitCode === 3 && info.lastLogLines.includes("last words")
    })
    assert.isTrue(RestartPolicy.decide(policy, exit(3, 4, "2 seconds")))
    assert.isFalse(RestartPolicy.decide(policy, exit(1)))
    assert.deepStrictEqual(seen[0], exit(3, 4, "2 seconds"))
  })

  it("treats a throwing predicate as 'don't restart' and reports the cause", () => {
    const bug = new Error("bad callback")
    const policy = RestartPolicy.when(() => {
      throw bug
    })
    assert.isFalse(RestartPolicy.decide(policy, exit(1)))
    const decision = RestartPolicy.decision(policy, exit(1))
    assert.strictEqual(decision._tag, "PredicateFailed")
    assert.strictEqual(decision._tag === "PredicateFailed" ? decision.cause : undefined, bug)
  })

  it("recognises its values", () => {
    assert.isTrue(RestartPolicy.isRestartPolicy(RestartPolicy.never))
    assert.isTrue(RestartPolicy.isRestartPolicy(RestartPolicy.onFailure({ maxRetries: 1 })))
    assert.isFalse(RestartPolicy.isRestartPolicy({ _tag: "Always" }))
    assert.isFalse(RestartPolicy.isRestartPolicy("always"))
  })
})

const millis = (delay: Option.Option<Duration.Duration>) =>
  Option.map(delay, Duration.toMillis).pipe(Option.getOrUndefined)

describe("RestartPolicy.backoff", () => {
  it.effect("steps Docker's delays: 100 ms doubling, capped at 1 minute", () =>
    Effect.gen(function* () {
      const delays = yield* RestartPolicy.backoff(RestartPolicy.always())
      const steps: Array<number | undefined> = []
      for (let i = 0; i < 13; i++) steps.push(millis(yield* delays.next("1 second")))
      assert.deepStrictEqual(
        steps,
        [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60_000, 60_000, 60_000]
      )
    })
  )

  it.effect("starts over after a run of at least 10 seconds, not after a shorter one", () =>
    Effect.gen(function* () {
      const delays = yield* RestartPolicy.backoff(RestartPolicy.onFailure({ maxRetries: 10 }))
      assert.strictEqual(millis(yield* delays.next("1 second")), 100)
      assert.strictEqual(millis(yield* delays.next("1 second")), 200)
      assert.strictEqual(millis(yield* delays.next("9999 millis")), 400)
      assert.strictEqual(millis(yield* delays.next("10 seconds")), 100)
      assert.strictEqual(millis(yield* delays.next("2 seconds")), 200)
    })
  )

  it.effect("honours a custom stableAfter", () =>
    Effect.gen(function* () {
      const delays = yield* RestartPolicy.backoff(RestartPolicy.always({ stableAfter: "1 minute" }))
      yield* delays.next(0)
      assert.strictEqual(millis(yield* delays.next("30 seconds")), 200)
      assert.strictEqual(millis(yield* delays.next("1 minute")), 100)
    })
  )

  it.effect("ends when a custom schedule ends, and uses its delays", () =>
    Effect.gen(function* () {
      const backoff = Schedule.spaced("3 seconds").pipe(Schedule.upTo({ times: 2 }))
      const delays = yield* RestartPolicy.backoff(RestartPolicy.always({ backoff }))
      assert.strictEqual(millis(yield* delays.next(0)), 3000)
      assert.strictEqual(millis(yield* delays.next(0)), 3000)
      assert.isTrue(Option.isNone(yield* delays.next(0)))
      // A stable run gives the schedule back.
      assert.strictEqual(millis(yield* delays.next("10 seconds")), 3000)
    })
  )

  it.effect("drives restarts in time under TestClock: 100, 200, 400 ms apart, then reset", () =>
    Effect.gen(function* () {
      const delays = yield* RestartPolicy.backoff(RestartPolicy.always())
      const restartedAt = yield* Ref.make<ReadonlyArray<number>>([])
      // A crash loop as the Supervisor runs it: each run fails fast, except the fourth, which runs 10 s.
      const ranFor = ["1 second", "1 second", "1 second", "10 seconds", "1 second"] as const
      const loop = Effect.forEach(
        ranFor,
        (lasted) =>
          delays.next(lasted).pipe(
            Effect.flatMap((delay) => Effect.sleep(Option.getOrThrow(delay))),
            Effect.andThen(Clock.currentTimeMillis),
            Effect.flatMap((now) => Ref.update(restartedAt, (times) => [...times, now]))
          ),
        { discard: true }
      )
      const fiber = yield* Effect.forkChild(loop)
      yield* TestClock.adjust("99 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [100])
      yield* TestClock.adjust("200 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [100, 300])
      yield* TestClock.adjust("400 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [100, 300, 700])
      // The fourth run was stable: back to 100 ms, then 200 ms.
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [100, 300, 700, 800])
      yield* TestClock.adjust("200 millis")
      assert.deepStrictEqual(yield* Ref.get(restartedAt), [100, 300, 700, 800, 1000])
      yield* Fiber.join(fiber)
    })
  )

  it.effect("the default backoff Schedule itself recurs with the capped delays", () =>
    Effect.gen(function* () {
      const ticks = yield* Ref.make(0)
      const fiber = yield* Effect.forkChild(
        Ref.update(ticks, (n) => n + 1).pipe(
          Effect.repeat(RestartPolicy.defaultBackoff.pipe(Schedule.upTo({ times: 12 })))
        )
      )
      // 100 + 200 + ... + 51200 = 102300 ms for the first 10 recurrences, then 60 s each.
      yield* TestClock.adjust("102299 millis")
      assert.strictEqual(yield* Ref.get(ticks), 10)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(ticks), 11)
      yield* TestClock.adjust("59999 millis")
      assert.strictEqual(yield* Ref.get(ticks), 11)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(ticks), 12)
      yield* TestClock.adjust("60 seconds")
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(ticks), 13)
    })
  )
})
