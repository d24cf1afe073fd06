/**
 * The Supervisor's shared events subscription: exact event times, resume without loss or
 * repetition when events arrive out of order, dispatch by container id, and what happens when
 * the reconnect schedule gives up.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import { DockerEngine, type EngineEvent, type EventsOptions } from "../src/DockerEngine.js"
import { DockerError } from "../src/DockerError.js"
import * as System from "../src/internal/engine/system.js"
import type { Transport } from "../src/internal/engine/transport.js"
import * as Events from "../src/internal/supervisorEvents.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const encode = (text: string) => new TextEncoder().encode(text)

/** A transport whose only answer is `body` as the events stream. */
const eventsTransport = (body: string, requests: Array<unknown>): Transport => ({
  endpoint: { _tag: "Unix", socketPath: "/nowhere.sock" },
  call: () => Effect.die("not used"),
  readAnswer: () => Effect.die("not used"),
  decoded: () => Effect.die("not used"),
  bytes: (_operation, request) => {
    requests.push(request.query)
    return Stream.make(encode(body))
  },
  flowingLines: () => Stream.die("not used")
})

const event = (actorId: string, action: string, timeNano: bigint): EngineEvent => ({
  type: "container",
  action,
  actorId,
  attributes: {},
  time: Number(timeNano / 1_000_000_000n),
  timeNano: Number(timeNano),
  timeNanoExact: timeNano
})

/** The container's events, without the reconnect notices. */
const isEvent = (notice: EngineEvent | Events.Reconnected): notice is EngineEvent =>
  typeof notice !== "string"

const dropped = new DockerError({ reason: "Unavailable", operation: "events", message: "read ECONNRESET" })

describe("engine events decoding", () => {
  it.effect("keeps timeNano exact: the engine's 19-digit number is not read through a double", () =>
    Effect.gen(function* () {
      const requests: Array<unknown> = []
      // 1700000000123456789 is not a double: JSON.parse reads it as 1700000000123456800.
      const line =
        '{"status":"start","id":"abc","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"note":"\\"timeNano\\":1"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}\n'
      const system = System.make(eventsTransport(line, requests))
      const events = yield* Stream.runCollect(system.events({ types: ["container"] }))
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]?.timeNanoExact, 1700000000123456789n)
      assert.strictEqual(events[0]?.attributes.note, '"timeNano":1')
    })
  )

  it.effect("without timeNano (old engines), the exact time is `time` in nanoseconds", () =>
    Effect.gen(function* () {
      const system = System.make(
        eventsTransport('{"Type":"container","Action":"die","Actor":{"ID":"x"},"time":1700000001}\n', [])
      )
      const events = yield* Stream.runCollect(system.events())
      assert.strictEqual(events[0]?.timeNanoExact, 1700000001000000000n)
    })
  )
})

