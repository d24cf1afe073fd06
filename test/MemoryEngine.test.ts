// The README's example ("Testing your app with MemoryEngine") runs with these unit tests.
import "../examples/memory-engine/app.test.js"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as TarStream from "tar-stream"
import * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"

const app = { "dev.effect-docker.app": "memory-engine-test" }

const testLayer = MemoryEngine.layer({
  images: ["busybox:latest"],
  registry: [
    { reference: "example.com/app:1", layers: [1000, 2000], pull: { stepDelay: "100 millis", steps: 2 } }
  ]
})

describe("MemoryEngine", () => {
  it.effect("runs a scripted container to its exit code, in clock time", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "worker" }, { exit: { after: "30 seconds", code: 3 } })
      const { id } = yield* engine.createContainer({ image: "busybox:latest", name: "worker", labels: app })
      yield* engine.startContainer(id)
      const exit = yield* Effect.forkChild(engine.waitContainer(id))
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual((yield* engine.inspectContainer(id)).state.status, "running")
      yield* TestClock.adjust("1 second")
      const { exitCode } = yield* Fiber.join(exit)
      assert.strictEqual(exitCode, 3)
      const inspect = yield* engine.inspectContainer("worker")
      assert.strictEqual(inspect.state.status, "exited")
      assert.strictEqual(inspect.state.exitCode, 3)
      yield* engine.removeContainer(id)
      assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: app }), [])
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("stop honours SIGTERM with 143 and kills an ignoring container after the timeout with 137", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "stubborn" }, { onStopSignal: "ignore" })
      const polite = yield* engine.createContainer({ image: "busybox:latest", name: "polite", labels: app })
      const stubborn = yield* engine.createContainer({
        image: "busybox:latest",
        name: "stubborn",
        labels: app
      })
      yield* engine.startContainer(polite.id)
      yield* engine.startContainer(stubborn.id)
      yield* engine.stopContainer(polite.id)
      assert.strictEqual((yield* engine.inspectContainer(polite.id)).state.exitCode, 143)
      const stopping = yield* Effect.forkChild(engine.stopContainer(stubborn.id, { timeout: 5 }))
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* engine.inspectContainer(stubborn.id)).state.running, true)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      assert.strictEqual((yield* engine.inspectContainer(stubborn.id)).state.exitCode, 137)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("fails the next calls of an operation with an injected reason", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.failNext("createContainer", "Unavailable", { times: 2 })
      const first = yield* Effect.flip(engine.createContainer({ image: "busybox:latest" }))
      const second = yield* Effect.flip(engine.createContainer({ image: "busybox:latest" }))
      assert.strictEqual(first.reason, "Unavailable")
      assert.strictEqual(second.reason, "Unavailable")
      const { id } = yield* engine.createContainer({ image: "busybox:latest", labels: app })
      assert.strictEqual((yield* engine.inspectContainer(id)).state.status, "created")
      const calls = yield* memory.calls
      assert.strictEqual(calls.filter((c) => c.operation === "createContainer").length, 3)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("pulls with per-layer progress in clock time", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const pulling = yield* Effect.forkChild(Stream.runCollect(engine.pullImage("example.com/app:1")))
      yield* TestClock.adjust("10 seconds")
      const lines = yield* Fiber.join(pulling)
      const statuses = lines.map((l) => l.status)
      assert.deepStrictEqual(statuses.slice(0, 3), [
        "Pulling from app",
        "Pulling fs layer",
        "Pulling fs layer"
      ])
      assert.include(statuses, "Pull complete")
      assert.strictEqual(statuses.at(-1), "Status: Downloaded newer image for example.com/app:1")
      const inspect = yield* engine.inspectImage("example.com/app:1")
      assert.strictEqual(inspect.size, 3000)
    }).pipe(Effect.provide(testLayer))
  )

  it.effect(
    "a dropped events stream fails; a resubscription with since gets what was emitted meanwhile",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const memory = yield* MemoryEngine.MemoryEngine
        const first = yield* Effect.forkChild(Stream.runCollect(engine.events({ labels: app })))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* memory.openStreams).events, 1)
        const a = yield* engine.createContainer({ image: "busybox:latest", name: "first", labels: app })
        yield* memory.dropEvents()
        const dropped = yield* Effect.flip(Fiber.join(first))
        assert.strictEqual(dropped.reason, "Unavailable")
        assert.strictEqual((yield* memory.openStreams).events, 0)
        // Emitted while nobody listens:
        yield* TestClock.adjust("2 seconds")
        yield* engine.startContainer(a.id)
        yield* engine.removeContainer(a.id, { force: true })
        const emitted = yield* memory.emittedEvents
        const lastSeen = emitted[0]
        assert.strictEqual(lastSeen?.action, "create")
        const resumed = yield* Effect.forkChild(
          engine
            .events({ labels: app, since: (lastSeen?.timeNano ?? 0) / 1e9 })
            .pipe(Stream.take(5), Stream.runCollect)
        )
        const actions = (yield* Fiber.join(resumed)).map((event) => event.action)
        assert.deepStrictEqual(actions, ["create", "start", "kill", "die", "destroy"])
      }).pipe(Effect.provide(testLayer))
  )

  it.effect("scripts per start: fail once, then run; logs, health and stats as scripted", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ image: "busybox:latest" }, [
        { logs: [{ text: "boom", stream: "stderr", at: "1 second" }], exit: { after: "2 seconds", code: 1 } },
        {
          logs: [{ text: "ready" }],
          health: [
            { at: "1 second", status: "healthy" },
            { at: "5 seconds", status: "unhealthy" }
          ],
          stats: [{ cpuPercent: 50, memoryUsage: 100, inactiveFile: 40, memoryLimit: 1000 }]
        }
      ])
      const first = yield* engine.createContainer({ image: "busybox:latest", labels: app })
      yield* engine.startContainer(first.id)
      const exit = yield* Effect.forkChild(engine.waitContainer(first.id))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(exit)).exitCode, 1)
      assert.deepStrictEqual(yield* memory.output(first.id), [{ stream: "stderr", text: "boom" }])

      const second = yield* engine.createContainer({ image: "busybox:latest", labels: app })
      yield* engine.startContainer(second.id)
      const samples = yield* Effect.forkChild(Stream.runCollect(Stream.take(engine.stats(second.id), 2)))
      yield* TestClock.adjust("1 second")
      const [s1, s2] = yield* Fiber.join(samples)
      const cpuDelta = (s2?.cpu.totalUsage ?? 0) - (s2?.precpu.totalUsage ?? 0)
      const systemDelta = (s2?.cpu.systemUsage ?? 0) - (s2?.precpu.systemUsage ?? 0)
      assert.strictEqual(Math.round((cpuDelta / systemDelta) * (s2?.cpu.onlineCpus ?? 0) * 100), 50)
      assert.strictEqual(s1?.memory.usage, 100)
      assert.strictEqual(s1?.memory.totalInactiveFile, 40)
      assert.strictEqual((yield* engine.inspectContainer(second.id)).state.health?.status, "healthy")
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* engine.inspectContainer(second.id)).state.health?.status, "unhealthy")
      assert.strictEqual((yield* engine.inspectContainer(second.id)).state.running, true)
      const logs = yield* Stream.runCollect(engine.logs(second.id))
      assert.deepStrictEqual(logs, [{ stream: "stdout", text: "ready" }])
      const actions = (yield* memory.emittedEvents)
        .filter((e) => e.actorId === second.id)
        .map((e) => e.action)
      assert.deepStrictEqual(actions, [
        "create",
        "start",
        "health_status: healthy",
        "health_status: unhealthy"
      ])
    }).pipe(Effect.provide(testLayer))
  )

  it.effect("copy-in: a tar archive is extracted and can be read back; copyFiles keeps modes", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      const { id } = yield* engine.createContainer({ image: "busybox:latest", labels: app })
      const pack = TarStream.pack()
      pack.entry({ name: "conf/app.toml", mode: 0o640 }, "port = 8080\n")
      pack.finalize()
      const tar = yield* Effect.promise(async () => {
        const chunks: Array<Uint8Array> = []
        for await (const chunk of pack) chunks.push(chunk as Uint8Array)
        return chunks
      })
      yield* engine.putArchive(id, "/etc", Stream.fromIterable(tar))
      assert.strictEqual(yield* memory.readFile(id, "/etc/conf/app.toml"), "port = 8080\n")
      yield* engine.copyFiles(id, [
        { path: "/run/secret", content: "s3cret", mode: 0o600 },
        { path: "/data/big.bin", stream: Stream.make(new Uint8Array(3), new Uint8Array(2)), size: 5 }
      ])
      const files = yield* memory.files(id)
      const secret = files.find((f) => f.path === "/run/secret")
      assert.strictEqual(secret?.mode, 0o600)
      assert.strictEqual(files.find((f) => f.path === "/data/big.bin")?.content.length, 5)
      const traversal = yield* Effect.flip(engine.copyFiles(id, [{ path: "/etc/../passwd", content: "x" }]))
      assert.strictEqual(traversal.reason, "BadRequest")
    }).pipe(Effect.provide(testLayer))
  )

  it.effect(
    "pulls: a scripted failure is a DockerError after some progress; delays hold calls in clock time",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const memory = yield* MemoryEngine.MemoryEngine
        yield* memory.addRegistryImage({
          reference: "example.com/broken:1",
          layers: [10, 20],
          pull: { fail: { message: "unexpected EOF", afterLayers: 1 } }
        })
        const lines: Array<string> = []
        const error = yield* Effect.flip(
          Stream.runForEach(engine.pullImage("example.com/broken:1"), (line) =>
            Effect.sync(() => lines.push(line.status))
          )
        )
        assert.strictEqual(error.reason, "ServerError")
        assert.include(error.message, "unexpected EOF")
        assert.include(error.message, "example.com/broken:1")
        assert.include(lines, "Pull complete")
        assert.strictEqual(
          (yield* Effect.flip(engine.inspectImage("example.com/broken:1"))).reason,
          "NotFound"
        )

        yield* memory.delay("inspectContainer", "3 seconds")
        const { id } = yield* engine.createContainer({ image: "busybox:latest", labels: app })
        const inspecting = yield* Effect.forkChild(engine.inspectContainer(id))
        yield* TestClock.adjust("2 seconds")
        assert.isUndefined(inspecting.pollUnsafe())
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(inspecting)).id, id)
      }).pipe(Effect.provide(testLayer))
  )

  it.effect("graceful shutdown, exits on demand, auto-remove and open stream counts", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: "graceful" }, { onStopSignal: { after: "2 seconds", exitCode: 0 } })
      const graceful = yield* engine.createContainer({
        image: "busybox:latest",
        name: "graceful",
        labels: app
      })
      yield* engine.startContainer(graceful.id)
      const logs = yield* Effect.forkChild(Stream.runCollect(engine.logs(graceful.id, { follow: true })))
      const stats = yield* Effect.forkChild(Stream.runDrain(engine.stats(graceful.id)))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* memory.openStreams, { events: 0, stats: 1, logs: 1, pulls: 0 })
      const stopping = yield* Effect.forkChild(engine.stopContainer(graceful.id, { timeout: 10 }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(stopping)
      assert.strictEqual((yield* engine.inspectContainer(graceful.id)).state.exitCode, 0)
      yield* Fiber.join(logs)
      yield* engine.removeContainer(graceful.id)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stats)
      assert.deepStrictEqual(yield* memory.openStreams, { events: 0, stats: 0, logs: 0, pulls: 0 })

      const once = yield* engine.createContainer({ image: "busybox:latest", labels: app, autoRemove: true })
      yield* engine.startContainer(once.id)
      const removed = yield* Effect.forkChild(engine.waitContainer(once.id, { condition: "removed" }))
      yield* TestClock.adjust("1 millis")
      yield* memory.exit(once.id, 42)
      assert.strictEqual((yield* Fiber.join(removed)).exitCode, 42)
      assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: app }), [])
    }).pipe(Effect.provide(testLayer))
  )
})
