/**
 * Bad input on the real engine: each mistake is a typed error naming the problem, raised
 * before any container is created (the engine's own `create` events say so), and nothing is
 * left. And secrets: `Redacted` env values reach the container but no log, error or state.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Logger, Redacted, References, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as RestartPolicy from "../../src/RestartPolicy.js"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const image = "busybox:latest"
const appKey = "dev.effect-docker.app"
const instanceKey = "dev.effect-docker.instance"

type Spec = Parameters<Supervisor.SupervisorShape["run"]>[0]

/** The typed failure of a run (a success or a defect fails the test). */
const runFailure = (supervisor: Supervisor.SupervisorShape, spec: Spec) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(supervisor.run(spec).pipe(Stream.runDrain))
    if (Exit.isSuccess(exit)) return assert.fail(`${spec.name}: expected a typed error, the run succeeded`)
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "None")
      return assert.fail(`${spec.name}: expected a typed error, got ${String(exit.cause)}`)
    return failure.value
  })

/** Container `create` events of an instance between two times (Unix seconds). */
const createsOf = (instanceId: string, since: number) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const until = Date.now() / 1000 + 0.5
    return yield* engine
      .events({
        labels: { [instanceKey]: instanceId },
        types: ["container"],
        actions: ["create"],
        since,
        until
      })
      .pipe(
        Stream.map((event) => event.attributes.name ?? event.actorId),
        Stream.runCollect
      )
  })

/** `docker import` of an empty root filesystem: an image with no command at all. Removed with the scope. */
const imageWithoutCommand = Effect.acquireRelease(
  Effect.callback<string>((resume) => {
    const reference = `effect-docker-reliability/no-command:${process.pid}-${randomBytes(3).toString("hex")}`
    const docker = execFile(
      "/bin/sh",
      ["-c", `tar -c -T /dev/null | docker import - ${reference}`],
      (error) => resume(error === null ? Effect.succeed(reference) : Effect.die(error))
    )
    docker.stdin?.end()
  }),
  (reference) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.removeImage(reference, { force: true }).pipe(Effect.ignore)
    })
)