describe("Supervisor events subscription", () => {
  const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"] })

  it.effect(
    "events of different containers arriving out of order are all passed on, once, across a resume",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine
        const base = 1_700_000_000_000_000_000n
        const a = event("a", "start", base + 1_000n)
        const b = event("b", "start", base + 2_000n)
        const c = event("c", "die", base + 3_000n)
        const asked: Array<EventsOptions | undefined> = []
        // The engine stamps before its lock and publishes after it: b arrives before a. Then the
        // connection drops; the resume replays what it kept since the time asked for.
        const connections = [
          Stream.make(b, a).pipe(Stream.concat(Stream.fail(dropped))),
          Stream.make(a, b, c).pipe(Stream.concat(Stream.never))
        ]
        const scripted = {
          ...engine,
          events: (options?: EventsOptions) => {
            asked.push(options)
            return connections[asked.length - 1] ?? Stream.never
          }
        }
        const events = yield* Events.make(scripted, {
          labels: { app: "x" },
          sinceNano: undefined,
          reconnect: Schedule.spaced("1 second")
        })
        const seen: Record<string, Array<EngineEvent>> = { a: [], b: [], c: [] }
        for (const id of Object.keys(seen)) {
          const stream = yield* events.subscribe(id)
          yield* stream.pipe(
            Stream.filter(isEvent),
            Stream.runForEach((e) => Effect.sync(() => seen[id]?.push(e))),
            Effect.forkChild
          )
        }
        yield* TestClock.adjust("1 second")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(asked.length, 2)
        assert.deepStrictEqual(seen, { a: [a], b: [b], c: [c] })
        // The resume asks from before the earliest event that could still be missing.
        const since = asked[1]?.sinceNano
        assert.isDefined(since)
        assert.isTrue((since ?? a.timeNanoExact + 1n) <= a.timeNanoExact, `resumed at ${since}`)
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "each container gets its own events only, and only the event types the supervisor uses are asked for",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine
        const queue = yield* Queue.unbounded<EngineEvent>()
        const asked: Array<EventsOptions | undefined> = []
        const scripted = {
          ...engine,
          events: (options?: EventsOptions) => {
            asked.push(options)
            return Stream.fromQueue(queue)
          }
        }
        const events = yield* Events.make(scripted, { labels: { app: "x" }, sinceNano: undefined })
        const ofA = yield* events.subscribe("a")
        const collected = yield* ofA.pipe(
          Stream.filter(isEvent),
          Stream.take(2),
          Stream.runCollect,
          Effect.forkChild
        )
        yield* Queue.offerAll(queue, [
          event("b", "start", 1n),
          event("a", "start", 2n),
          event("b", "die", 3n),
          event("a", "health_status: healthy", 4n)
        ])
        const got = yield* Fiber.join(collected)
        assert.deepStrictEqual(
          got.map((e) => e.action),
          ["start", "health_status: healthy"]
        )
        assert.isDefined(asked[0]?.actions)
        assert.notInclude(asked[0]?.actions ?? [], "exec_start")
        assert.include(asked[0]?.actions ?? [], "health_status")
      }).pipe(Effect.provide(memoryLayer))
  )
})

describe("Supervisor after an events outage", () => {
  // No replay buffer: what happened while the stream was down cannot come back through `since`.
  const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"], eventsBuffer: 0 })

  it.effect(
    "re-inspects each container after a reconnect: a health change missed while down reaches the state",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const supervisor = yield* Supervisor.make({
          app: "unit",
          instanceId: "i1",
          eventsReconnect: Schedule.spaced("1 second")
        })
        const starting = yield* supervisor
          .start({
            name: "web",
            image: "busybox:latest",
            healthcheck: { test: ["CMD", "true"], interval: "1 second" }
          })
          .pipe(Effect.forkChild)
        yield* TestClock.adjust("1 second")
        const handle = yield* Fiber.join(starting)
        assert.strictEqual((yield* handle.state).health, "healthy")
        // The engine refuses the next two reconnects; meanwhile the container turns unhealthy.
        yield* memory.failNext("events", "Unavailable", { times: 2 })
        yield* memory.dropEvents()
        yield* memory.setHealth("unit-i1-web", "unhealthy")
        yield* TestClock.adjust("1 second")
        yield* TestClock.adjust("1 second")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* supervisor.eventsConnections, 4)
        assert.strictEqual((yield* handle.state).health, "unhealthy")
      }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})

describe("Supervisor when the events reconnect gives up", () => {
  const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"] })

  it.effect(
    "every lifecycle of the instance fails with a WaitError naming the events stream, and so does a new one",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const supervisor = yield* Supervisor.make({
          app: "unit",
          instanceId: "i1",
          eventsReconnect: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 }))
        })
        const runs = yield* Effect.forEach(["a", "b"], (name) =>
          supervisor
            .run({ name, image: "busybox:latest" })
            .pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
        )
        yield* TestClock.adjust("10 millis")
        yield* memory.failNext("events", "Unavailable", { times: 10 })
        yield* memory.dropEvents()
        for (let second = 0; second < 4; second++) yield* TestClock.adjust("1 second")
        const errors = yield* Effect.forEach(runs, (fiber) => Fiber.join(fiber))
        for (const error of errors) {
          assert.strictEqual(error._tag, "WaitError")
          if (error._tag === "WaitError") assert.strictEqual(error.cause.operation, "events")
        }
        const later = yield* supervisor
          .run({ name: "c", image: "busybox:latest" })
          .pipe(Stream.runDrain, Effect.flip)
        assert.strictEqual(later._tag, "WaitError")
        // Nothing is left running: the failed lifecycles removed their containers.
        assert.deepStrictEqual(
          (yield* memory.containers).map((c) => c.name),
          []
        )
      }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})
