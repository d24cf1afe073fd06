/**
 * Events handled per second by the Supervisor's shared subscription at 100 containers with
 * healthchecks: NDJSON bytes as the engine sends them, decoded (exact `timeNano` included),
 * de-duplicated and handed to each container's queue by id; against the former fan-out (one
 * PubSub, every container filtering every event) on the same decoded events.
 *
 * Run: `npx tsc -p tsconfig.bench.json && node dist-bench/bench/eventsDispatch.js`
 */
import { Deferred, Effect, Fiber, PubSub, Stream } from "effect"
import { DockerEngine, type EngineEvent } from "../src/DockerEngine.js"
import * as System from "../src/internal/engine/system.js"
import type { Transport } from "../src/internal/engine/transport.js"
import * as Events from "../src/internal/supervisorEvents.js"
import * as MemoryEngine from "../src/MemoryEngine.js"

const containers = 100
const total = 50_000
const ids = Array.from(
  { length: containers },
  (_, i) => `${i.toString(16).padStart(4, "0")}${"c".repeat(60)}`
)
const actions = ["health_status: healthy", "health_status: unhealthy", "start"]

/** One event as dockerd 20.10 writes it (labels included, as the instance filter needs them). */
const line = (index: number): string => {
  const id = ids[index % containers] ?? ""
  const action = actions[index % actions.length] ?? "start"
  const nanos = 1_700_000_000_000_000_000n + BigInt(index) * 1000n
  return `${JSON.stringify({
    status: action,
    id,
    from: "busybox:latest",
    Type: "container",
    Action: action,
    Actor: {
      ID: id,
      Attributes: {
        "dev.effect-docker.app": "bench",
        "dev.effect-docker.instance": "i1",
        "dev.effect-docker.component": `worker-${index % containers}`,
        image: "busybox:latest",
        name: `bench-i1-worker-${index % containers}`
      }
    },
    scope: "local",
    time: Number(nanos / 1_000_000_000n)
  }).slice(0, -1)},"timeNano":${nanos}}\n`
}

// 64 KiB chunks, as a socket delivers them.
const encoder = new TextEncoder()
const chunks: Array<Uint8Array> = []
{
  let text = ""
  for (let i = 0; i < total; i++) {
    text += line(i)
    if (text.length > 65_536) {
      chunks.push(encoder.encode(text))
      text = ""
    }
  }
  if (text.length > 0) chunks.push(encoder.encode(text))
}

const transport: Transport = {
  endpoint: { _tag: "Unix", socketPath: "/nowhere.sock" },
  call: () => Effect.die("not used"),
  readAnswer: () => Effect.die("not used"),
  decoded: () => Effect.die("not used"),
  bytes: () => Stream.fromIterable(chunks),
  flowingLines: () => Stream.die("not used")
}
const decoded = System.make(transport).events()

const perSecond = (count: number, millis: number) => Math.round((count / millis) * 1000)

/** Ours: decode, de-duplicate, dispatch by id; each container drains its own queue. */
const byId = Effect.gen(function* () {
  const engine = yield* DockerEngine
  // The engine's stream starts once every container has subscribed.
  const subscribed = yield* Deferred.make<void>()
  const events = yield* Events.make(
    {
      ...engine,
      events: () =>
        Stream.fromEffect(Deferred.await(subscribed)).pipe(
          Stream.drain,
          Stream.concat(decoded),
          Stream.concat(Stream.never)
        )
    },
    { labels: {}, sinceNano: undefined }
  )
  const streams = yield* Effect.forEach(ids, (id) => events.subscribe(id))
  const started = performance.now()
  const drains = yield* Effect.forEach(streams, (stream) =>
    stream.pipe(
      Stream.filter(Events.isEvent),
      Stream.take(total / containers),
      Stream.runDrain,
      Effect.forkChild
    )
  )
  yield* Deferred.succeed(subscribed, undefined)
  yield* Fiber.joinAll(drains)
  return performance.now() - started
}).pipe(Effect.scoped)

/** The former fan-out: one PubSub, every container's subscription filters every event. */
const fanOut = Effect.gen(function* () {
  const pubsub = yield* PubSub.unbounded<EngineEvent>()
  const subscriptions = yield* Effect.forEach(ids, () => PubSub.subscribe(pubsub))
  const started = performance.now()
  const drains = yield* Effect.forEach(subscriptions, (subscription, index) =>
    Stream.fromSubscription(subscription).pipe(
      Stream.filter((event) => event.actorId === ids[index]),
      Stream.take(total / containers),
      Stream.runDrain,
      Effect.forkChild
    )
  )
  yield* decoded.pipe(Stream.runForEach((event) => PubSub.publish(pubsub, event)))
  yield* Fiber.joinAll(drains)
  return performance.now() - started
}).pipe(Effect.scoped)

const decodeOnly = Effect.gen(function* () {
  const started = performance.now()
  yield* Stream.runDrain(decoded)
  return performance.now() - started
})

const program = Effect.gen(function* () {
  for (let round = 1; round <= 3; round++) {
    const decode = yield* decodeOnly
    const ours = yield* byId
    const former = yield* fanOut
    console.log(
      `round ${round}: ${total} events, ${containers} containers: decode only ${perSecond(total, decode)}/s; ` +
        `decode + dispatch by id ${perSecond(total, ours)}/s; decode + fan-out to every filter ${perSecond(total, former)}/s`
    )
  }
  // What the engine no longer sends: a healthcheck probe is exec_create, exec_start, exec_die.
  console.log(
    `not asked for: ${containers} containers probed every second = ${containers * 3} exec events/s (all of them, before)`
  )
}).pipe(Effect.provide(MemoryEngine.layer()))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
