import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Schedule, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import {
  assertNoLeftovers,
  liveLayer,
  registryImage,
  removeImageIfPresent,
  testLabels
} from "../support/live.js"

const labels = testLabels("engine")
// A container started beside the labelled ones, without their test label.
const foreignLabels = testLabels("engine-foreign")
const image = "busybox:latest"

/** Creates a labelled container that is force-removed when the test's scope closes. */
const container = (
  options: Omit<DockerEngine.CreateContainerOptions, "image" | "labels"> & {
    readonly labels?: Record<string, string>
  }
) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    return yield* Effect.acquireRelease(
      engine
        .createContainer({ image, ...options, labels: options.labels ?? labels })
        .pipe(Effect.map(({ id }) => id)),
      (id) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
  })

/** Sockets (unix and TCP) this process holds open. */
const openSockets = () =>
  process
    .getActiveResourcesInfo()
    .filter((resource) => resource === "PipeWrap" || resource === "TCPSocketWrap").length

const socketsSettleAt = (expected: number) =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 50 && openSockets() !== expected; attempt++)
      yield* Effect.sleep("20 millis")
    return openSockets()
  })

layer(liveLayer, { excludeTestServices: true, concurrent: true })("DockerEngine (live engine)", (it) => {
  it.effect(
    "creates, starts, inspects, stops and removes a container, which is then gone from the labelled list",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { id } = yield* engine.createContainer({ image, cmd: ["sleep", "30"], labels, stopTimeout: 1 })
        const created = yield* engine.inspectContainer(id)
        assert.strictEqual(created.state.status, "created")
        assert.deepStrictEqual(created.labels, labels)

        yield* engine.startContainer(id)
        const running = yield* engine.inspectContainer(id)
        assert.strictEqual(running.state.status, "running")
        assert.isTrue(running.state.running)
        assert.isAbove(running.state.pid, 0)
        assert.strictEqual(running.image, image)
        const listed = yield* engine.listContainers({ labels })
        assert.include(
          listed.map((summary) => summary.id),
          id
        )

        yield* engine.stopContainer(id, { timeout: 1 })
        const stopped = yield* engine.inspectContainer(id)
        assert.strictEqual(stopped.state.status, "exited")
        assert.isFalse(stopped.state.running)

        yield* engine.removeContainer(id)
        const afterRemove = yield* engine.listContainers({ all: true, labels })
        assert.notInclude(
          afterRemove.map((summary) => summary.id),
          id
        )
        const gone = yield* engine.inspectContainer(id).pipe(Effect.flip)
        assert.strictEqual(gone.reason, "NotFound")
        assert.strictEqual(gone.statusCode, 404)
      })
  )

  it.effect("waits for a container that exits with 3 and returns exit code 3", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* container({ cmd: ["sh", "-c", "sleep 0.3; exit 3"] })
      // Registered before the start, so `next-exit` cannot miss the exit.
      const nextExit = yield* engine.waitContainer(id, { condition: "next-exit" }).pipe(Effect.forkChild)
      yield* Effect.sleep("100 millis")
      yield* engine.startContainer(id)
      const result = yield* Fiber.join(nextExit)
      assert.strictEqual(result.exitCode, 3)
      assert.isUndefined(result.error)
      const notRunning = yield* engine.waitContainer(id, { condition: "not-running" })
      assert.strictEqual(notRunning.exitCode, 3)
    })
  )

  it.effect("streams decoded stats of a busy container: CPU and memory figures that make sense", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* container({ cmd: ["sh", "-c", "while :; do :; done"] })
      yield* engine.startContainer(id)
      const samples = yield* engine.stats(id).pipe(Stream.take(3), Stream.runCollect)
      assert.strictEqual(samples.length, 3)
      for (const sample of samples) {
        assert.isAbove(sample.cpu.totalUsage, 0)
        assert.isAbove(sample.cpu.systemUsage ?? 0, 0)
        assert.isAbove(sample.memory.usage ?? 0, 0)
        assert.isAbove(sample.memory.limit ?? 0, sample.memory.usage ?? 0)
        assert.isTrue(Number.isFinite(Date.parse(sample.read)))
      }
      // After the first sample, precpu is the previous reading: the busy loop used CPU between them.
      const [, second, third] = samples
      for (const sample of [second!, third!]) {
        const cpuDelta = sample.cpu.totalUsage - sample.precpu.totalUsage
        const systemDelta = (sample.cpu.systemUsage ?? 0) - (sample.precpu.systemUsage ?? 0)
        assert.isAbove(cpuDelta, 0)
        assert.isAbove(systemDelta, 0)
        const cpus = sample.cpu.onlineCpus || sample.cpu.percpuUsage?.length || 1
        const percent = (cpuDelta / systemDelta) * cpus * 100
        assert.isAbove(percent, 5, `a busy loop uses CPU (got ${percent.toFixed(1)}%)`)
        assert.isAtMost(percent, cpus * 100 + 1)
      }
      const once = yield* engine.statsOnce(id)
      assert.isAbove(once.cpu.totalUsage, third!.cpu.totalUsage)
      assert.isAbove(once.memory.usage ?? 0, 0)
    })
  )

  it.effect(
    "events filtered by a label see the labelled container's create, start and die, and nothing of another",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const since = Date.now() / 1000 - 1
        // Other tests of this suite run alongside with the suite's labels: this one adds its own.
        const caseLabel = { "dev.effect-docker.case": `events-${labels["dev.effect-docker.test"]}` }
        const seen = yield* engine.events({ labels: caseLabel, since, types: ["container"] }).pipe(
          Stream.takeUntil((event) => event.action === "destroy"),
          Stream.runCollect,
          Effect.timeout("50 seconds"),
          Effect.forkChild
        )
        const foreign = yield* container({ cmd: ["true"], labels: foreignLabels })
        const id = yield* container({ cmd: ["true"], labels: { ...labels, ...caseLabel } })
        yield* engine.startContainer(foreign)
        yield* engine.startContainer(id)
        yield* engine.waitContainer(id, { condition: "not-running" })
        yield* engine.waitContainer(foreign, { condition: "not-running" })
        yield* engine.removeContainer(id)
        const events = yield* Fiber.join(seen)
        const actions = events.filter((event) => event.actorId === id).map((event) => event.action)
        for (const action of ["create", "start", "die", "destroy"]) assert.include(actions, action)
        assert.isBelow(actions.indexOf("create"), actions.indexOf("start"))
        assert.isBelow(actions.indexOf("start"), actions.indexOf("die"))
        assert.deepStrictEqual(
          events.filter((event) => event.actorId !== id),
          [],
          "only the labelled container's events"
        )
        const die = events.find((event) => event.action === "die")!
        assert.strictEqual(die.attributes.exitCode, "0")
        assert.strictEqual(die.type, "container")
        assert.isAbove(die.timeNano, 0)
      })
  )

  it.effect("pulls from the registry with layer progress, after which the image is present", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const reference = registryImage("engine")
      yield* removeImageIfPresent(reference)
      const progress = yield* engine.pullImage(reference).pipe(Stream.runCollect)
      const layerLines = progress.filter((line) => line.id !== undefined && line.id !== "latest")
      assert.isAbove(layerLines.length, 0)
      const downloading = progress.filter((line) => line.status === "Downloading")
      assert.isAbove(downloading.length, 0, JSON.stringify(progress.map((line) => line.status)))
      assert.isTrue(downloading.some((line) => (line.total ?? 0) > 0 && (line.current ?? 0) > 0))
      assert.isTrue(progress.some((line) => line.status === "Pull complete"))
      const inspected = yield* engine.inspectImage(reference)
      assert.include(inspected.repoTags, reference)
      assert.isAbove(inspected.size, 1_000_000)
    })
  )

  it.effect("fails a pull of a missing tag with a typed error naming the image", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const reference = "127.0.0.1:5000/effect-docker/engine:no-such-tag"
      const error = yield* engine.pullImage(reference).pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error.operation, "pullImage")
      // The registry answers "manifest unknown" for a tag it does not have.
      assert.strictEqual(error.reason, "NotFound")
      assert.include(error.message, reference)
      const missing = yield* engine.inspectImage(reference).pipe(Effect.flip)
      assert.strictEqual(missing.reason, "NotFound")
    })
  )

  it.effect("logs tell stdout and stderr apart, in order, followed or not", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const script =
        "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; echo out-3; sleep 0.2; echo err-2 >&2"
      const id = yield* container({ cmd: ["sh", "-c", script] })
      yield* engine.startContainer(id)
      const followed = yield* engine
        .logs(id, { follow: true })
        .pipe(Stream.runCollect, Effect.timeout("20 seconds"))
      const expected = [
        { stream: "stdout", text: "out-1" },
        { stream: "stderr", text: "err-1" },
        { stream: "stdout", text: "out-2" },
        { stream: "stdout", text: "out-3" },
        { stream: "stderr", text: "err-2" }
      ]
      assert.deepStrictEqual(followed, expected)
      yield* engine.waitContainer(id, { condition: "not-running" })
      assert.deepStrictEqual(yield* engine.logs(id).pipe(Stream.runCollect), expected)
      assert.deepStrictEqual(yield* engine.logs(id, { stdout: false, tail: 1 }).pipe(Stream.runCollect), [
        { stream: "stderr", text: "err-2" }
      ])
      const stamped = yield* engine.logs(id, { timestamps: true, tail: 1 }).pipe(Stream.runCollect)
      assert.strictEqual(stamped[0]?.text, "err-2")
      assert.isTrue(Number.isFinite(Date.parse(stamped[0]?.timestamp ?? "")))
    })
  )

  it.effect("reads a TTY container's output as stdout lines", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* container({ cmd: ["sh", "-c", "echo one; echo two >&2"], tty: true })
      yield* engine.startContainer(id)
      yield* engine.waitContainer(id, { condition: "not-running" })
      assert.deepStrictEqual(yield* engine.logs(id).pipe(Stream.runCollect), [
        { stream: "stdout", text: "one" },
        { stream: "stdout", text: "two" }
      ])
    })
  )

  it.effect(
    "copies files in with their modes, a streamed one included, and refuses bad paths before any call",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const id = yield* container({
          cmd: [
            "sh",
            "-c",
            "cat /etc/app/config.txt; stat -c %a /etc/app/config.txt; stat -c '%a %s' /data/big.bin"
          ]
        })
        const chunk = new Uint8Array(64 * 1024).fill(0x61)
        yield* engine.copyFiles(id, [
          { path: "/etc/app/config.txt", content: "hello\nworld\n", mode: 0o640 },
          {
            path: "/data/big.bin",
            stream: Stream.make(chunk).pipe(Stream.repeat(Schedule.recurs(15))),
            size: 16 * chunk.length
          }
        ])
        yield* engine.startContainer(id)
        yield* engine.waitContainer(id, { condition: "not-running" })
        const lines = yield* engine.logs(id).pipe(Stream.runCollect)
        assert.deepStrictEqual(
          lines.map((line) => line.text),
          ["hello", "world", "640", `644 ${16 * chunk.length}`]
        )

        for (const path of ["relative.txt", "/etc/../etc/passwd", "/etc//passwd", "/bad\0name", "/"]) {
          // A container that does not exist: had a call been made, the error would be NotFound.
          const error = yield* engine
            .copyFiles("no-such-container", [{ path, content: "x" }])
            .pipe(Effect.flip)
          assert.strictEqual(error.reason, "BadRequest", path)
        }
        const tarError = yield* engine
          .putArchive(id, "/tmp", Stream.fail("the tar stream broke" as const))
          .pipe(Effect.flip)
        assert.strictEqual(tarError, "the tar stream broke")
      })
  )

  it.effect("creates a labelled network, connects a container, lists it by label and removes it", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = `effect-docker-test-${labels["dev.effect-docker.test"]}`
      const { id: networkId } = yield* Effect.acquireRelease(
        engine.createNetwork({ name, labels }),
        ({ id }) => engine.removeNetwork(id).pipe(Effect.ignore)
      )
      const id = yield* container({ cmd: ["sleep", "30"] })
      yield* engine.connectNetwork(name, id, { aliases: ["db"] })
      yield* engine.startContainer(id)
      const inspected = yield* engine.inspectContainer(id)
      assert.strictEqual(inspected.networks[name]?.networkId, networkId)
      assert.include(inspected.networks[name]?.aliases ?? [], "db")
      const network = yield* engine.inspectNetwork(networkId)
      assert.strictEqual(network.name, name)
      assert.deepStrictEqual(network.labels, labels)
      assert.deepStrictEqual(Object.keys(network.containers), [id])
      const listed = yield* engine.listNetworks({ labels })
      assert.deepStrictEqual(
        listed.map((n) => n.id),
        [networkId]
      )
      assert.deepStrictEqual(
        (yield* engine.listNetworks({ names: [name] })).map((n) => n.id),
        [networkId]
      )
      const inUse = yield* engine.removeNetwork(networkId).pipe(Effect.flip)
      assert.strictEqual(inUse.reason, "Conflict")
      assert.include(inUse.message, "active endpoints")
      yield* engine.disconnectNetwork(networkId, id, { force: true })
      yield* engine.removeContainer(id, { force: true })
      yield* engine.removeNetwork(networkId)
      assert.deepStrictEqual(yield* engine.listNetworks({ labels }), [])
    })
  )

  it.effect("fails with Unavailable, quickly and naming the address, when DOCKER_HOST names no engine", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const error = yield* Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        return yield* engine.ping
      }).pipe(
        Effect.provide(
          DockerEngine.layer.pipe(
            Layer.provide(
              ConfigProvider.layer(
                ConfigProvider.fromEnv({ env: { DOCKER_HOST: "unix:///nonexistent.sock" } })
              )
            )
          )
        ),
        Effect.flip
      )
      assert.strictEqual(error._tag, "DockerError")
      if (error._tag === "DockerError") {
        assert.strictEqual(error.reason, "Unavailable")
        assert.isTrue(
          error.message.startsWith("Could not connect to Docker at unix:///nonexistent.sock: is it running?"),
          error.message
        )
      }
      assert.isBelow(Date.now() - started, 2000)

      const refused = yield* Effect.gen(function* () {
        const engine = yield* DockerEngine.make({ host: "tcp://127.0.0.1:1", connectTimeout: "1 second" })
        return yield* engine.version
      }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(refused.reason, "Unavailable")
      assert.include(refused.message, "Could not connect to Docker at tcp://127.0.0.1:1")
    })
  )
})

