/**
 * The second engine (scripts/second-engine.sh): TLS with client verification, and the faults
 * that need an engine this suite may crash. Its tests run one after another: one of them
 * kills the engine the others use (and the stats-source case needs it up).
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Logger, Stream } from "effect"
import type * as ContainerState from "../../src/ContainerState.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import { DockerError } from "../../src/DockerError.js"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, removeImageIfPresent, testLabels } from "../support/live.js"
import { chosenCount, runUntilStats, statsCountingEngine } from "../support/statsCounting.js"
import { certPaths, secondEngine, secondEngineHost, secondEngineLayer, timed } from "./support.js"

const labels = testLabels("reliability-tls")
const image = "busybox:latest"

/** The failure of `effect`, which must fail with a DockerError (a success or a defect fails the test). */
const dockerFailure = <A, R>(effect: Effect.Effect<A, DockerError, R>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return assert.fail(`expected a DockerError, got ${JSON.stringify(exit.value)}`)
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    if (error === undefined || !(error.error instanceof DockerError)) {
      return assert.fail(`expected a typed DockerError, got ${String(exit.cause)}`)
    }
    return error.error
  })

const versionWith = (certPath: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    return yield* engine.version
  }).pipe(Effect.provide(secondEngineLayer(certPath)))

/**
 * A TCP proxy to the local registry that forwards the first `stallAfterBytes` of every answer,
 * then holds the rest: a pull through it stays mid-download until the test is done. Its port.
 */
const stallingRegistryProxy = (stallAfterBytes: number) =>
  Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const server = Net.createServer((client) => {
        const upstream = Net.connect(5000, "127.0.0.1")
        let forwarded = 0
        client.pipe(upstream)
        upstream.on("data", (chunk: Buffer) => {
          if (forwarded >= stallAfterBytes) return
          forwarded += chunk.length
          client.write(chunk)
        })
        const close = () => {
          client.destroy()
          upstream.destroy()
        }
        client.on("error", close).on("close", close)
        upstream.on("error", close).on("close", close)
        server.on("close", close)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.emit("close")
      })
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

describe("second engine: TLS with client certificates", () => {
  it.live(
    "connects with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH and runs a container there, not on the first engine",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const version = yield* engine.version
        assert.strictEqual(version.apiVersion, "1.41")

        const id = yield* Effect.acquireRelease(
          engine
            .createContainer({ image, cmd: ["sh", "-c", "echo over-tls; exit 3"], labels })
            .pipe(Effect.map((created) => created.id)),
          (id) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
        )
        yield* engine.startContainer(id)
        const { exitCode } = yield* engine.waitContainer(id, { condition: "not-running" })
        assert.strictEqual(exitCode, 3)
        const output = yield* engine.logs(id).pipe(Stream.runCollect)
        assert.deepStrictEqual(
          output.map((line) => line.text),
          ["over-tls"]
        )

        // The container lives on the second engine only.
        const first = yield* DockerEngine.make({ host: process.env.DOCKER_HOST })
        const onFirst = yield* dockerFailure(first.inspectContainer(id))
        assert.strictEqual(onFirst.reason, "NotFound")

        yield* engine.removeContainer(id, { force: true })
        yield* assertNoLeftovers(labels)
      }).pipe(Effect.scoped, Effect.provide(secondEngineLayer()))
  )

  it.live(
    "fails with Unauthorized when the client has no certificate: the engine refuses the handshake",
    () =>
      Effect.gen(function* () {
        const error = yield* dockerFailure(versionWith(certPaths.noClientCert))
        assert.strictEqual(error.reason, "Unauthorized")
        assert.strictEqual(error.operation, "version")
        assert.include(error.message, "bad certificate")
      })
  )

  it.live(
    "fails with Unauthorized when the client trusts the wrong CA: the engine's certificate is not verified",
    () =>
      Effect.gen(function* () {
        const error = yield* dockerFailure(versionWith(certPaths.wrongCa))
        assert.strictEqual(error.reason, "Unauthorized")
        assert.include(error.message, "unable to verify the first certificate")
      })
  )

  it.live(
    "fails with Unauthorized when the client's certificate was signed by a CA the engine does not trust",
    () =>
      Effect.gen(function* () {
        const error = yield* dockerFailure(versionWith(certPaths.stranger))
        assert.strictEqual(error.reason, "Unauthorized")
        assert.include(error.message, "bad certificate")
      })
  )

  it.live("fails with BadRequest when plain HTTP is sent to the TLS port (DOCKER_TLS_VERIFY unset)", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.make({ host: secondEngineHost })
      const error = yield* dockerFailure(engine.version)
      assert.strictEqual(error.reason, "BadRequest")
      assert.strictEqual(error.statusCode, 400)
      assert.include(error.message, "HTTPS")
    }).pipe(Effect.scoped)
  )
})