layer(liveLayer, { excludeTestServices: true, concurrent: true })(
  "reliability: bad input (live engine)",
  (it) => {
    it.effect(
      "each bad spec is a typed error naming the problem, raised before any container is created",
      () =>
        Effect.gen(function* () {
          const labels = testLabels("reliability-input")
          const noCommand = yield* imageWithoutCommand
          yield* Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({
              app: labels[appKey] ?? "test-reliability-input",
              labels
            })
            const since = Date.now() / 1000 - 1
            const invalid = (spec: Spec) =>
              runFailure(supervisor, spec).pipe(
                Effect.map(
                  (error) => [spec.name, error._tag, "field" in error ? error.field : error.message] as const
                )
              )
            const results = yield* Effect.all(
              [
                invalid({ name: "uppercase-image", image: "Busybox:latest" }),
                invalid({ name: "spaced-image", image: "busy box" }),
                invalid({ name: "dotdot", image, files: [{ path: "/etc/../root/.profile", content: "x" }] }),
                invalid({ name: "nul-path", image, files: [{ path: "/tmp/a\0b", content: "x" }] }),
                invalid({ name: "relative-path", image, files: [{ path: "tmp/a", content: "x" }] }),
                invalid({ name: "negative-memory", image, resources: { memoryBytes: -1 } }),
                invalid({ name: "absurd-memory", image, resources: { memoryBytes: 1e18 } }),
                invalid({
                  name: "two-restart-policies",
                  image,
                  restartPolicy: RestartPolicy.always(),
                  engineRestartPolicy: "always"
                }),
                invalid({ name: "env-newline", image, env: { GREETING: "hello\nworld" } }),
                invalid({ name: "env-nul", image, env: { TOKEN: Redacted.make("abc\0def") } }),
                invalid({ name: "bad/name", image })
              ],
              { concurrency: "unbounded" }
            )
            assert.deepStrictEqual(
              results.map(([name, tag, field]) => [name, tag, tag === "InvalidSpec" ? field : "-"]),
              [
                ["uppercase-image", "InvalidSpec", "image"],
                ["spaced-image", "InvalidSpec", "image"],
                ["dotdot", "InvalidSpec", "files[0].path"],
                ["nul-path", "InvalidSpec", "files[0].path"],
                ["relative-path", "InvalidSpec", "files[0].path"],
                ["negative-memory", "InvalidSpec", "resources.memoryBytes"],
                ["absurd-memory", "InvalidSpec", "resources.memoryBytes"],
                ["two-restart-policies", "InvalidSpec", "engineRestartPolicy"],
                ["env-newline", "InvalidSpec", "env.GREETING"],
                ["env-nul", "InvalidSpec", "env.TOKEN"],
                ["bad/name", "InvalidSpec", "name"]
              ]
            )

            // Mistakes only the engine can see: still typed, still no container.
            const missing = yield* runFailure(supervisor, {
              name: "missing-image",
              image: "127.0.0.1:5000/effect-docker/no-such-repository:latest"
            })
            assert.strictEqual(missing._tag, "PullError")
            assert.include(missing.message, "no-such-repository")
            const missingNever = yield* runFailure(supervisor, {
              name: "missing-image-never-pull",
              image: "effect-docker-reliability/never-pulled:latest",
              pullPolicy: "never"
            })
            assert.strictEqual(missingNever._tag, "PullError")

            const commandless = yield* runFailure(supervisor, { name: "no-command", image: noCommand })
            // Only the engine knows the image has no command: it refuses the create.
            assert.strictEqual(commandless._tag, "CreateError")
            if (commandless._tag === "CreateError") assert.strictEqual(commandless.cause.reason, "BadRequest")
            const emptyCommand = yield* runFailure(supervisor, {
              name: "empty-command",
              image: noCommand,
              command: []
            })
            // An empty command means "the image's", which this image lacks: the engine refuses it too.
            assert.strictEqual(emptyCommand._tag, "CreateError")
            if (emptyCommand._tag === "CreateError")
              assert.strictEqual(emptyCommand.cause.reason, "BadRequest")

            const creates = yield* createsOf(supervisor.instanceId, since)
            assert.deepStrictEqual(creates, [], "no container was created for a bad spec")
            assert.deepStrictEqual(yield* supervisor.list(), [])
          }).pipe(Effect.scoped)
          yield* assertNoLeftovers(labels)
        }).pipe(Effect.scoped),
      60_000
    )

    it.effect(
      "a name already taken is a CreateError (Conflict) and the container holding it is untouched",
      () =>
        Effect.gen(function* () {
          const labels = testLabels("reliability-name")
          const engine = yield* DockerEngine.DockerEngine
          yield* Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({
              app: labels[appKey] ?? "test-reliability-name",
              labels
            })
            const first = yield* supervisor.start({
              name: "only",
              image,
              command: ["sleep", "300"],
              stopTimeout: "1 second"
            })
            const since = Date.now() / 1000
            const second = yield* runFailure(supervisor, { name: "only", image, command: ["true"] })
            assert.strictEqual(second._tag, "CreateError")
            if (second._tag === "CreateError") assert.strictEqual(second.cause.reason, "Conflict")
            assert.strictEqual((yield* engine.inspectContainer(first.id)).state.status, "running")
            assert.lengthOf(yield* supervisor.list(), 1)
            assert.deepStrictEqual(yield* createsOf(supervisor.instanceId, since), [])
          }).pipe(Effect.scoped)
          yield* assertNoLeftovers(labels)
        })
    )

    it.effect(
      "an unknown network is a typed NotFound (at start, on dockerd 20.10), and a Supervisor whose network was removed fails its runs typed, leaving nothing",
      () =>
        Effect.gen(function* () {
          const labels = testLabels("reliability-network")
          const engine = yield* DockerEngine.DockerEngine
          // dockerd 20.10 accepts the create (even with the network in the endpoints config, as
          // the Supervisor sends it) and refuses the start: typed, and the container is removed.
          const id = yield* Effect.acquireRelease(
            engine
              .createContainer({
                image,
                cmd: ["true"],
                labels,
                networkMode: `no-such-network-${process.pid}`,
                networkAliases: ["x"]
              })
              .pipe(Effect.map((created) => created.id)),
            (id) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
          )
          const refused = yield* engine.startContainer(id).pipe(Effect.flip)
          assert.strictEqual(refused.reason, "NotFound")
          assert.include(refused.message, "no-such-network")
          yield* engine.removeContainer(id, { force: true })

          yield* Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({
              app: labels[appKey] ?? "test-reliability-network",
              labels
            })
            // Someone removes the instance's network.
            yield* engine.removeNetwork(supervisor.network)
            const error = yield* runFailure(supervisor, { name: "homeless", image, command: ["true"] })
            // As above: dockerd 20.10 creates the container and refuses its start.
            assert.strictEqual(error._tag, "StartError")
            if (error._tag === "StartError") assert.strictEqual(error.cause.reason, "NotFound")
            assert.deepStrictEqual(yield* supervisor.list(), [])
          }).pipe(Effect.scoped)
          yield* assertNoLeftovers(labels)
        }).pipe(Effect.scoped)
    )

    it.effect("a Redacted env value reaches the container but never a log line, an error or a state", () =>
      Effect.gen(function* () {
        const labels = testLabels("reliability-secret")
        const secret = `hunter2-${randomBytes(6).toString("hex")}`
        const logged: Array<string> = []
        const capture = Logger.make((options) => {
          logged.push(String(Logger.formatJson.log(options)))
        })
        const states = yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.make({
            app: labels[appKey] ?? "test-reliability-secret",
            labels
          })
          const env = { SECRET: Redacted.make(secret) }
          // Exit 3 only if the container saw the real value; it also prints it, on both streams.
          const states = yield* supervisor
            .run({
              name: "keeper",
              image,
              env,
              command: [
                "sh",
                "-c",
                `echo "token=$SECRET"; echo "$SECRET" >&2; [ "$SECRET" = "${secret}" ] && exit 3; exit 1`
              ]
            })
            .pipe(Stream.runCollect)
          // And an error while the secret is in the spec: the name is taken.
          const holder = yield* supervisor.start({
            name: "taken",
            image,
            command: ["sleep", "300"],
            stopTimeout: "1 second"
          })
          const conflict = yield* runFailure(supervisor, { name: "taken", image, env, command: ["true"] })
          const invalidValue = yield* runFailure(supervisor, {
            name: "bad-secret",
            image,
            env: { SECRET: Redacted.make(`${secret}\n`) }
          })
          yield* holder.stop
          return { states, errors: [conflict, invalidValue] }
        }).pipe(
          Effect.scoped,
          Effect.provide(Logger.layer([capture])),
          Effect.provideService(References.MinimumLogLevel, "All")
        )
        const final = states.states.at(-1)
        assert.strictEqual(final?.exitCode, 3, "the container saw the real value")
        assert.isAbove(final?.lastLogLines.length ?? 0, 0, "the last log lines were kept")
        const seen = [
          ...states.states.map((state) => JSON.stringify(state)),
          ...states.states.map((state) => String(state)),
          ...states.errors.map((error) => JSON.stringify(error)),
          ...states.errors.map((error) => String(error)),
          ...states.errors.map((error) => error.message),
          ...logged
        ]
        assert.isAbove(logged.length, 0, "the logs were captured")
        assert.deepStrictEqual(
          seen.filter((text) => text.includes(secret)),
          []
        )
        yield* assertNoLeftovers(labels)
      })
    )
  }
)