/** A local server of this test's own, closed with the scope; its port. */
const localServer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const server = Net.createServer(onConnection)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

layer(liveLayer, { excludeTestServices: true, concurrent: true })("DockerEngine connect deadline", (it) => {
  it.effect("fails with Timeout, naming the address, when a connection is never completed", () =>
    Effect.gen(function* () {
      const sockets: Array<Net.Socket> = []
      // Accepts TCP but never answers the TLS handshake: the connection never completes.
      const port = yield* localServer((socket) => void sockets.push(socket))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const socket of sockets) socket.destroy()
        })
      )
      const certPath = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-docker-certs-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => Fs.rmSync(certPath, { recursive: true, force: true }))
      )
      const started = Date.now()
      const error = yield* Effect.gen(function* () {
        const engine = yield* DockerEngine.make({
          host: `tcp://127.0.0.1:${port}`,
          tlsVerify: true,
          certPath,
          connectTimeout: "300 millis"
        })
        return yield* engine.ping
      }).pipe(Effect.scoped, Effect.flip)
      const elapsed = Date.now() - started
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, `Could not connect to Docker at tcp://127.0.0.1:${port}: is it running?`)
      assert.isAtLeast(elapsed, 250)
      assert.isBelow(elapsed, 2000)
    })
  )

  it.effect("does not cut a call that takes longer than the connect timeout once connected", () =>
    Effect.gen(function* () {
      // An engine that takes a second to answer its ping.
      const port = yield* localServer((socket) => {
        socket.once("data", () =>
          setTimeout(
            () => socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"),
            1000
          )
        )
      })
      const engine = yield* DockerEngine.make({
        host: `tcp://127.0.0.1:${port}`,
        connectTimeout: "200 millis"
      })
      yield* engine.ping
    })
  )
})

