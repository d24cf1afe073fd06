/**
 * The engine contract for `exec` and volumes, written once and run against MemoryEngine
 * (test/contract/memoryApi.test.ts, under TestClock) and against the real engine
 * (test/integration/contractApi.test.ts, real time). A test that passes on one and fails on
 * the other is a bug in MemoryEngine.
 *
 * On Docker the commands run in a busybox shell; on MemoryEngine the container's `exec`
 * script is {@link busyboxExec}, which answers them as busybox does. A command neither knows
 * (`missingCommand`) is answered by each engine on its own, and the two must agree.
 */
import { assert } from "@effect/vitest"
import { type Duration, Effect, Fiber, Option, Redacted, type Scope, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import type * as MemoryEngine from "../../src/MemoryEngine.js"
import { caseTester, nowSeconds, uniqueName } from "./engineContract.js"

/** What the contract needs from the engine under test; `R` is what the environment's own effects need. */
export interface ApiContractEnvironment<R> {
  readonly name: string
  /** Lets engine time pass: `TestClock.adjust` on memory, a real sleep on Docker. */
  readonly advance: (duration: Duration.Input) => Effect.Effect<void>
  /** A local image containers are created from. */
  readonly image: string
  /** Labels that mark what this suite creates. */
  readonly labels: Readonly<Record<string, string>>
  /**
   * Create options for a container named `name` that runs until stopped (exits on SIGTERM)
   * and answers `exec` as busybox does ({@link busyboxExec} on memory).
   */
  readonly runs: (name: string) => Effect.Effect<Partial<DockerEngine.CreateContainerOptions>, never, R>
}

/** A test registration: the runner provides the engine (and `R`) and a scope. */
export type Register<R> = (
  name: string,
  body: () => Effect.Effect<void, unknown, DockerEngine.DockerEngine | Scope.Scope | R>
) => void

/** Writes a line to each stream and exits 3. */
export const bothStreams = ["sh", "-c", "echo out; echo err >&2; exit 3"]
/** Prints `$GREETING`, the working directory and the user id. */
export const whereAndWho = ["sh", "-c", 'echo "$GREETING"; pwd; id -u']
/** Runs for 30 seconds. */
export const slowCommand = ["sleep", "30"]
/** Not in the image. */
export const missingCommand = ["effect-docker-no-such-command"]

const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((part, i) => part === b[i])

/** MemoryEngine's exec script: how busybox answers the commands of this contract. */
export const busyboxExec: MemoryEngine.ExecScript = (command, options) => {
  if (same(command, bothStreams)) return { exitCode: 3, stdout: "out\n", stderr: "err\n" }
  if (same(command, whereAndWho)) {
    const greeting = options.env?.GREETING
    const text =
      greeting === undefined ? "" : typeof greeting === "string" ? greeting : Redacted.value(greeting)
    return { stdout: `${text}\n${options.workingDir ?? "/"}\n${options.user ?? "0"}\n` }
  }
  if (same(command, slowCommand)) return { after: "30 seconds" }
  return undefined
}

/** Registers every exec and volume contract test against `env`. */
export const engineContractApi = <R>(env: ApiContractEnvironment<R>, test: Register<R>): void => {
  const caseTest = caseTester(env, test)

  /** A labelled running container answering exec, force-removed when the test's scope closes. */
  const runningContainer = (labels: Readonly<Record<string, string>>, what: string, start = true) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const program = yield* env.runs(name)
      const { id } = yield* Effect.acquireRelease(
        engine.createContainer({ image: env.image, name, labels, stopTimeout: 1, ...program }),
        ({ id }) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
      )
      if (start) yield* engine.startContainer(id)
      return id
    })

  /** A labelled volume, force-removed when the test's scope closes. */
  const volume = (options: DockerEngine.CreateVolumeOptions) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      return yield* Effect.acquireRelease(engine.createVolume(options), ({ name }) =>
        engine.removeVolume(name, { force: true }).pipe(Effect.ignore)
      )
    })

  caseTest("exec returns the exit code and both streams, and the engine reports exec_die", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec")
      const since = (yield* nowSeconds) - 1
      const result = yield* engine.exec(id, bothStreams)
      assert.deepStrictEqual(result, { exitCode: 3, stdout: "out\n", stderr: "err\n" })
      const died = yield* engine
        .events({ labels: own, types: ["container"], actions: ["exec_die"], since })
        .pipe(Stream.runHead)
      assert.strictEqual(Option.getOrUndefined(died)?.attributes.exitCode, "3")
      assert.strictEqual(Option.getOrUndefined(died)?.actorId, id)
    })
  )

  caseTest("exec passes env (Redacted too), working directory and user", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec-options")
      const plain = yield* engine.exec(id, whereAndWho)
      assert.deepStrictEqual(plain, { exitCode: 0, stdout: "\n/\n0\n", stderr: "" })
      const given = yield* engine.exec(id, whereAndWho, {
        env: { GREETING: Redacted.make("hello") },
        workingDir: "/tmp",
        user: "1000"
      })
      assert.deepStrictEqual(given, { exitCode: 0, stdout: "hello\n/tmp\n1000\n", stderr: "" })
    })
  )

  caseTest("exec with a tty gives stderr inside stdout", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec-tty")
      const result = yield* engine.exec(id, bothStreams, { tty: true })
      assert.deepStrictEqual(result, { exitCode: 3, stdout: "out\nerr\n", stderr: "" })
    })
  )

  caseTest("exec of a command the image lacks exits 126 with the engine's message, not an error", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec-missing")
      const result = yield* engine.exec(id, missingCommand)
      assert.strictEqual(result.exitCode, 126)
      assert.include(result.stdout, `"${missingCommand[0]}": executable file not found in $PATH`)
      assert.strictEqual(result.stderr, "")
    })
  )

  caseTest("exec on a container that is not running is a Conflict, on a missing one NotFound", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec-stopped", false)
      const created = yield* Effect.flip(engine.exec(id, bothStreams))
      assert.strictEqual(created.reason, "Conflict")
      assert.strictEqual(created.operation, "exec")
      assert.include(created.message, "is not running")
      const missing = yield* Effect.flip(engine.exec(uniqueName("missing"), bothStreams))
      assert.strictEqual(missing.reason, "NotFound")
      const empty = yield* Effect.flip(engine.exec(id, []))
      assert.strictEqual(empty.reason, "BadRequest")
    })
  )

  caseTest("interrupting exec returns at once; the command keeps running in the container", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* runningContainer(own, "exec-interrupt")
      const since = (yield* nowSeconds) - 1
      const slow = yield* Effect.forkChild(engine.exec(id, slowCommand))
      yield* env.advance("1 second")
      yield* Fiber.interrupt(slow)
      // The engine has no way to stop an exec: its `exec_die` has not happened.
      const until = yield* nowSeconds
      const seen = yield* Stream.runCollect(
        engine.events({ labels: own, types: ["container"], since, until })
      )
      const actions = seen.map((event) => event.action)
      assert.include(actions, `exec_start: ${slowCommand.join(" ")}`)
      assert.notInclude(actions, "exec_die")
      assert.isTrue((yield* engine.inspectContainer(id)).state.running)
      assert.strictEqual((yield* engine.exec(id, bothStreams)).exitCode, 3)
    })
  )

  caseTest("a volume is created with labels and driver options, inspected, and found again by name", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName("volume")
      const options = { type: "tmpfs", device: "tmpfs", o: "size=1m" }
      const created = yield* volume({ name, labels: own, driverOptions: options })
      assert.strictEqual(created.name, name)
      assert.strictEqual(created.driver, "local")
      assert.strictEqual(created.scope, "local")
      assert.deepStrictEqual(created.labels, own)
      assert.deepStrictEqual(created.options, options)
      assert.isTrue(created.mountpoint.endsWith(`/${name}/_data`))
      assert.deepStrictEqual(yield* engine.inspectVolume(name), created)
      // Creating a name that exists gives the existing volume back, its labels unchanged.
      const again = yield* engine.createVolume({ name, labels: { ...own, other: "yes" } })
      assert.deepStrictEqual(again.labels, own)
    })
  )

  caseTest("a volume without a name gets a random one", (own) =>
    Effect.gen(function* () {
      const created = yield* volume({ labels: own })
      assert.match(created.name, /^[0-9a-f]{64}$/)
    })
  )

  caseTest("volumes are listed by label", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const first = yield* volume({ name: uniqueName("first"), labels: { ...own, role: "first" } })
      const second = yield* volume({ name: uniqueName("second"), labels: { ...own, role: "second" } })
      const all = yield* engine.listVolumes({ labels: own })
      assert.deepStrictEqual(all.map((v) => v.name).sort(), [first.name, second.name].sort())
      const onlySecond = yield* engine.listVolumes({ labels: { ...own, role: "second" } })
      assert.deepStrictEqual(
        onlySecond.map((v) => v.name),
        [second.name]
      )
      const anyRole = yield* engine.listVolumes({ labels: { ...own, role: true } })
      assert.strictEqual(anyRole.length, 2)
      assert.deepStrictEqual(yield* engine.listVolumes({ labels: { ...own, role: "third" } }), [])
    })
  )

  caseTest("removing a volume: gone after, a missing one is NotFound unless forced", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName("removed")
      yield* engine.createVolume({ name, labels: own })
      yield* engine.removeVolume(name)
      assert.strictEqual((yield* Effect.flip(engine.inspectVolume(name))).reason, "NotFound")
      assert.deepStrictEqual(yield* engine.listVolumes({ labels: own }), [])
      const missing = yield* Effect.flip(engine.removeVolume(name))
      assert.strictEqual(missing.reason, "NotFound")
      assert.strictEqual(missing.operation, "removeVolume")
      yield* engine.removeVolume(name, { force: true })
    })
  )

  caseTest("a volume name with invalid characters is a BadRequest", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const refused = yield* Effect.flip(engine.createVolume({ name: "not a name!", labels: own }))
      assert.strictEqual(refused.reason, "BadRequest")
      assert.deepStrictEqual(yield* engine.listVolumes({ labels: own }), [])
    })
  )
}
