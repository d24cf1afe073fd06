import { assert, layer } from "@effect/vitest"
import { Clock, Effect, type Scope, Stream, SubscriptionRef } from "effect"
import * as ContainerSpec from "../../src/ContainerSpec.js"
import * as ContainerState from "../../src/ContainerState.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as Readiness from "../../src/internal/supervisorReadiness.js"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const labels = testLabels("readiness")
const image = "busybox:latest"

/** Runs `f` with a fresh Supervisor instance in a scope of its own. */
const withSupervisor = <A, E>(
  f: (supervisor: Supervisor.SupervisorShape) => Effect.Effect<A, E, DockerEngine.DockerEngine | Scope.Scope>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      return yield* f(yield* Supervisor.make({ app: "test-readiness", labels }))
    })
  )

/**
 * A container created straight on the engine with port 80 published on a random host port
 * (the spec has no `ports` yet), started, removed with the scope; and its state as the
 * lifecycle would publish it.
 */
const publishedContainer = (command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const id = yield* Effect.acquireRelease(
      engine
        .createContainer({ image, labels, cmd: command, ports: { "80/tcp": undefined } })
        .pipe(Effect.map(({ id }) => id)),
      (id) => engine.removeContainer(id, { force: true }).pipe(Effect.orDie)
    )
    yield* engine.startContainer(id)
    const startedAt = new Date(yield* Clock.currentTimeMillis)
    return yield* SubscriptionRef.make(
      ContainerState.started(ContainerState.created(ContainerState.initial("web", image), id), startedAt)
    )
  })

layer(liveLayer, { excludeTestServices: true })("readiness (live engine)", (it) => {
  it.effect("a log line awaited twice, printed once before the exit: NotReadyError", () =>
    withSupervisor((supervisor) =>
      Effect.gen(function* () {
        const error = yield* supervisor
          .start({
            name: "once",
            image,
            command: ["sh", "-c", "echo ready; sleep 1; exit 0"],
            readiness: { logLine: "ready", times: 2 }
          })
          .pipe(Effect.flip)
        assert.strictEqual(error._tag, "NotReadyError")
        if (error._tag !== "NotReadyError") return
        assert.strictEqual(error.readiness, "ready (log line ready, 2 times)")
        assert.strictEqual(error.outcome, "exited with code 0")
        assert.deepStrictEqual(error.lastLogLines, ["ready"])
      })
    )
  )

  it.effect("a log line awaited twice resolves start at the second", () =>
    withSupervisor((supervisor) =>
      Effect.gen(function* () {
        const handle = yield* supervisor.start({
          name: "twice",
          image,
          command: ["sh", "-c", "echo ready; sleep 1; echo ready; sleep 60"],
          stopTimeout: "1 second",
          readiness: { logLine: "ready", times: 2 }
        })
        const lines = yield* handle.logs().pipe(
          Stream.map((line) => line.text),
          Stream.runCollect
        )
        assert.deepStrictEqual(lines, ["ready", "ready"])
      })
    )
  )

  it.effect("healthy on a container without a healthcheck fails at once", () =>
    withSupervisor((supervisor) =>
      Effect.gen(function* () {
        const error = yield* supervisor
          .start({
            name: "plain",
            image,
            command: ["sleep", "60"],
            readiness: "healthy",
            stopTimeout: "1 second"
          })
          .pipe(Effect.flip)
        assert.strictEqual(error._tag, "NotReadyError")
        // Not "exited with code 0" after the minute of `sleep 60`: it failed while the container ran.
        assert.include(error.message, "no healthcheck")
      })
    )
  )

  it.effect("command: ready once an exec of it exits 0", () =>
    withSupervisor((supervisor) =>
      Effect.gen(function* () {
        const handle = yield* supervisor.start({
          name: "flagged",
          image,
          command: ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 60"],
          readiness: { command: ["test", "-f", "/tmp/ready"], timeout: "20 seconds" },
          stopTimeout: "1 second"
        })
        const engine = yield* DockerEngine.DockerEngine
        assert.strictEqual((yield* engine.exec(handle.id, ["test", "-f", "/tmp/ready"])).exitCode, 0)
      })
    )
  )

  it.effect("http: ready once the published port answers 200, through the engine's published port", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const latest = yield* publishedContainer([
          "sh",
          "-c",
          "mkdir -p /www && echo ok > /www/index.html && sleep 1 && httpd -f -p 80 -h /www"
        ])
        const spec = yield* ContainerSpec.validate({
          name: "web",
          image,
          readiness: { http: { port: 80, path: "/index.html" }, timeout: "20 seconds" }
        })
        const state = yield* Readiness.whenReady(engine, spec, latest)
        const [published] = (yield* engine.inspectContainer(state.id ?? "")).ports
        assert.strictEqual(published?.containerPort, 80)
        const response = yield* Effect.promise(() =>
          fetch(
            `http://${Readiness.connectHost(engine.publishedHost, published?.hostIp ?? "")}:${published?.hostPort}/index.html`
          )
        )
        assert.strictEqual(response.status, 200)
        assert.strictEqual((yield* Effect.promise(() => response.text())).trim(), "ok")
      })
    )
  )

  it.effect(
    "port: a published port nothing listens behind is not ready (the engine's proxy accepts, then closes)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const engine = yield* DockerEngine.DockerEngine
          const latest = yield* publishedContainer(["sleep", "60"])
          const spec = yield* ContainerSpec.validate({
            name: "web",
            image,
            readiness: { port: 80, timeout: "3 seconds" }
          })
          const error = yield* Readiness.whenReady(engine, spec, latest).pipe(Effect.flip)
          assert.strictEqual(error._tag, "NotReadyError")
          if (error._tag !== "NotReadyError") return
          // With the userland proxy the connect opens and is closed at once; without it, it is refused.
          assert.match(error.outcome, /^not met within 3s \(last attempt: .*(closed at once|ECONNREFUSED)/)
        })
      )
  )

  it.effect("port: ready once something listens", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const latest = yield* publishedContainer(["sh", "-c", "sleep 1; exec httpd -f -p 80"])
        const spec = yield* ContainerSpec.validate({
          name: "web",
          image,
          readiness: { port: 80, timeout: "20 seconds" }
        })
        const state = yield* Readiness.whenReady(engine, spec, latest)
        assert.strictEqual(state.status, "running")
      })
    )
  )

  it.effect("no container or network with the suite's labels remains", () => assertNoLeftovers(labels))
})
