import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Fleet from "../../src/cli/Fleet.js"
import * as Outcome from "../../src/cli/outcome.js"
import type * as Up from "../../src/cli/up.js"
import type * as View from "../../src/cli/view.js"

const fleetOf = (source: string): Fleet.Fleet => {
  const parsed = Fleet.parse(source, { file: "test.yaml" })
  if (Result.isFailure(parsed)) assert.fail(parsed.failure.message)
  return parsed.success
}

const fleet = fleetOf(`
services:
  db:
    image: busybox
    healthcheck: { test: "true" }
  migrate:
    image: busybox
    depends_on: { db: { condition: service_healthy } }
  web:
    image: busybox
    deploy: { replicas: 2 }
    depends_on: { migrate: { condition: service_completed_successfully } }
  test:
    image: busybox
    depends_on: [web]
`)

const flags: Outcome.Flags = {
  wait: false,
  abortOnContainerExit: false,
  abortOnContainerFailure: false,
  exitCodeFrom: undefined,
  json: false,
  simulated: false
}

const ended = (service: string, of: string, exitCode: number | undefined): Up.Ended => ({
  service,
  of,
  ok: exitCode === 0,
  reason: exitCode === 0 ? undefined : `${service} failed for good (exit ${exitCode})`,
  exitCode
})

const state = (
  status: View.ViewState["status"],
  health: View.ViewState["health"] = "none"
): View.ViewState => ({
  id: "id",
  name: "n",
  image: "busybox",
  status,
  pull: undefined,
  health,
  cpuPercent: undefined,
  memoryUsed: undefined,
  memoryLimit: undefined,
  rxRate: undefined,
  txRate: undefined,
  restartCount: 0,
  startedAt: undefined,
  exitCode: undefined,
  error: undefined
})

describe("up flags: what is refused", () => {
  it("refuses what Compose refuses, and an --exit-code-from service not in the fleet", () => {
    assert.isUndefined(Outcome.checkFlags(fleet, { ...flags, exitCodeFrom: "test" }))
    assert.match(
      Outcome.checkFlags(fleet, { ...flags, abortOnContainerExit: true, abortOnContainerFailure: true }) ??
        "",
      /mutually exclusive/
    )
    assert.match(
      Outcome.checkFlags(fleet, { ...flags, exitCodeFrom: "tests" }) ?? "",
      /--exit-code-from tests: no such service in the fleet \(db, migrate, web, test\)/
    )
    assert.match(
      Outcome.checkFlags(fleet, { ...flags, wait: true, exitCodeFrom: "test" }) ?? "",
      /--wait .* cannot go with/
    )
    assert.match(Outcome.checkFlags(fleet, { ...flags, wait: true, json: true }) ?? "", /--wait .* --json/)
    assert.match(Outcome.checkFlags(fleet, { ...flags, wait: true, simulated: true }) ?? "", /MemoryEngine/)
    assert.isUndefined(Outcome.checkFlags(fleet, { ...flags, wait: true }))
  })

  it("--exit-code-from implies --abort-on-container-exit", () => {
    assert.strictEqual(Outcome.abortOn({ ...flags, exitCodeFrom: "test" }), "exit")
    assert.strictEqual(Outcome.abortOn({ ...flags, abortOnContainerFailure: true }), "failure")
    assert.strictEqual(Outcome.abortOn(flags), "nothing")
  })
})

describe("up flags: when the fleet stops, with which status", () => {
  it("--abort-on-container-exit: any end stops it, but a job others wait for completing is sequencing", () => {
    assert.isTrue(Outcome.stopsTheFleet("exit", fleet, ended("test", "test", 0)))
    assert.isTrue(Outcome.stopsTheFleet("exit", fleet, ended("web-2", "web", 0)))
    assert.isFalse(Outcome.stopsTheFleet("exit", fleet, ended("migrate", "migrate", 0)))
    assert.isTrue(Outcome.stopsTheFleet("exit", fleet, ended("migrate", "migrate", 1)))
    assert.isFalse(Outcome.stopsTheFleet("nothing", fleet, ended("test", "test", 1)))
  })

  it("--abort-on-container-failure: only a failure for good (or a run that failed) stops it", () => {
    assert.isFalse(Outcome.stopsTheFleet("failure", fleet, ended("test", "test", 0)))
    assert.isTrue(Outcome.stopsTheFleet("failure", fleet, ended("web-1", "web", 137)))
    assert.isTrue(Outcome.stopsTheFleet("failure", fleet, ended("web-1", "web", undefined)))
  })

  it("exit status: the trigger's code, or --exit-code-from's service's; 1 when it never exited", () => {
    const test3 = ended("test", "test", 3)
    assert.deepStrictEqual(Outcome.exitStatus(test3, undefined, [test3]), { code: 3, message: undefined })
    assert.deepStrictEqual(Outcome.exitStatus(test3, "test", [test3]), { code: 3, message: undefined })
    const web0 = ended("web-1", "web", 0)
    assert.strictEqual(Outcome.exitStatus(web0, "test", [web0, test3]).code, 3)
    const early = Outcome.exitStatus(web0, "test", [web0])
    assert.strictEqual(early.code, 1)
    assert.match(early.message ?? "", /test was stopped before it exited: web-1 ended first \(exit 0\)/)
    const pullFailed: Up.Ended = { ...ended("db", "db", undefined), reason: "db: pull access denied" }
    assert.deepStrictEqual(Outcome.exitStatus(pullFailed, undefined, [pullFailed]), {
      code: 1,
      message: "db: pull access denied"
    })
  })
})

describe("up --wait: the verdict", () => {
  const replicas = ["db", "migrate", "web-1", "web-2"]
  it("waits for healthy, completed and every replica running; fails naming the replica", () => {
    const latest = new Map<string, View.ViewState>([
      ["db", state("running", "starting")],
      ["web-1", state("running")]
    ])
    assert.deepStrictEqual(Outcome.waitVerdict(replicas, latest, new Map()), {
      _tag: "Waiting",
      pending: ["db", "migrate", "web-2"]
    })
    assert.strictEqual(
      Outcome.describePending(["db", "migrate"], latest),
      "db (running, starting), migrate (not started)"
    )
    latest.set("db", state("running", "healthy"))
    latest.set("migrate", state("exited"))
    latest.set("web-2", state("running"))
    const done = new Map([["migrate", ended("migrate", "migrate", 0)]])
    assert.deepStrictEqual(Outcome.waitVerdict(replicas, latest, done), { _tag: "Ready" })

    latest.set("db", state("running", "unhealthy"))
    assert.deepStrictEqual(Outcome.waitVerdict(replicas, latest, done), {
      _tag: "Failed",
      service: "db",
      reason: "db is unhealthy"
    })
    const failed = new Map([["migrate", ended("migrate", "migrate", 2)]])
    latest.set("db", state("running", "healthy"))
    assert.deepStrictEqual(Outcome.waitVerdict(replicas, latest, failed), {
      _tag: "Failed",
      service: "migrate",
      reason: "migrate failed for good (exit 2)"
    })
  })
})
