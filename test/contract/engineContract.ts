/**
 * The engine contract: every behaviour of `DockerEngine` the Supervisor relies on, written
 * once and run against `MemoryEngine` (test/MemoryEngine.contract.test.ts, under TestClock)
 * and against the real engine (test/integration/contract.test.ts, real time). A test that
 * passes on one and fails on the other is a bug in MemoryEngine.
 *
 * What differs between the two lives in a {@link ContractEnvironment}: how time passes, which
 * images to use, and how a container is made to behave (a shell command on Docker, a script
 * on MemoryEngine).
 */
import { assert } from "@effect/vitest"
import { Clock, type Duration, Effect, Fiber, Redacted, type Scope, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"

/**
 * How a contract container behaves. On Docker each is a busybox command; on MemoryEngine a
 * script registered for the container's name.
 */
export type Behaviour =
  /** Runs until stopped; `onStop: "exit"` exits on SIGTERM (143), `"ignore"` must be killed (137). */
  | { readonly _tag: "Runs"; readonly onStop: "exit" | "ignore" }
  /** Exits by itself after `seconds` with `code`. */
  | { readonly _tag: "Exits"; readonly seconds: number; readonly code: number }
  /** Writes the stdout lines, then the stderr lines, then exits with `code` after `seconds`. */
  | {
      readonly _tag: "Prints"
      readonly stdout: ReadonlyArray<string>
      readonly stderr: ReadonlyArray<string>
      readonly seconds: number
      readonly code: number
    }
  /** Runs with a healthcheck that passes (healthy) or fails (unhealthy) at its first probe, 500 ms in. */
  | { readonly _tag: "Checked"; readonly passes: boolean }

/**
 * What the contract needs from the engine under test. `R` is what the environment's own
 * effects need beside `DockerEngine` (the MemoryEngine control service on memory).
 */
export interface ContractEnvironment<R> {
  readonly name: string
  /** Lets engine time pass: `TestClock.adjust` on memory, a real sleep on Docker. */
  readonly advance: (duration: Duration.Input) => Effect.Effect<void>
  /** Runs `effect`, which completes after about `duration` of engine time (memory: forks and adjusts the clock). */
  readonly during: <A, E, R2>(
    effect: Effect.Effect<A, E, R2>,
    duration: Duration.Input
  ) => Effect.Effect<A, E, R2>
  /** A local image containers are created from. */
  readonly image: string
  /** An image the registry serves (`registryImage("contract")` on Docker). */
  readonly pullImage: string
  /** A reference no registry serves. */
  readonly missingImage: string
  /** An image its registry serves only with credentials: the user's name (any password is wrong but theirs). */
  readonly privateImage: { readonly reference: string; readonly username: string }
  /** Labels that mark what this suite creates. */
  readonly labels: Readonly<Record<string, string>>
  /** Create options for a container named `name` that behaves so. */
  readonly program: (
    name: string,
    behaviour: Behaviour
  ) => Effect.Effect<Partial<DockerEngine.CreateContainerOptions>, never, R>
  /**
   * A file copied into container `id`, read back: its bytes and permission bits, or undefined
   * when there is none at `path` (the engine's archive on Docker, the file table on memory).
   */
  readonly readFile: (
    id: string,
    path: string
  ) => Effect.Effect<{ readonly content: Uint8Array; readonly mode: number } | undefined, unknown, R>
}

/** A test registration: the runner provides the engine (and `R`) and a scope. */
export type Register<R> = (
  name: string,
  body: () => Effect.Effect<void, unknown, DockerEngine.DockerEngine | Scope.Scope | R>
) => void

let sequence = 0
/** A container or network name unique to this process and run. */
export const uniqueName = (what: string): string => {
  sequence += 1
  return `contract-${process.pid}-${Date.now().toString(36)}-${sequence}-${what}`
}

/** The clock's time in seconds (the engine's `since`/`until` unit). */
export const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)

