import { assert, describe, it } from "@effect/vitest"
import { Equal } from "effect"
import * as ContainerState from "../src/ContainerState.js"
import * as Transitions from "../src/internal/containerState.js"
import * as PullProgress from "../src/internal/pullProgress.js"
import type { StatsSnapshot } from "../src/internal/stats.js"

const snapshot: StatsSnapshot = {
  cpuPercent: 12.5,
  memoryUsed: 1000,
  memoryLimit: 4000,
  memoryPercent: 25,
  rxRate: 800,
  txRate: 80,
  rxTotal: 5000,
  txTotal: 500
}

const running = () =>
  Transitions.started(
    Transitions.created(ContainerState.initial("web", "busybox:latest"), "abc123"),
    new Date("2024-05-14T09:12:00Z")
  )

describe("ContainerState", () => {
  it("starts as pulling, with no id, no figures and no restarts", () => {
    const state = ContainerState.initial("web", "busybox:latest")
    assert.strictEqual(state.status, "pulling")
    assert.strictEqual(state.id, undefined)
    assert.strictEqual(state.pull, undefined)
    assert.strictEqual(state.health, "none")
    assert.strictEqual(state.restartCount, 0)
    assert.strictEqual(state.cpuPercent, undefined)
    assert.deepStrictEqual(state.lastLogLines, [])
  })

  it("shows pull progress from the aggregate of the pull's lines", () => {
    const aggregate = PullProgress.fromLines([
      { status: "Downloading", id: "l1", current: 250, total: 1000 },
      { status: "Already exists", id: "l2" }
    ])
    const state = Transitions.pulling(ContainerState.initial("web", "busybox:latest"), aggregate)
    assert.deepStrictEqual(state.pull, {
      bytesDone: 250,
      bytesTotal: 1000,
      layersDone: 1,
      layersTotal: 2,
      percent: 25
    })
  })

  it("goes created, running, with health and stats", () => {
    const created = Transitions.created(ContainerState.initial("web", "busybox:latest"), "abc123")
    assert.strictEqual(created.status, "created")
    assert.strictEqual(created.id, "abc123")
    const started = Transitions.started(created, new Date("2024-05-14T09:12:00Z"))
    assert.strictEqual(started.status, "running")
    assert.strictEqual(started.startedAt?.toISOString(), "2024-05-14T09:12:00.000Z")
    const healthy = Transitions.health(started, "healthy")
    assert.strictEqual(healthy.health, "healthy")
    const withStats = Transitions.stats(healthy, snapshot)
    assert.strictEqual(withStats.cpuPercent, 12.5)
    assert.strictEqual(withStats.memoryPercent, 25)
    assert.strictEqual(withStats.rxRate, 800)
    assert.strictEqual(withStats.txTotal, 500)
    // Each transition is a new value; the old one is unchanged.
    assert.strictEqual(healthy.cpuPercent, undefined)
  })

  it("ignores stats that arrive when the container is not running", () => {
    const created = Transitions.created(ContainerState.initial("web", "busybox:latest"), "abc123")
    assert.strictEqual(Transitions.stats(created, snapshot), created)
    const exited = Transitions.exited(running(), { exitCode: 0, lastLogLines: [] })
    assert.strictEqual(Transitions.stats(exited, snapshot), exited)
  })

  it("keeps the last totals when a sample has none", () => {
    const withTotals = Transitions.stats(running(), snapshot)
    const noNetwork = Transitions.stats(withTotals, {
      ...snapshot,
      rxTotal: undefined,
      txTotal: undefined
    })
    assert.strictEqual(noNetwork.rxTotal, 5000)
  })

  it("exits with the code, the error with the last lines, and no live figures", () => {
    const state = Transitions.exited(Transitions.stats(running(), snapshot), {
      exitCode: 2,
      error: "OOMKilled",
      lastLogLines: ["starting", "out of memory"]
    })
    assert.strictEqual(state.status, "exited")
    assert.strictEqual(state.exitCode, 2)
    assert.strictEqual(state.error, "OOMKilled: exited with code 2; last output:\nstarting\nout of memory")
    assert.deepStrictEqual(state.lastLogLines, ["starting", "out of memory"])
    assert.strictEqual(state.cpuPercent, undefined)
    assert.strictEqual(state.rxRate, undefined)
    assert.strictEqual(state.rxTotal, 5000)
    assert.isTrue(ContainerState.isFinal(state))
  })

  it("has no error for a clean exit, and the engine's alone when removed before exiting", () => {
    assert.strictEqual(Transitions.exited(running(), { exitCode: 0, lastLogLines: ["bye"] }).error, undefined)
    const removed = Transitions.exited(running(), { exitCode: undefined, lastLogLines: [] })
    assert.strictEqual(removed.exitCode, undefined)
    assert.strictEqual(removed.error, undefined)
    assert.strictEqual(ContainerState.exitError({ exitCode: 1, lastLogLines: [] }), "exited with code 1")
  })

  it("carries the real restart count through restarting and the next start", () => {
    const restarting = Transitions.restarting(running(), 1, { exitCode: 1, lastLogLines: ["boom"] })
    assert.strictEqual(restarting.status, "restarting")
    assert.strictEqual(restarting.restartCount, 1)
    assert.strictEqual(restarting.exitCode, 1)
    assert.include(restarting.error ?? "", "boom")
    assert.isFalse(ContainerState.isFinal(restarting))
    const again = Transitions.started(restarting, new Date("2024-05-14T09:13:00Z"))
    assert.strictEqual(again.restartCount, 1)
    assert.strictEqual(again.exitCode, undefined)
    assert.strictEqual(again.error, undefined)
    assert.strictEqual(again.startedAt?.toISOString(), "2024-05-14T09:13:00.000Z")
    const twice = Transitions.restarting(again, 2)
    assert.strictEqual(twice.restartCount, 2)
  })

  it("is an immutable value compared by content", () => {
    const a = ContainerState.initial("web", "busybox:latest")
    const b = ContainerState.initial("web", "busybox:latest")
    assert.isTrue(Equal.equals(a, b))
    assert.isFalse(Equal.equals(a, Transitions.created(a, "abc")))
  })

  it("serialises to JSON with its fields", () => {
    const json = JSON.parse(JSON.stringify(Transitions.health(running(), "starting")))
    assert.strictEqual(json.status, "running")
    assert.strictEqual(json.health, "starting")
    assert.strictEqual(json.startedAt, "2024-05-14T09:12:00.000Z")
  })

  it("the deprecated public transitions still give the Supervisor's states", () => {
    const start = ContainerState.initial("web", "busybox:latest")
    const at = new Date("2024-05-14T09:12:00Z")
    const exit = { exitCode: 2, lastLogLines: ["no"] }
    const pairs: ReadonlyArray<readonly [ContainerState.ContainerState, ContainerState.ContainerState]> = [
      [ContainerState.pulling(start, PullProgress.empty), Transitions.pulling(start, PullProgress.empty)],
      [ContainerState.created(start, "abc"), Transitions.created(start, "abc")],
      [ContainerState.started(start, at), Transitions.started(start, at)],
      [ContainerState.health(running(), "healthy"), Transitions.health(running(), "healthy")],
      [ContainerState.stats(running(), snapshot), Transitions.stats(running(), snapshot)],
      [ContainerState.logLines(start, ["a"]), Transitions.logLines(start, ["a"])],
      [ContainerState.exited(running(), exit), Transitions.exited(running(), exit)],
      [ContainerState.restarting(running(), 3, exit), Transitions.restarting(running(), 3, exit)],
      [ContainerState.failed(start, "boom"), Transitions.failed(start, "boom")]
    ]
    for (const [deprecated, internal] of pairs)
      assert.isTrue(Equal.equals(deprecated, internal), JSON.stringify(deprecated))
  })
})
