import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Fleet from "../../src/cli/Fleet.js"
import * as Up from "../../src/cli/up.js"
import type * as View from "../../src/cli/view.js"

const fleetOf = (source: string): Fleet.Fleet => {
  const parsed = Fleet.parse(source, { file: "test.yaml" })
  if (Result.isFailure(parsed)) assert.fail(parsed.failure.message)
  return parsed.success
}

const state = (
  status: View.ViewState["status"],
  overrides: Partial<View.ViewState> = {}
): View.ViewState => ({
  id: "id",
  name: "n",
  image: "busybox",
  status,
  pull: undefined,
  health: "none",
  cpuPercent: undefined,
  memoryUsed: undefined,
  memoryLimit: undefined,
  rxRate: undefined,
  txRate: undefined,
  restartCount: 0,
  startedAt: undefined,
  exitCode: undefined,
  error: undefined,
  ...overrides
})

/** A service's states, each after a delay in seconds; the stream ends after the last. */
type Script = ReadonlyArray<readonly [seconds: number, state: View.ViewState]>

const recorder = () => {
  const events: Array<string> = []
  const output: Up.Output = {
    state: (service, s) => Effect.sync(() => void events.push(`${service} ${s.status}/${s.health}`)),
    note: (service, note) =>
      Effect.sync(
        () =>
          void events.push(
            `${service} note ${note === undefined ? "-" : `${note.status ?? ""} ${note.text}`}`
          )
      )
  }
  return { events, output }
}

const scripted =
  (scripts: Readonly<Record<string, Script>>, released: Array<string> = []) =>
  (service: Fleet.Service): Stream.Stream<View.ViewState, string> =>
    Stream.fromIterable(scripts[service.name] ?? []).pipe(
      Stream.mapEffect(([seconds, s]) => Effect.as(Effect.sleep(`${seconds} seconds`), s)),
      Stream.ensuring(Effect.sync(() => void released.push(service.name)))
    )

const demo = fleetOf(`
services:
  web:
    image: busybox
    healthcheck: { test: "true" }
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy }
  report:
    image: busybox
    depends_on:
      job: { condition: service_completed_successfully }
`)

