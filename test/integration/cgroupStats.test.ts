import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { check } from "../../src/internal/cgroup/agreement.js"
import * as CgroupStats from "../../src/internal/cgroup/cgroupStats.js"
import * as Stats from "../../src/internal/stats.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const labels = testLabels("cgroup")
const image = "busybox:latest"
const memoryLimit = 64 * 1024 * 1024
// An ICMP echo request or reply on Ethernet: 14 + 20 + 8 + 56 bytes.
const echoBytes = 98

/** A running labelled container, force-removed when the test's scope closes. */
const running = (options: Omit<DockerEngine.CreateContainerOptions, "image" | "labels">) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const id = yield* Effect.acquireRelease(
      engine.createContainer({ image, labels, stopTimeout: 1, ...options }).pipe(Effect.map(({ id }) => id)),
      (id) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
    yield* engine.startContainer(id)
    return yield* engine.inspectContainer(id)
  })

layer(liveLayer, { excludeTestServices: true })("cgroup stats (live engine)", (it) => {
  it.effect(
    "a cgroup sample agrees with the engine's: CPU bracketed, memory within 1%, pids, rx/tx after traffic",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const target = yield* running({ cmd: ["sleep", "60"], memory: memoryLimit })
        const address = Object.values(target.networks)[0]?.ipAddress
        assert.isDefined(address)
        // Traffic from another container of this test: 3 echo requests in, 3 replies out.
        const pinger = yield* running({ cmd: ["ping", "-c", "3", "-W", "2", address ?? ""] })
        const pinged = yield* engine.waitContainer(pinger.id, { condition: "not-running" })
        assert.strictEqual(pinged.exitCode, 0, "the ping reached the target")

        const pid = target.state.pid
        const options = { containerId: target.id }
        const verdict = yield* check(pid, engine.statsOnce(target.id), options)
        assert.deepStrictEqual(verdict, { _tag: "Agrees" })

        const sample = yield* CgroupStats.sample(pid, options)
        assert.strictEqual(sample.pids, 1)
        assert.strictEqual(sample.memory.limit, memoryLimit)
        assert.isAbove(sample.memory.usage ?? 0, 0)
        assert.deepStrictEqual(Object.keys(sample.networks ?? {}), ["eth0"])
        const totals = Stats.networkTotals(sample)
        assert.isAtLeast(totals?.rx ?? 0, 3 * echoBytes)
        assert.isAtLeast(totals?.tx ?? 0, 3 * echoBytes)
        // Loopback traffic stays out of the totals unless `lo` is asked for, as with the engine.
        const loopback = yield* CgroupStats.sample(pid, { ...options, networkInterface: "lo" })
        assert.deepStrictEqual(Object.keys(loopback.networks ?? {}), ["lo"])
      }).pipe(Effect.scoped)
  )

  it.effect("the stream carries precpu and ends, without failing, when the container is removed", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const target = yield* running({ cmd: ["sh", "-c", "while true; do :; done"] })
      const fiber = yield* CgroupStats.stream(target.state.pid, {
        containerId: target.id,
        interval: "200 millis"
      }).pipe(Stream.runCollect, Effect.forkChild)
      yield* Effect.sleep("900 millis")
      yield* engine.removeContainer(target.id, { force: true })
      const samples = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))

      assert.isAtLeast(samples.length, 3)
      assert.deepStrictEqual(samples[0]?.precpu, { totalUsage: 0 })
      for (let index = 1; index < samples.length; index++) {
        assert.deepStrictEqual(samples[index]?.precpu, samples[index - 1]?.cpu)
      }
      // A busy loop on a 2-CPU machine: the CLI's CPU % of a later sample shows it.
      const busy = samples.slice(1).map((sample) => Stats.cpuPercent(sample) ?? 0)
      assert.isAbove(Math.max(...busy), 20)
    }).pipe(Effect.scoped)
  )

  it.effect("another container's engine sample disagrees; a pid outside the container is refused", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const target = yield* running({ cmd: ["sleep", "60"] })
      const other = yield* running({ cmd: ["sh", "-c", "while true; do :; done"] })
      const verdict = yield* check(target.state.pid, engine.statsOnce(other.id), { containerId: target.id })
      assert.strictEqual(verdict._tag, "Disagrees")
      assert.include(verdict._tag === "Disagrees" ? verdict.mismatches.map((m) => m.check) : [], "cpu")
      // This test process is not in the container's cgroup.
      const foreign = yield* Effect.flip(CgroupStats.sample(process.pid, { containerId: target.id }))
      assert.strictEqual(foreign.reason, "NotContainer")
    }).pipe(Effect.scoped)
  )

  it.effect("no container or network with the suite's labels remains", () => assertNoLeftovers(labels))
})