layer(liveLayer, { excludeTestServices: true })("DockerEngine (live engine, one at a time)", (it) => {
  it.effect("interrupting a stats stream and a logs stream closes their requests and leaves no fiber", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* container({ cmd: ["sh", "-c", "while :; do echo tick; sleep 0.1; done"] })
      yield* engine.startContainer(id)
      // Let the sockets of the calls above close (no keep-alive: one socket per call).
      yield* Effect.sleep("300 millis")
      const baseline = openSockets()

      for (const [name, stream] of [
        ["stats", engine.stats(id)],
        ["logs", engine.logs(id, { follow: true })]
      ] as const) {
        const received = yield* Deferred.make<void>()
        const finalized = yield* Deferred.make<void>()
        const fiber = yield* (stream as Stream.Stream<unknown, unknown>).pipe(
          Stream.tap(() => Deferred.succeed(received, undefined)),
          Stream.runDrain,
          Effect.ensuring(Deferred.succeed(finalized, undefined)),
          Effect.forkChild
        )
        yield* Deferred.await(received).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(openSockets(), baseline + 1, `${name}: one socket while streaming`)
        yield* Fiber.interrupt(fiber)
        const exit = fiber.pollUnsafe()
        assert.isDefined(exit, `${name}: the fiber is done`)
        assert.isTrue(exit !== undefined && Exit.hasInterrupts(exit), `${name}: it was interrupted`)
        assert.isTrue(yield* Deferred.isDone(finalized))
        assert.strictEqual(yield* socketsSettleAt(baseline), baseline, `${name}: its socket is closed`)
      }
    })
  )

  it.effect("leaves no container or network with the suite's labels", () =>
    Effect.gen(function* () {
      yield* assertNoLeftovers(labels)
      yield* assertNoLeftovers(foreignLabels)
    })
  )
})