describe("stats sources (TLS engine)", () => {
  // An engine reached over TCP is not known to be local, even when its containers run on this
  // machine: `auto` uses the engine's stats, without a cgroup check.
  it.live("auto uses the engine's stream over a TLS engine, without a cgroup check", () =>
    Effect.gen(function* () {
      const labels = testLabels("reliability-stats-source")
      const { engine, counts } = yield* statsCountingEngine
      const engineBefore = yield* chosenCount("engine")
      const state = yield* runUntilStats(engine, { app: "test-stats-tls", labels })
      assert.isDefined(state?.cpuPercent)
      assert.isAbove(state?.memoryUsed ?? 0, 0)
      assert.deepStrictEqual(yield* counts, { streams: 1, samples: 0 })
      assert.strictEqual((yield* chosenCount("engine")) - engineBefore, 1)
      yield* assertNoLeftovers(labels)
    }).pipe(Effect.provide(secondEngineLayer()))
  )
})

describe("second engine: going away", () => {
  it.live(
    "a pull fails with Unavailable, within seconds, when the engine is killed mid-download; afterwards calls fail fast with Unavailable",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        // Only ~64 KiB of each registry answer gets through: the layer download stays mid-way.
        const port = yield* stallingRegistryProxy(64 * 1024)
        const reference = `127.0.0.1:${port}/effect-docker/reliability:latest`
        yield* removeImageIfPresent(reference)

        const killOnce = yield* Effect.cached(secondEngine("kill"))
        let downloading: DockerEngine.PullProgress | undefined
        let killedAt = 0
        const pull = yield* dockerFailure(
          engine.pullImage(reference).pipe(
            Stream.tap((progress) =>
              progress.status === "Downloading" && downloading === undefined
                ? Effect.sync(() => {
                    downloading = progress
                  }).pipe(
                    Effect.andThen(killOnce),
                    Effect.andThen(
                      Effect.sync(() => {
                        killedAt = Date.now()
                      })
                    )
                  )
                : Effect.void
            ),
            Stream.runDrain
          )
        )
        const failedAfterKillMs = Date.now() - killedAt
        assert.isDefined(downloading, "the pull was seen downloading before the engine was killed")
        assert.isBelow(downloading?.current ?? Number.POSITIVE_INFINITY, downloading?.total ?? 0)
        assert.strictEqual(pull.reason, "Unavailable")
        assert.strictEqual(pull.operation, "pullImage")
        assert.isBelow(failedAfterKillMs, 5_000)

        // The engine is gone: a new call is refused at once, with the one clear message.
        const { result: refused, elapsedMs } = yield* timed(dockerFailure(engine.ping))
        assert.strictEqual(refused.reason, "Unavailable")
        assert.include(refused.message, `Could not connect to Docker at ${secondEngineHost}: is it running?`)
        assert.isBelow(elapsedMs, 2_000)

        // Back up, the half-pulled image is not there.
        yield* secondEngine("start")
        const missing = yield* dockerFailure(engine.inspectImage(reference))
        assert.strictEqual(missing.reason, "NotFound")
      }).pipe(Effect.scoped, Effect.ensuring(secondEngine("start")), Effect.provide(secondEngineLayer())),
    120_000
  )

  it.live("fails with Unavailable, naming the address, when the engine does not answer at start", () =>
    Effect.gen(function* () {
      // A port nothing listens on, found by opening and closing it.
      const port = yield* Effect.callback<number>((resume) => {
        const server = Net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const layer = DockerEngine.layerWith({ host: `tcp://127.0.0.1:${port}`, connectTimeout: "1 second" })
      const { result: error, elapsedMs } = yield* timed(
        dockerFailure(
          Effect.gen(function* () {
            const engine = yield* DockerEngine.DockerEngine
            yield* engine.ping
          }).pipe(Effect.provide(Layer.fresh(layer)))
        )
      )
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.message, `Could not connect to Docker at tcp://127.0.0.1:${port}: is it running?`)
      assert.isBelow(elapsedMs, 2_000)
    })
  )
})

