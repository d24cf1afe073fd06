/**
 * The engine contract for the engine's own restart policies (what `engineRestartPolicy`
 * relies on), run like `engineContract.ts` against MemoryEngine (test/contract/memory.test.ts)
 * and the real engine (test/integration/contract.test.ts): a policy restart is `die` then
 * `start` on the same container, counted in `RestartCount`; a `not-running` wait answers at
 * each such `die`; `on-failure:N` gives up after N restarts; a stop ends the restarts.
 */
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import type { Behaviour, ContractEnvironment, Register } from "./engineContract.js"
import { caseTester, nowSeconds, uniqueName } from "./engineContract.js"

/** Registers the restart-policy contract tests against `env`. */
export const engineRestartContract = <R>(env: ContractEnvironment<R>, test: Register<R>): void => {
  const caseTest = caseTester(env, test)

  /** A labelled container behaving so under `restartPolicy`, force-removed when the test's scope closes. */
  const container = (
    labels: Readonly<Record<string, string>>,
    what: string,
    behaviour: Behaviour,
    restartPolicy: NonNullable<DockerEngine.CreateContainerOptions["restartPolicy"]>
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const program = yield* env.program(name, behaviour)
      const { id } = yield* Effect.acquireRelease(
        engine.createContainer({ image: env.image, name, labels, stopTimeout: 1, ...program, restartPolicy }),
        ({ id }) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
      )
      return id
    })

  /** Lets engine time pass in 200 ms steps until `done` holds of the container (at most `seconds`). */
  const until = (id: string, seconds: number, done: (inspect: DockerEngine.ContainerInspect) => boolean) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      let inspect = yield* engine.inspectContainer(id)
      for (let step = 0; step < seconds * 5 && !done(inspect); step++) {
        yield* env.advance("200 millis")
        inspect = yield* engine.inspectContainer(id)
      }
      return inspect
    })

  caseTest(
    "on-failure:2 restarts a failing container twice (die → start each time), counts RestartCount, then leaves it exited",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const since = (yield* nowSeconds) - 1
        const id = yield* container(
          own,
          "on-failure",
          { _tag: "Exits", seconds: 0, code: 1 },
          { name: "on-failure", maximumRetryCount: 2 }
        )
        yield* engine.startContainer(id)
        const final = yield* until(
          id,
          10,
          (inspect) => inspect.state.status === "exited" && inspect.restartCount === 2
        )
        assert.strictEqual(final.state.status, "exited")
        assert.strictEqual(final.state.running, false)
        assert.strictEqual(final.state.restarting, false)
        assert.strictEqual(final.restartCount, 2)
        assert.strictEqual(final.state.exitCode, 1)
        assert.strictEqual(final.restartPolicy, "on-failure")
        const events = yield* Stream.runCollect(
          engine.events({
            labels: own,
            types: ["container"],
            actions: ["start", "die"],
            since,
            until: yield* nowSeconds
          })
        )
        assert.deepStrictEqual(
          events.filter((event) => event.actorId === id).map((event) => event.action),
          ["start", "die", "start", "die", "start", "die"]
        )
      })
  )

  caseTest(
    "a not-running wait answers at a policy restart's die; the container then counts as running; a stop ends the restarts",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const id = yield* container(own, "always", { _tag: "Exits", seconds: 1, code: 0 }, { name: "always" })
        yield* engine.startContainer(id)
        const waited = yield* env.during(
          engine.waitContainer(id, { condition: "not-running" }),
          "1500 millis"
        )
        assert.strictEqual(waited.exitCode, 0)
        const restarted = yield* until(id, 5, (inspect) => inspect.restartCount >= 1)
        assert.strictEqual(restarted.restartCount, 1)
        // Restarting (its backoff) or already running again: either way `running`, as Docker counts it.
        assert.strictEqual(restarted.state.running, true)
        assert.include(["restarting", "running"], restarted.state.status)
        yield* env.during(engine.stopContainer(id, { timeout: 1 }), "1500 millis")
        const stopped = yield* engine.inspectContainer(id)
        assert.strictEqual(stopped.state.status, "exited")
        assert.strictEqual(stopped.state.restarting, false)
        yield* env.advance("1500 millis")
        const later = yield* engine.inspectContainer(id)
        assert.strictEqual(later.state.status, "exited", "a stopped container is not restarted")
        assert.strictEqual(later.restartCount, stopped.restartCount)
      })
  )
}
