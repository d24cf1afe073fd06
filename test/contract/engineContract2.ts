/**
 * More of the engine contract: what the Supervisor relies on beyond engineContract.ts
 * (restarts, `since` on logs and events, the create-time stop timeout, network names and
 * aliases, the end of a stats stream, a dropped events stream, a pull failing half-way, health
 * turning bad, `ping`). Run by the same runners, on MemoryEngine (test/contract/memory.test.ts)
 * and on the real engine (test/integration/contract.test.ts).
 *
 * A case that fails on one engine because of a gap in src is not weakened: it is listed in
 * {@link knownGaps} for that engine, with the gap named, and not registered there until the
 * gap is fixed.
 */
import { assert } from "@effect/vitest"
import { Clock, type Duration, Effect, Exit, Fiber, type Scope, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { type ContractEnvironment, type Register, uniqueName } from "./engineContract.js"

/** Behaviours the cases of this file add to engineContract.ts's. */
export type Behaviour2 =
  /** Prints `early` at its start and `late` `afterSeconds` later, then runs until stopped (143 on SIGTERM). */
  | {
      readonly _tag: "PrintsLater"
      readonly early: string
      readonly late: string
      readonly afterSeconds: number
    }
  /**
   * Runs until stopped with a healthcheck probed every 500 ms (1 retry) that passes for about
   * `healthyForSeconds` after the start, then fails.
   */
  | { readonly _tag: "Degrades"; readonly healthyForSeconds: number }

/** What these cases need beyond a {@link ContractEnvironment}. */
export interface ContractEnvironment2<R> extends ContractEnvironment<R> {
  /** Create options for a container named `name` that behaves so. */
  readonly program2: (
    name: string,
    behaviour: Behaviour2
  ) => Effect.Effect<Partial<DockerEngine.CreateContainerOptions>, never, R>
  /**
   * Whether a container on `network` resolves `host` by DNS. Absent where the engine has no
   * DNS (MemoryEngine): the aliases are then checked as inspect shows them only.
   */
  readonly resolves?: (
    network: string,
    host: string,
    labels: Readonly<Record<string, string>>
  ) => Effect.Effect<boolean, unknown, DockerEngine.DockerEngine | Scope.Scope | R>
  /**
   * Drops every open events stream as a lost connection does (fails it, or ends it with
   * `end: true`). Absent where the test cannot cut the engine's connection (the real engine:
   * the reliability suite restarts a whole engine for that).
   */
  readonly dropEvents?: (options: { readonly end: boolean }) => Effect.Effect<void, never, R>
  /**
   * An image whose pull fails after some progress (a corrupt second layer), and the text the
   * failure carries.
   */
  readonly failingPull: Effect.Effect<
    { readonly reference: string; readonly message: string },
    unknown,
    Scope.Scope | R
  >
}

/**
 * Cases not registered on an engine, each with the gap in src that makes it fail there. Empty
 * lists are the goal.
 */
export const knownGaps: Readonly<Record<string, ReadonlyArray<string>>> = {
  memory: [],
  live: []
}

const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)