describe("Up.runFleet", () => {
  it.effect("starts a service only once its dependency's condition holds", () =>
    Effect.gen(function* () {
      const { events, output } = recorder()
      const run = scripted({
        web: [
          [0, state("running", { health: "starting" })],
          [2, state("running", { health: "healthy" })],
          [5, state("exited", { exitCode: 0 })]
        ],
        job: [
          [0, state("running")],
          [1, state("exited", { exitCode: 0 })]
        ],
        report: [[0, state("exited", { exitCode: 0 })]]
      })
      const fiber = yield* Effect.forkChild(Up.runFleet(demo, run, output, String))
      yield* TestClock.adjust("10 seconds")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(Up.exitStatus(results), 0)
      const at = (event: string) => events.indexOf(event)
      assert.isTrue(at("job note waiting for web (healthy)") >= 0)
      assert.isTrue(at("web running/healthy") < at("job running/none"), events.join("\n"))
      assert.isTrue(at("job exited/none") < at("report exited/none"), events.join("\n"))
    })
  )

  it.effect("a dependency that fails for good: the dependant is not started, exit status 1", () =>
    Effect.gen(function* () {
      const { events, output } = recorder()
      const run = scripted({
        web: [
          [0, state("running", { health: "starting" })],
          [1, state("exited", { exitCode: 2, error: "boom\nmore" })]
        ]
      })
      const fiber = yield* Effect.forkChild(Up.runFleet(demo, run, output, String))
      yield* TestClock.adjust("5 seconds")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(Up.exitStatus(results), 1)
      assert.deepStrictEqual(
        results.map((r) => [r.service, r.ok]),
        [
          ["web", false],
          ["job", false],
          ["report", false]
        ]
      )
      assert.include(events, "web note  failed for good (exit 2): boom more")
      assert.include(events, "job note not started web failed for good (exit 2)")
      assert.notInclude(events.join("\n"), "job running")
    })
  )

  it.effect("waiting for a dependency without a healthcheck to be healthy fails at once, never hangs", () =>
    Effect.gen(function* () {
      const { events, output } = recorder()
      const fleet = fleetOf(`
services:
  web:
    image: busybox
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy }
`)
      const run = scripted({
        web: [
          [0, state("running")],
          [5, state("exited", { exitCode: 0 })]
        ],
        job: [[0, state("exited", { exitCode: 0 })]]
      })
      const fiber = yield* Effect.forkChild(Up.runFleet(fleet, run, output, String))
      yield* TestClock.adjust("10 seconds")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        results.map((r) => [r.service, r.ok]),
        [
          ["web", true],
          ["job", false]
        ]
      )
      assert.include(events, "job note not started web has no healthcheck")
    })
  )

  it.effect("a run error is reported with its message", () =>
    Effect.gen(function* () {
      const { events, output } = recorder()
      const fleet = fleetOf("services:\n  web:\n    image: busybox\n")
      const results = yield* Up.runFleet(
        fleet,
        () => Stream.fail("image not found"),
        output,
        (e) => `pull: ${e}`
      )
      assert.deepStrictEqual(results, [{ service: "web", ok: false, reason: "web: pull: image not found" }])
      assert.include(events, "web note failed pull: image not found")
    })
  )

  it.effect(
    "interrupting stops every service, releases its stream, and marks it removed (or not started)",
    () =>
      Effect.gen(function* () {
        const { events, output } = recorder()
        const released: Array<string> = []
        const run = scripted(
          {
            web: [
              [0, state("running", { health: "starting" })],
              [1000, state("exited", { exitCode: 0 })]
            ]
          },
          released
        )
        const fiber = yield* Effect.forkChild(Up.runFleet(demo, run, output, String))
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(released, ["web"])
        assert.include(events, "web note removed ")
        // Still waiting for web when stopped: no container was ever made for them.
        assert.include(events, "job note not started ")
        assert.include(events, "report note not started ")
      })
  )

  it.effect("replicas: one row each; a dependant waits until every replica is healthy", () =>
    Effect.gen(function* () {
      const { events, output } = recorder()
      const fleet = fleetOf(`
services:
  web:
    image: busybox
    deploy: { replicas: 2 }
    healthcheck: { test: "true" }
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy }
`)
      const byReplica: Readonly<Record<string, Script>> = {
        "web-1": [
          [0, state("running", { health: "starting" })],
          [1, state("running", { health: "healthy" })]
        ],
        "web-2": [
          [0, state("running", { health: "starting" })],
          [3, state("running", { health: "healthy" })]
        ],
        job: [[0, state("exited", { exitCode: 0 })]]
      }
      // Every replica keeps running: the fleet is stopped at the end.
      const run = (_service: Fleet.Service, replica: string) =>
        Stream.fromIterable(byReplica[replica] ?? []).pipe(
          Stream.mapEffect(([seconds, s]) => Effect.as(Effect.sleep(`${seconds} seconds`), s)),
          Stream.concat(replica === "job" ? Stream.empty : Stream.never)
        )
      const fiber = yield* Effect.forkChild(Up.runFleet(fleet, run, output, String))
      yield* TestClock.adjust("2 seconds")
      assert.include(events, "web-1 running/healthy")
      assert.notInclude(events, "job exited/none")
      yield* TestClock.adjust("3 seconds")
      assert.include(events, "job exited/none")
      assert.isTrue(
        events.indexOf("web-2 running/healthy") < events.indexOf("job exited/none"),
        events.join("\n")
      )
      yield* Fiber.interrupt(fiber)
      assert.include(events, "web-1 note removed ")
      assert.include(events, "web-2 note removed ")
    })
  )

  it.effect(
    "onEnd: each replica that ends on its own, with its exit code, as it ends; not the never-started",
    () =>
      Effect.gen(function* () {
        const { output } = recorder()
        const ends: Array<string> = []
        const run = scripted({
          web: [
            [0, state("running", { health: "starting" })],
            [1, state("running", { health: "healthy" })]
          ],
          job: [[1, state("exited", { exitCode: 3 })]]
        })
        const fiber = yield* Effect.forkChild(
          Up.runFleet(demo, run, output, String, {
            onEnd: (end) =>
              Effect.sync(() => void ends.push(`${end.service}/${end.of} ${end.ok} ${end.exitCode}`))
          })
        )
        yield* TestClock.adjust("500 millis")
        assert.deepStrictEqual(ends, [])
        yield* TestClock.adjust("500 millis")
        // web's stream ended after healthy (no exit state): a failure without an exit code.
        assert.deepStrictEqual(ends, ["web/web false undefined"])
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(ends, ["web/web false undefined", "job/job false 3"])
      })
  )
})