describe("second engine: restarted under a Supervisor", () => {
  it.live(
    "dockerd restarted while 5 containers are supervised: every stream ends exited (or fails typed), nothing hangs, events reconnect with since, nothing is left",
    () =>
      Effect.gen(function* () {
        const restartLabels = testLabels("reliability-restart")
        const logged: Array<string> = []
        const capture = Logger.make((options) => {
          logged.push(String(Logger.formatJson.log(options)))
        })
        yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({
            app: restartLabels["dev.effect-docker.app"] ?? "test-reliability-restart",
            labels: restartLabels
          })
          // Containers that stop at once on SIGTERM (the daemon stops them when it shuts down).
          const spec = (name: string) => ({
            name,
            image,
            command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
            healthcheck: { test: ["CMD", "true"], interval: "300 millis" as const, retries: 1 },
            stopTimeout: "2 seconds" as const
          })
          const seen = Array.from({ length: 5 }, (): Array<ContainerState.ContainerState> => [])
          const runs = yield* Effect.forEach(seen, (states, index) =>
            supervisor.run(spec(`worker-${index}`)).pipe(
              Stream.runForEach((state) => Effect.sync(() => states.push(state))),
              Effect.exit,
              Effect.forkChild
            )
          )
          // All five healthy: the health events came through the shared subscription.
          yield* Effect.sleep("200 millis").pipe(
            Effect.repeat({
              until: () => seen.every((states) => states.some((state) => state.health === "healthy"))
            }),
            Effect.timeout("30 seconds")
          )
          assert.strictEqual(yield* supervisor.eventsConnections, 1)

          yield* secondEngine("restart")

          // Each stream ends, one way or the other, within bounded time: none hangs.
          const exits = yield* Effect.forEach(
            runs,
            (run) => Fiber.join(run).pipe(Effect.timeout("30 seconds")),
            {
              concurrency: "unbounded"
            }
          )
          exits.forEach((exit, index) => {
            const last = seen[index]?.at(-1)
            assert.strictEqual(last?.status, "exited", `worker-${index} ended with an exited state`)
            if (Exit.isFailure(exit)) {
              // Failing is allowed, but only with a typed error, never a defect.
              assert.isFalse(Cause.hasDies(exit.cause), `worker-${index} died: ${String(exit.cause)}`)
              assert.isTrue(Cause.findErrorOption(exit.cause)._tag === "Some", String(exit.cause))
            }
            // No state was published twice in a row (a replayed event would repeat one).
            const states = seen[index] ?? []
            const healthyTransitions = states.filter(
              (state, at) => state.health === "healthy" && states[at - 1]?.health !== "healthy"
            )
            assert.isAtMost(healthyTransitions.length, 1, `worker-${index}: one healthy transition per run`)
          })

          // The subscription reconnected (with backoff) and resumed from the last event's time.
          yield* Effect.sleep("200 millis").pipe(
            Effect.repeat({
              until: () => logged.some((line) => line.includes("reconnecting to the engine's events"))
            }),
            Effect.timeout("20 seconds")
          )
          const reconnect = logged.find((line) => line.includes("reconnecting to the engine's events")) ?? ""
          // An exact nanosecond time (seconds since the epoch: ten digits, then nine of nanoseconds).
          assert.match(reconnect, /"sinceNano":\s*"1\d{18}"/, "the reconnection resumes with since")

          // And it works: a container started now gets its health through it.
          const after = yield* supervisor.run(spec("after-restart")).pipe(
            Stream.takeUntil((state) => state.health === "healthy"),
            Stream.runCollect,
            Effect.timeout("30 seconds")
          )
          assert.strictEqual(after.at(-1)?.health, "healthy")
          assert.isAtLeast(yield* supervisor.eventsConnections, 2)
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture], { mergeWithExisting: true })))
        yield* assertNoLeftovers(restartLabels)
      }).pipe(Effect.ensuring(secondEngine("start")), Effect.provide(secondEngineLayer())),
    120_000
  )
})