/** Registers the cases of this file against `env`, except its {@link knownGaps}. */
export const engineContract2 = <R>(env: ContractEnvironment2<R>, test: Register<R>): void => {
  const gaps = knownGaps[env.name] ?? []
  const caseTest = (
    name: string,
    body: (
      labels: Readonly<Record<string, string>>
    ) => Effect.Effect<void, unknown, DockerEngine.DockerEngine | Scope.Scope | R>
  ) => {
    if (gaps.includes(name)) return
    test(name, () => body({ ...env.labels, "dev.effect-docker.case": uniqueName("case") }))
  }

  /** A labelled container behaving so, force-removed when the test's scope closes. */
  const container = (
    labels: Readonly<Record<string, string>>,
    what: string,
    program: (name: string) => Effect.Effect<Partial<DockerEngine.CreateContainerOptions>, never, R>,
    extra: Partial<DockerEngine.CreateContainerOptions> = {}
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const options = yield* program(name)
      const { id } = yield* Effect.acquireRelease(
        engine.createContainer({ image: env.image, name, labels, stopTimeout: 1, ...options, ...extra }),
        ({ id }) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
      )
      return { id, name }
    })

  const runsUntilStopped = (name: string) => env.program(name, { _tag: "Runs", onStop: "exit" })

  /** A labelled network, removed (if still there) when the test's scope closes. */
  const network = (labels: Readonly<Record<string, string>>, what: string) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const { id } = yield* Effect.acquireRelease(engine.createNetwork({ name, labels }), ({ id }) =>
        engine.removeNetwork(id).pipe(Effect.ignore)
      )
      return { id, name }
    })

  /** The first event of `id` with `action`, waited for on a subscription from `since`. */
  const nextEvent = (id: string, since: number, action: string, within: Duration.Input) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      return yield* engine.events({ containers: [id], since }).pipe(
        Stream.filter((event) => event.action === action),
        Stream.runHead,
        Effect.timeout(within)
      )
    })

  caseTest("ping answers", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.ping
      const version = yield* engine.version
      assert.match(version.apiVersion, /^\d+\.\d+$/)
    })
  )

  caseTest("restart: an exited container starts again, same id, a fresh run, the same exit", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "restart", (name) =>
        env.program(name, { _tag: "Exits", seconds: 1, code: 3 })
      )
      yield* engine.startContainer(id)
      const first = yield* env.during(engine.waitContainer(id), "1500 millis")
      assert.strictEqual(first.exitCode, 3)
      const exited = yield* engine.inspectContainer(id)
      assert.strictEqual(exited.state.status, "exited")

      yield* engine.startContainer(id)
      const again = yield* engine.inspectContainer(id)
      assert.strictEqual(again.id, id)
      assert.strictEqual(again.state.status, "running")
      assert.isTrue(again.state.running)
      assert.strictEqual(again.state.exitCode, 0)
      assert.isAbove(Date.parse(again.state.startedAt), Date.parse(exited.state.startedAt))
      // A start by hand is not a restart by the engine's policy.
      assert.strictEqual(again.restartCount, 0)
      const second = yield* env.during(engine.waitContainer(id), "1500 millis")
      assert.strictEqual(second.exitCode, 3)
      assert.strictEqual((yield* engine.inspectContainer(id)).state.exitCode, 3)
    })
  )

  caseTest("logs: `since` leaves out the lines written before it", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(own, "logs-since", (name) =>
        env.program2(name, { _tag: "PrintsLater", early: "early", late: "late", afterSeconds: 2 })
      )
      yield* engine.startContainer(id)
      // Waits for the first line, then takes `since` between the two lines.
      const early = yield* env.during(
        engine.logs(id, { follow: true }).pipe(Stream.take(1), Stream.runCollect),
        "200 millis"
      )
      assert.deepStrictEqual(
        early.map((line) => line.text),
        ["early"]
      )
      const since = (yield* nowSeconds) + 0.5
      const both = yield* env.during(
        engine.logs(id, { follow: true }).pipe(Stream.take(2), Stream.runCollect),
        "2 seconds"
      )
      assert.deepStrictEqual(
        both.map((line) => line.text),
        ["early", "late"]
      )
      const after = yield* Stream.runCollect(engine.logs(id, { since }))
      assert.deepStrictEqual(
        after.map((line) => line.text),
        ["late"]
      )
      const all = yield* Stream.runCollect(engine.logs(id, { since: since - 10 }))
      assert.deepStrictEqual(
        all.map((line) => line.text),
        ["early", "late"]
      )
    })
  )

  caseTest("stop without a timeout waits the stop timeout given at create, then kills (137)", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id } = yield* container(
        own,
        "stop-timeout",
        (name) => env.program(name, { _tag: "Runs", onStop: "ignore" }),
        { stopTimeout: 2 }
      )
      yield* engine.startContainer(id)
      const started = yield* Clock.currentTimeMillis
      yield* env.during(engine.stopContainer(id), "2 seconds")
      const took = (yield* Clock.currentTimeMillis) - started
      // Not the engine's 10 s default, not at once.
      assert.isAtLeast(took, 1900, `took ${took} ms`)
      assert.isBelow(took, 8000, `took ${took} ms`)
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.status, "exited")
      assert.strictEqual(inspect.state.exitCode, 137)
    })
  )

  caseTest("networks: removed by name; then unknown by name and by id", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { id, name } = yield* network(own, "net-by-name")
      assert.strictEqual((yield* engine.inspectNetwork(name)).id, id)
      yield* engine.removeNetwork(name)
      assert.strictEqual((yield* Effect.flip(engine.inspectNetwork(name))).reason, "NotFound")
      assert.strictEqual((yield* Effect.flip(engine.inspectNetwork(id))).reason, "NotFound")
      assert.deepStrictEqual(yield* engine.listNetworks({ names: [name] }), [])
      assert.strictEqual((yield* Effect.flip(engine.removeNetwork(name))).reason, "NotFound")
    })
  )

  caseTest("networks: aliases given at create and at connect are the container's on that network", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { name: net } = yield* network(own, "net-aliases")
      const createAlias = uniqueName("alias-create")
      const connectAlias = uniqueName("alias-connect")
      const { id: first } = yield* container(own, "aliased", runsUntilStopped, {
        networkMode: net,
        networkAliases: [createAlias]
      })
      yield* engine.startContainer(first)
      const { id: second } = yield* container(own, "joined", runsUntilStopped)
      yield* engine.startContainer(second)
      yield* engine.connectNetwork(net, second, { aliases: [connectAlias] })

      assert.include((yield* engine.inspectContainer(first)).networks[net]?.aliases ?? [], createAlias)
      assert.include((yield* engine.inspectContainer(second)).networks[net]?.aliases ?? [], connectAlias)
      assert.notInclude((yield* engine.inspectContainer(second)).networks[net]?.aliases ?? [], createAlias)

      if (env.resolves !== undefined) {
        const resolves = env.resolves
        // At once: each lookup is a container of its own, seconds each on a busy engine.
        const [byCreateAlias, byConnectAlias, byUnknown] = yield* Effect.all(
          [
            resolves(net, createAlias, own),
            resolves(net, connectAlias, own),
            resolves(net, uniqueName("no-such-alias"), own)
          ],
          { concurrency: "unbounded" }
        )
        assert.isTrue(byCreateAlias, `${createAlias} resolves on ${net}`)
        assert.isTrue(byConnectAlias, `${connectAlias} resolves on ${net}`)
        assert.isFalse(byUnknown, "an unknown name does not")
      }
      yield* env.during(engine.stopContainer(first, { timeout: 5 }), "1 second")
      yield* env.during(engine.stopContainer(second, { timeout: 5 }), "1 second")
    })
  )

  for (const ending of ["exits", "is removed"] as const) {
    caseTest(`stats: the stream ends when its container ${ending}`, (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const { id } = yield* container(own, "stats-end", runsUntilStopped)
        yield* engine.startContainer(id)
        const streaming = yield* Effect.forkChild(Stream.runCollect(engine.stats(id)))
        yield* env.advance("1500 millis")
        if (ending === "exits") yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
        else yield* engine.removeContainer(id, { force: true })
        const ended = yield* env.during(
          Fiber.await(streaming).pipe(Effect.timeout("10 seconds")),
          "2 seconds"
        )
        assert.isTrue(Exit.isSuccess(ended), `the stream ended, without an error: ${String(ended)}`)
        if (Exit.isSuccess(ended)) assert.isAbove(ended.value.length, 0, "samples while it ran")
      })
    )
  }

  caseTest("events: resuming from an event's exact timeNano replays that event and what followed", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const since = (yield* nowSeconds) - 1
      const { id } = yield* container(own, "events-exact", (name) =>
        env.program(name, { _tag: "Exits", seconds: 1, code: 0 })
      )
      yield* engine.startContainer(id)
      yield* env.during(engine.waitContainer(id), "1500 millis")
      yield* engine.removeContainer(id)
      const until = yield* nowSeconds
      const mine = (yield* Stream.runCollect(
        engine.events({ labels: own, types: ["container"], since, until })
      )).filter((event) => event.actorId === id)
      assert.deepStrictEqual(
        mine.map((event) => event.action),
        ["create", "start", "die", "destroy"]
      )
      // `timeNanoExact` as the engine gave it: from each event on, nothing lost and nothing
      // earlier. (A double, `timeNano / 1e9`, is off by up to ~256 ns and could start after it.)
      for (const [index, event] of mine.entries()) {
        const resumed = yield* Stream.runCollect(
          engine.events({ labels: own, types: ["container"], sinceNano: event.timeNanoExact, until })
        )
        assert.deepStrictEqual(
          resumed.filter((replayed) => replayed.actorId === id).map((replayed) => replayed.action),
          mine.slice(index).map((expected) => expected.action),
          `resumed at ${event.action} (${event.timeNanoExact})`
        )
      }
    })
  )

  if (env.dropEvents !== undefined) {
    const dropEvents = env.dropEvents
    for (const end of [false, true]) {
      caseTest(
        `events: a dropped stream ${end ? "ends" : "fails with Unavailable"}; a resumption from the last event seen misses nothing`,
        (own) =>
          Effect.gen(function* () {
            const engine = yield* DockerEngine.DockerEngine
            const since = (yield* nowSeconds) - 1
            const { id } = yield* container(own, "events-drop", runsUntilStopped)
            const seen: Array<DockerEngine.EngineEvent> = []
            const subscription = yield* Effect.forkChild(
              engine
                .events({ labels: own, containers: [id], since })
                .pipe(Stream.runForEach((event) => Effect.sync(() => seen.push(event))))
            )
            yield* env.advance("100 millis")
            assert.deepStrictEqual(
              seen.map((event) => event.action),
              ["create"]
            )
            yield* dropEvents({ end })
            const dropped = yield* Fiber.await(subscription)
            if (end) assert.isTrue(Exit.isSuccess(dropped), "the stream ended")
            else {
              const error = Exit.findErrorOption(dropped)
              assert.strictEqual(error._tag === "Some" ? error.value.reason : undefined, "Unavailable")
            }
            // Meanwhile, the container starts.
            yield* engine.startContainer(id)
            const last = seen.at(-1)
            const resumed = yield* engine
              .events({ labels: own, containers: [id], sinceNano: last?.timeNanoExact ?? 0n })
              .pipe(
                Stream.takeUntil((event) => event.action === "start"),
                Stream.runCollect
              )
            assert.deepStrictEqual(
              resumed.map((event) => event.action),
              ["create", "start"]
            )
            yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
          })
      )
    }
  }

  caseTest("images: a pull failing after some progress fails the stream with the engine's error", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const { reference, message } = yield* env.failingPull
      const lines: Array<DockerEngine.PullProgress> = []
      const error = yield* env.during(
        engine.pullImage(reference).pipe(
          Stream.runForEach((line) => Effect.sync(() => lines.push(line))),
          Effect.flip
        ),
        "2 seconds"
      )
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error.operation, "pullImage")
      assert.strictEqual(error.reason, "ServerError")
      assert.include(error.message, message)
      assert.include(error.message, reference)
      // Progress came first: the pull began, and both layers were announced.
      assert.match(lines[0]?.status ?? "", /^Pulling from /)
      assert.strictEqual(lines.filter((line) => line.status === "Pulling fs layer").length, 2)
      assert.strictEqual((yield* Effect.flip(engine.inspectImage(reference))).reason, "NotFound")
    })
  )

  caseTest("health: healthy, then unhealthy when the check starts failing", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const since = yield* nowSeconds
      const { id } = yield* container(own, "degrades", (name) =>
        env.program2(name, { _tag: "Degrades", healthyForSeconds: 2 })
      )
      yield* engine.startContainer(id)
      const healthy = yield* env.during(
        nextEvent(id, since, "health_status: healthy", "10 seconds"),
        "1 second"
      )
      assert.strictEqual(healthy._tag, "Some")
      assert.strictEqual((yield* engine.inspectContainer(id)).state.health?.status, "healthy")
      const unhealthy = yield* env.during(
        nextEvent(id, since, "health_status: unhealthy", "15 seconds"),
        "3 seconds"
      )
      assert.strictEqual(unhealthy._tag, "Some")
      if (healthy._tag === "Some" && unhealthy._tag === "Some") {
        assert.isAbove(unhealthy.value.timeNano, healthy.value.timeNano)
      }
      const inspect = yield* engine.inspectContainer(id)
      assert.strictEqual(inspect.state.health?.status, "unhealthy")
      assert.isAbove(inspect.state.health?.failingStreak ?? 0, 0)
      assert.isTrue(inspect.state.running, "an unhealthy container keeps running")
      yield* env.during(engine.stopContainer(id, { timeout: 5 }), "1 second")
    })
  )
}