/** Registers a case whose body gets labels of its own: cases run concurrently on a real engine. */
export const caseTester =
  <R>(env: { readonly labels: Readonly<Record<string, string>> }, test: Register<R>) =>
  (
    name: string,
    body: (
      labels: Readonly<Record<string, string>>
    ) => Effect.Effect<void, unknown, DockerEngine.DockerEngine | Scope.Scope | R>
  ) =>
    test(name, () => body({ ...env.labels, "dev.effect-docker.case": uniqueName("case") }))

/** Registers every contract test against `env`. */
export const engineContract = <R>(env: ContractEnvironment<R>, test: Register<R>): void => {
  const caseTest = caseTester(env, test)

  /** A labelled container behaving so, force-removed when the test's scope closes. */
  const container = (
    labels: Readonly<Record<string, string>>,
    what: string,
    behaviour: Behaviour,
    extra: Partial<DockerEngine.CreateContainerOptions> = {}
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const program = yield* env.program(name, behaviour)
      const { id } = yield* Effect.acquireRelease(
        engine.createContainer({ image: env.image, name, labels, stopTimeout: 1, ...program, ...extra }),
        ({ id }) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
      )
      return { id, name }
    })

  /**
   * Subscribes now (with `since` a second back, so a slow subscription misses nothing) and
   * collects events until `last` holds. Fork it before acting, join it after.
   */
  const recordEvents = (
    filter: Omit<DockerEngine.EventsOptions, "since" | "until">,
    last: (event: DockerEngine.EngineEvent) => boolean
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const since = (yield* nowSeconds) - 1
      return yield* Effect.forkChild(
        Stream.runCollect(engine.events({ ...filter, since }).pipe(Stream.takeUntil(last)))
      )
    })

  /** Events of this suite's containers between `since` and now (replayed, so nothing races). */
  const pastEvents = (
    labels: Readonly<Record<string, string>>,
    since: number,
    filter: Omit<DockerEngine.EventsOptions, "since" | "until"> = {}
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const until = yield* nowSeconds
      return yield* Stream.runCollect(engine.events({ labels, ...filter, since, until }))
    })

  caseTest(
    "a container goes created → running → exited (143 on SIGTERM) → removed, and lists follow",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { id, name } = yield* container(own, "lifecycle", { _tag: "Runs", onStop: "exit" })
        const created = yield* engine.inspectContainer(id)
        assert.strictEqual(created.state.status, "created")
        assert.isFalse(created.state.running)
        assert.strictEqual(created.state.exitCode, 0)
        assert.strictEqual(created.state.startedAt, "0001-01-01T00:00:00Z")
        assert.strictEqual(created.name, name)
        assert.deepStrictEqual(created.labels, own)
        assert.strictEqual(created.image, env.image)
        assert.match(created.imageId, /^sha256:[0-9a-f]{64}$/)
        assert.strictEqual(created.restartPolicy, "no")
        assert.deepStrictEqual(yield* engine.listContainers({ labels: own }), [])
        const [listedCreated] = yield* engine.listContainers({ all: true, labels: own })
        assert.strictEqual(listedCreated?.state, "created")
        assert.deepStrictEqual(listedCreated?.names, [name])

        yield* engine.startContainer(id)
        const running = yield* engine.inspectContainer(id)
        assert.strictEqual(running.state.status, "running")
        assert.isTrue(running.state.running)
        assert.isAbove(running.state.pid, 0)
        assert.notStrictEqual(running.state.startedAt, "0001-01-01T00:00:00Z")
        assert.match(running.networks.bridge?.ipAddress ?? "", /^\d+\.\d+\.\d+\.\d+$/)
        const [listedRunning] = yield* engine.listContainers({ labels: own })
        assert.strictEqual(listedRunning?.id, id)
        assert.strictEqual(listedRunning?.state, "running")
        assert.match(listedRunning?.status ?? "", /^Up /)
        // Starting a running container is not an error (the engine answers 304).
        yield* engine.startContainer(id)

        yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
        const stopped = yield* engine.inspectContainer(id)
        assert.strictEqual(stopped.state.status, "exited")
        assert.strictEqual(stopped.state.exitCode, 143)
        assert.strictEqual(stopped.state.pid, 0)
        assert.strictEqual(stopped.networks.bridge?.ipAddress, "")
        assert.deepStrictEqual(yield* engine.listContainers({ labels: own }), [])
        const [listedExited] = yield* engine.listContainers({ all: true, labels: own })
        assert.strictEqual(listedExited?.state, "exited")
        assert.match(listedExited?.status ?? "", /^Exited \(143\) /)
        // Stopping a stopped container is not an error either.
        yield* engine.stopContainer(id)

        yield* engine.removeContainer(id)
        const gone = yield* Effect.flip(engine.inspectContainer(id))
        assert.strictEqual(gone.reason, "NotFound")
        assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: own }), [])
      })
  )

  caseTest("wait: next-exit returns the exit code, not-running returns at once when not running", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "wait", { _tag: "Exits", seconds: 1, code: 3 })
      const notStarted = yield* engine.waitContainer(id, { condition: "not-running" })
      assert.strictEqual(notStarted.exitCode, 0)
      yield* engine.startContainer(id)
      const result = yield* env.during(engine.waitContainer(id), "1500 millis")
      assert.strictEqual(result.exitCode, 3)
      assert.isUndefined(result.error)
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.status, "exited")
      assert.strictEqual(inspect.state.exitCode, 3)
      assert.notStrictEqual(inspect.state.finishedAt, "0001-01-01T00:00:00Z")
      const again = yield* engine.waitContainer(id, { condition: "not-running" })
      assert.strictEqual(again.exitCode, 3)
    })
  )

  caseTest("wait removed resolves when the container is force-removed", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "wait-removed", { _tag: "Runs", onStop: "ignore" })
      yield* engine.startContainer(id)
      const waiting = yield* Effect.forkChild(engine.waitContainer(id, { condition: "removed" }))
      yield* env.advance("200 millis")
      yield* engine.removeContainer(id, { force: true })
      const result = yield* Fiber.join(waiting)
      assert.strictEqual(result.exitCode, 137)
    })
  )

  caseTest("stop kills a container that ignores SIGTERM after the timeout (137)", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "stubborn", { _tag: "Runs", onStop: "ignore" })
      yield* engine.startContainer(id)
      const started = yield* Clock.currentTimeMillis
      yield* env.during(engine.stopContainer(id, { timeout: 1 }), "1 second")
      const took = (yield* Clock.currentTimeMillis) - started
      assert.isAtLeast(took, 900)
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.status, "exited")
      assert.strictEqual(inspect.state.exitCode, 137)
    })
  )

  caseTest("kill ends a running container with 137; killing a stopped one is a Conflict", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "kill", { _tag: "Runs", onStop: "ignore" })
      const notRunning = yield* Effect.flip(engine.killContainer(id))
      assert.strictEqual(notRunning.reason, "Conflict")
      yield* engine.startContainer(id)
      yield* engine.killContainer(id)
      const result = yield* engine.waitContainer(id, { condition: "not-running" })
      assert.strictEqual(result.exitCode, 137)
      assert.strictEqual((yield* engine.inspectContainer(id)).state.exitCode, 137)
    })
  )

  caseTest("remove: a running container needs force (Conflict without); unknown ids are NotFound", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "remove", { _tag: "Runs", onStop: "ignore" })
      yield* engine.startContainer(id)
      const refused = yield* Effect.flip(engine.removeContainer(id))
      assert.strictEqual(refused.reason, "Conflict")
      assert.strictEqual(refused.statusCode, 409)
      assert.strictEqual((yield* engine.inspectContainer(id)).state.running, true)
      yield* engine.removeContainer(id, { force: true })
      assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: own }), [])
      const unknown = yield* Effect.flip(engine.removeContainer(id))
      assert.strictEqual(unknown.reason, "NotFound")
      assert.strictEqual(unknown.statusCode, 404)
      assert.strictEqual((yield* Effect.flip(engine.startContainer(id))).reason, "NotFound")
      assert.strictEqual((yield* Effect.flip(engine.stopContainer(id))).reason, "NotFound")
      assert.strictEqual((yield* Effect.flip(engine.waitContainer(id))).reason, "NotFound")
    })
  )

  caseTest(
    "create: a taken name is a Conflict, an unknown image is NotFound, a bad name is BadRequest",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { name } = yield* container(own, "named", { _tag: "Runs", onStop: "exit" })
        const taken = yield* Effect.flip(engine.createContainer({ image: env.image, name, labels: own }))
        assert.strictEqual(taken.reason, "Conflict")
        assert.include(taken.message, name)
        const missing = yield* Effect.flip(
          engine.createContainer({ image: env.missingImage, name: uniqueName("missing"), labels: own })
        )
        assert.strictEqual(missing.reason, "NotFound")
        assert.include(missing.message, "No such image")
        const badName = yield* Effect.flip(
          engine.createContainer({ image: env.image, name: "no spaces here", labels: own })
        )
        assert.strictEqual(badName.reason, "BadRequest")
        assert.strictEqual((yield* engine.listContainers({ all: true, labels: own })).length, 1)
      })
  )

  caseTest("label filters: `true` matches any value of the key, a string matches exactly", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const a = yield* container(
        own,
        "label-a",
        { _tag: "Runs", onStop: "exit" },
        {
          labels: { ...own, "dev.effect-docker.component": "a" }
        }
      )
      const b = yield* container(
        own,
        "label-b",
        { _tag: "Runs", onStop: "exit" },
        {
          labels: { ...own, "dev.effect-docker.component": "b" }
        }
      )
      const ids = (list: ReadonlyArray<DockerEngine.ContainerSummary>) => list.map((c) => c.id).sort()
      const any = yield* engine.listContainers({
        all: true,
        labels: { ...own, "dev.effect-docker.component": true }
      })
      assert.deepStrictEqual(ids(any), [a.id, b.id].sort())
      const onlyA = yield* engine.listContainers({
        all: true,
        labels: { ...own, "dev.effect-docker.component": "a" }
      })
      assert.deepStrictEqual(ids(onlyA), [a.id])
      const none = yield* engine.listContainers({
        all: true,
        labels: { ...own, "dev.effect-docker.absent": true }
      })
      assert.deepStrictEqual(none, [])
      const [summary] = onlyA
      assert.strictEqual(summary?.labels["dev.effect-docker.component"], "a")
    })
  )

  caseTest("stats: the first streamed sample has an empty precpu, the next carries the previous cpu", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "stats", { _tag: "Runs", onStop: "exit" })
      yield* engine.startContainer(id)
      const samples = yield* env.during(Stream.runCollect(Stream.take(engine.stats(id), 2)), "2500 millis")
      const [first, second] = samples
      assert.isDefined(first)
      assert.isDefined(second)
      if (first === undefined || second === undefined) return
      assert.strictEqual(first.precpu.totalUsage, 0)
      assert.isUndefined(first.precpu.systemUsage)
      assert.isAbove(first.cpu.totalUsage, 0)
      assert.isAbove(first.cpu.systemUsage ?? 0, 0)
      assert.isAbove(first.cpu.onlineCpus ?? first.cpu.percpuUsage?.length ?? 0, 0)
      assert.isAbove(first.memory.usage ?? 0, 0)
      assert.isAbove(first.memory.limit ?? 0, 0)
      assert.isTrue(first.memory.totalInactiveFile !== undefined || first.memory.inactiveFile !== undefined)
      assert.isDefined(first.networks?.eth0)
      assert.isAbove(first.pids ?? 0, 0)
      assert.isFalse(Number.isNaN(Date.parse(first.read)))
      assert.deepStrictEqual(second.precpu.totalUsage, first.cpu.totalUsage)
      assert.deepStrictEqual(second.precpu.systemUsage, first.cpu.systemUsage)
      assert.isAbove(second.cpu.systemUsage ?? 0, first.cpu.systemUsage ?? 0)
      assert.isAbove(Date.parse(second.read), Date.parse(first.read))

      const once = yield* engine.statsOnce(id)
      assert.isAbove(once.cpu.totalUsage, 0)
      assert.isAbove(once.memory.usage ?? 0, 0)
    })
  )

  caseTest("stats of a stopped container are empty samples; the stream ends when it is removed", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "stats-stopped", { _tag: "Runs", onStop: "exit" })
      const sample = yield* engine.statsOnce(id)
      assert.strictEqual(sample.cpu.totalUsage, 0)
      assert.isUndefined(sample.memory.usage)
      assert.isUndefined(sample.networks)
      const missing = yield* Effect.flip(
        Stream.runCollect(Stream.take(engine.stats("contract-no-such-container"), 1))
      )
      assert.strictEqual(missing.reason, "NotFound")
    })
  )

  caseTest("logs: stdout and stderr lines, selectable; follow ends when the container exits", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "logs", {
        _tag: "Prints",
        stdout: ["one", "two"],
        stderr: ["oops"],
        seconds: 1,
        code: 0
      })
      yield* engine.startContainer(id)
      const followed = yield* env.during(Stream.runCollect(engine.logs(id, { follow: true })), "1500 millis")
      assert.deepStrictEqual(
        followed.filter((line) => line.stream === "stdout").map((line) => line.text),
        ["one", "two"]
      )
      assert.deepStrictEqual(
        followed.filter((line) => line.stream === "stderr").map((line) => line.text),
        ["oops"]
      )
      yield* engine.waitContainer(id, { condition: "not-running" })
      const stdoutOnly = yield* Stream.runCollect(engine.logs(id, { stderr: false }))
      assert.deepStrictEqual(
        stdoutOnly.map((line) => `${line.stream}:${line.text}`),
        ["stdout:one", "stdout:two"]
      )
      // `tail` counts the last lines of both streams, then the stream selection applies.
      const lastOfStdout = yield* Stream.runCollect(engine.logs(id, { stderr: false, tail: 1 }))
      assert.deepStrictEqual(lastOfStdout, [])
      const last = yield* Stream.runCollect(engine.logs(id, { stderr: false, tail: 2, timestamps: true }))
      assert.strictEqual(last.length, 1)
      assert.strictEqual(last[0]?.text, "two")
      assert.isFalse(Number.isNaN(Date.parse(last[0]?.timestamp ?? "")))
    })
  )

  caseTest(
    "events: create, start, die (with exitCode), destroy, in order, with times; since/until replay",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { id, name } = yield* container(own, "events", { _tag: "Exits", seconds: 1, code: 3 })
        const recording = yield* recordEvents(
          { labels: own, types: ["container"], containers: [name] },
          (event) => event.action === "destroy"
        )
        yield* engine.startContainer(id)
        yield* env.during(engine.waitContainer(id), "1500 millis")
        yield* engine.removeContainer(id)
        const mine = (yield* Fiber.join(recording)).filter((event) => event.actorId === id)
        assert.deepStrictEqual(
          mine.map((event) => event.action),
          ["create", "start", "die", "destroy"]
        )
        const die = mine[2]
        assert.strictEqual(die?.attributes.exitCode, "3")
        assert.strictEqual(die?.attributes.image, env.image)
        assert.strictEqual(die?.attributes["dev.effect-docker.app"], own["dev.effect-docker.app"])
        for (const event of mine) {
          assert.strictEqual(event.type, "container")
          assert.strictEqual(event.time, Math.floor(event.timeNano / 1e9))
        }
        const nanos = mine.map((event) => event.timeNano)
        assert.deepStrictEqual(
          nanos,
          [...nanos].sort((x, y) => x - y)
        )
        // Resuming from the `die` event's time replays it and what came after, nothing before.
        // (1 µs earlier: a float of seconds cannot hold every nanosecond of today's time.)
        const resumed = yield* pastEvents(own, ((die?.timeNano ?? 0) - 1000) / 1e9, { types: ["container"] })
        assert.deepStrictEqual(
          resumed.filter((event) => event.actorId === id).map((event) => event.action),
          ["die", "destroy"]
        )
      })
  )

  caseTest("events: stop emits kill (signal 15), die, stop; label filters leave network events out", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "events-stop", { _tag: "Runs", onStop: "exit" })
      const recording = yield* recordEvents(
        { labels: own },
        (event) => event.actorId === id && event.action === "stop"
      )
      yield* engine.startContainer(id)
      yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
      const events = yield* Fiber.join(recording)
      const mine = events.filter((event) => event.actorId === id)
      assert.deepStrictEqual(
        mine.map((event) => event.action),
        ["create", "start", "kill", "die", "stop"]
      )
      assert.strictEqual(mine[2]?.attributes.signal, "15")
      assert.strictEqual(mine[3]?.attributes.exitCode, "143")
      assert.deepStrictEqual(
        events.filter((event) => event.type === "network"),
        []
      )
    })
  )

  caseTest("events: a live subscription sees health_status: healthy, and inspect shows the health", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const since = yield* nowSeconds
      const { id } = yield* container(own, "healthy", { _tag: "Checked", passes: true })
      const healthy = yield* Effect.forkChild(
        engine
          .events({ labels: own, since, containers: [id], actions: ["health_status"] })
          .pipe(Stream.take(1), Stream.runCollect)
      )
      yield* engine.startContainer(id)
      const starting = yield* engine.inspectContainer(id)
      assert.strictEqual(starting.state.health?.status, "starting")
      yield* env.advance("1500 millis")
      const [event] = yield* Fiber.join(healthy)
      assert.strictEqual(event?.action, "health_status: healthy")
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.health?.status, "healthy")
      assert.strictEqual(inspect.state.health?.failingStreak, 0)
    })
  )

  caseTest("health: a failing check turns the container unhealthy", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "unhealthy", { _tag: "Checked", passes: false })
      const since = yield* nowSeconds
      // The event first, then inspect: on a busy engine the check runs late, so a fixed wait
      // alone would race it.
      const unhealthy = yield* Effect.forkChild(
        engine.events({ labels: own, since, containers: [id], actions: ["health_status"] }).pipe(
          Stream.filter((event) => event.action === "health_status: unhealthy"),
          Stream.take(1),
          Stream.runCollect
        )
      )
      yield* engine.startContainer(id)
      yield* env.advance("1500 millis")
      const [event] = yield* Fiber.join(unhealthy)
      assert.strictEqual(event?.action, "health_status: unhealthy")
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.health?.status, "unhealthy")
      assert.isAbove(inspect.state.health?.failingStreak ?? 0, 0)
    })
  )

  caseTest(
    "images: a fresh pull reports per-layer progress; the image is then present; a second pull is up to date",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        yield* engine
          .removeImage(env.pullImage, { force: true })
          .pipe(
            Effect.catchTag("DockerError", (error) =>
              error.reason === "NotFound" ? Effect.void : Effect.fail(error)
            )
          )
        const gone = yield* Effect.flip(engine.inspectImage(env.pullImage))
        assert.strictEqual(gone.reason, "NotFound")
        const lines = yield* env.during(Stream.runCollect(engine.pullImage(env.pullImage)), "5 seconds")
        const statuses = lines.map((line) => line.status)
        assert.match(statuses[0] ?? "", /^Pulling from /)
        assert.include(statuses, "Pulling fs layer")
        assert.include(statuses, "Download complete")
        assert.include(statuses, "Pull complete")
        const downloading = lines.filter((line) => line.status === "Downloading")
        assert.isAbove(downloading.length, 0)
        for (const line of downloading) {
          assert.isDefined(line.id)
          assert.isAbove(line.total ?? 0, 0)
          assert.isAtMost(line.current ?? 0, line.total ?? 0)
        }
        assert.isTrue(lines.some((line) => line.status === "Extracting" && (line.total ?? 0) > 0))
        assert.match(statuses.at(-1) ?? "", /^Status: Downloaded newer image for /)
        const image = yield* engine.inspectImage(env.pullImage)
        assert.match(image.id, /^sha256:/)
        assert.include(image.repoTags, env.pullImage)
        assert.isAbove(image.size, 0)
        const again = yield* env.during(Stream.runCollect(engine.pullImage(env.pullImage)), "1 second")
        assert.match(again.at(-1)?.status ?? "", /^Status: Image is up to date for /)
        assert.isFalse(again.some((line) => line.status === "Downloading"))
      })
  )

  caseTest("images: pulling a reference the registry does not have fails with a DockerError naming it", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const error = yield* Effect.flip(Stream.runCollect(engine.pullImage(env.missingImage)))
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error.operation, "pullImage")
      assert.strictEqual(error.reason, "NotFound")
      assert.include(error.message, env.missingImage)
      const inspect = yield* Effect.flip(engine.inspectImage(env.missingImage))
      assert.strictEqual(inspect.reason, "NotFound")
      const remove = yield* Effect.flip(engine.removeImage(env.missingImage))
      assert.strictEqual(remove.reason, "NotFound")
    })
  )

  caseTest(
    "images: a pull with wrong credentials is Unauthorized, naming the registry, never the password",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { reference, username } = env.privateImage
        const password = "wrong-password-7f3a9c"
        const error = yield* Effect.flip(
          Stream.runCollect(
            engine.pullImage(reference, { auth: { username, password: Redacted.make(password) } })
          )
        )
        assert.strictEqual(error._tag, "DockerError")
        assert.strictEqual(error.operation, "pullImage")
        assert.strictEqual(error.reason, "Unauthorized")
        assert.include(error.message, `registry ${reference.split("/")[0]}`)
        assert.include(error.message, reference)
        for (const shown of [error.message, String(error), JSON.stringify(error)])
          assert.notInclude(shown, password)
        assert.strictEqual((yield* Effect.flip(engine.inspectImage(reference))).reason, "NotFound")
      })
  )

  caseTest(
    "networks: unique names, label lists, attached containers, in-use removal refused, then removed",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const name = uniqueName("net")
        const { id: networkId } = yield* Effect.acquireRelease(
          engine.createNetwork({ name, labels: own }),
          ({ id }) => engine.removeNetwork(id).pipe(Effect.ignore)
        )
        const duplicate = yield* Effect.flip(engine.createNetwork({ name, labels: own }))
        assert.strictEqual(duplicate.reason, "Conflict")
        const listed = yield* engine.listNetworks({ labels: own })
        assert.deepStrictEqual(
          listed.map((network) => network.name),
          [name]
        )
        assert.strictEqual(listed[0]?.driver, "bridge")
        assert.deepStrictEqual(listed[0]?.labels, own)
        assert.deepStrictEqual(
          (yield* engine.listNetworks({ names: [name] })).map((network) => network.id),
          [networkId]
        )

        const { id } = yield* container(
          own,
          "net-member",
          { _tag: "Runs", onStop: "exit" },
          { networkMode: name }
        )
        yield* engine.startContainer(id)
        const inspect = yield* engine.inspectNetwork(name)
        assert.strictEqual(inspect.id, networkId)
        assert.deepStrictEqual(Object.keys(inspect.containers), [id])
        assert.match(inspect.containers[id]?.ipv4Address ?? "", /^\d+\.\d+\.\d+\.\d+\/\d+$/)
        const member = yield* engine.inspectContainer(id)
        assert.deepStrictEqual(Object.keys(member.networks), [name])
        assert.strictEqual(member.networks[name]?.networkId, networkId)

        const inUse = yield* Effect.flip(engine.removeNetwork(networkId))
        assert.strictEqual(inUse.reason, "Conflict")

        const { id: other } = yield* container(own, "net-joiner", { _tag: "Runs", onStop: "exit" })
        yield* engine.startContainer(other)
        yield* engine.connectNetwork(networkId, other)
        assert.deepStrictEqual(
          Object.keys((yield* engine.inspectNetwork(networkId)).containers).sort(),
          [id, other].sort()
        )
        yield* engine.disconnectNetwork(networkId, other)
        assert.deepStrictEqual(Object.keys((yield* engine.inspectNetwork(networkId)).containers), [id])

        yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
        yield* engine.removeNetwork(networkId)
        assert.strictEqual((yield* Effect.flip(engine.inspectNetwork(networkId))).reason, "NotFound")
        assert.deepStrictEqual(yield* engine.listNetworks({ labels: own }), [])
        assert.strictEqual((yield* Effect.flip(engine.removeNetwork(networkId))).reason, "NotFound")
        // An unknown network is accepted at create and refused at start, naming it.
        const { id: orphan } = yield* container(
          own,
          "no-net",
          { _tag: "Runs", onStop: "exit" },
          { networkMode: name }
        )
        const unknownNetwork = yield* Effect.flip(engine.startContainer(orphan))
        assert.include(unknownNetwork.message, name)
        assert.strictEqual(unknownNetwork.reason, "NotFound")
      })
  )

  caseTest(
    "network events: create, connect, disconnect, destroy, with the container and network name",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const name = uniqueName("net-events")
        const recording = yield* recordEvents(
          { types: ["network"] },
          (event) => event.action === "destroy" && event.attributes.name === name
        )
        const { id: networkId } = yield* Effect.acquireRelease(
          engine.createNetwork({ name, labels: own }),
          ({ id }) => engine.removeNetwork(id).pipe(Effect.ignore)
        )
        const { id } = yield* container(
          own,
          "net-events-member",
          { _tag: "Runs", onStop: "exit" },
          { networkMode: name }
        )
        yield* engine.startContainer(id)
        yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
        yield* engine.removeNetwork(networkId)
        const events = yield* Fiber.join(recording)
        const mine = events.filter((event) => event.actorId === networkId)
        assert.deepStrictEqual(
          mine.map((event) => event.action),
          ["create", "connect", "disconnect", "destroy"]
        )
        assert.strictEqual(mine[1]?.attributes.container, id)
        assert.strictEqual(mine[1]?.attributes.name, name)
      })
  )

  caseTest(
    "copy: files go into a container with their content and mode; unknown containers are NotFound",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { id } = yield* container(own, "copy", { _tag: "Runs", onStop: "exit" })
        const bytes = new Uint8Array([0, 1, 2, 3, 255])
        yield* engine.copyFiles(id, [
          { path: "/etc/contract/hello.txt", content: "hello\n", mode: 0o600 },
          { path: "/etc/contract/data.bin", content: bytes },
          { path: "/etc/contract/streamed.bin", stream: Stream.make(bytes, bytes), size: 10, mode: 0o755 }
        ])
        const hello = yield* env.readFile(id, "/etc/contract/hello.txt")
        assert.strictEqual(new TextDecoder().decode(hello?.content), "hello\n")
        assert.strictEqual(hello?.mode, 0o600)
        const data = yield* env.readFile(id, "/etc/contract/data.bin")
        assert.deepStrictEqual([...(data?.content ?? [])], [...bytes])
        assert.strictEqual(data?.mode, 0o644, "0o644 when no mode is given")
        const streamed = yield* env.readFile(id, "/etc/contract/streamed.bin")
        assert.deepStrictEqual([...(streamed?.content ?? [])], [...bytes, ...bytes])
        assert.strictEqual(streamed?.mode, 0o755)
        assert.isUndefined(yield* env.readFile(id, "/etc/contract/absent.txt"))
        const missing = yield* Effect.flip(
          engine.copyFiles("contract-no-such-container", [{ path: "/a.txt", content: "a" }])
        )
        assert.strictEqual(missing.reason, "NotFound")
        const badPath = yield* Effect.flip(engine.putArchive(id, "/no/such/dir", Stream.empty))
        assert.strictEqual(badPath.reason, "NotFound")
      })
  )
}
