/**
 * The cgroup source against the engine's on busy containers (a CPU loop at part load, 8 MiB
 * in the /dev/shm tmpfs, pings of 1 KB to the gateway five times a second), over the same
 * seconds. Alignment: each engine sample (`one-shot`, answered in milliseconds) is bracketed
 * by a cgroup read just before it and one just after. CPU % over an interval: the cgroup's is
 * the mean of the figure from the reads before and the one from the reads after, so both
 * sources cover the same interval to within the milliseconds an engine answer takes. Bytes
 * over an interval: the cgroup's lie between "after to before" and "before to after" (a
 * packet may land inside a bracket), and the engine's must be within a packet of that range.
 * Memory, a gauge that moves inside a bracket too: within 1% of the range its two reads span.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as Cgroup from "../../src/internal/cgroup/cgroupStats.js"
import * as Stats from "../../src/internal/stats.js"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const labels = testLabels("stats-agreement")
const app = "test-stats-agreement"

/** The largest Ethernet frame: "within one packet's bytes". */
const packetBytes = 1514
const intervals = 5

const busy = [
  "dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null",
  "GW=$(ip route | awk '/default/ {print $3}')",
  'ping -q -i 0.2 -s 1000 "$GW" >/dev/null 2>&1 &',
  "trap 'exit 0' TERM",
  // The pause is a `read` that times out on a fifo nobody writes: a `sleep` would fork ten
  // times a second, and each fork's pages make the memory gauge jump between two reads.
  "mkfifo /tmp/pause; exec 3<>/tmp/pause",
  "while :; do i=0; while [ $i -lt 12000 ]; do i=$((i+1)); done; read -t 0.1 x <&3; done"
].join("\n")

interface Reading {
  readonly before: DockerEngine.StatsSample
  readonly engine: DockerEngine.StatsSample
  readonly after: DockerEngine.StatsSample
}

/** `intervals + 1` bracketed readings of container `id`, a second apart. */
const readings = (engine: DockerEngine.DockerEngineShape, id: string) =>
  Effect.gen(function* () {
    const pid = (yield* engine.inspectContainer(id)).state.pid
    const taken: Array<Reading> = []
    for (let index = 0; index <= intervals; index++) {
      if (index > 0) yield* Effect.sleep("1 second")
      const before = yield* Cgroup.sample(pid)
      const sample = yield* engine.statsOnce(id, { oneShot: true })
      const after = yield* Cgroup.sample(pid)
      taken.push({ before, engine: sample, after })
    }
    return taken
  })

/** CPU % from `from` to `to`, as the CLI computes it. */
const cpuBetween = (from: DockerEngine.StatsSample, to: DockerEngine.StatsSample) =>
  Stats.cpuPercent({ ...to, precpu: from.cpu }) ?? Number.NaN

const totals = (sample: DockerEngine.StatsSample) => Stats.networkTotals(sample) ?? { rx: 0, tx: 0 }

layer(liveLayer, { excludeTestServices: true })("stats agreement (local engine)", (it) => {
  it.effect(
    "cgroup and engine agree on busy containers: CPU % within 2 points, memory within 1%, rx/tx within a packet per interval",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const all = yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, labels, statsSource: "cgroup" })
            const handles = yield* Effect.forEach(
              [0, 1, 2],
              (index) =>
                supervisor.start({
                  name: `busy-${index}`,
                  image: "busybox:latest",
                  command: ["sh", "-c", busy],
                  resources: { memoryBytes: 64 * 1024 * 1024 },
                  stopTimeout: 1
                }),
              { concurrency: 3 }
            )
            // The tmpfs filled and the pings flowing.
            yield* Effect.sleep("2 seconds")
            return yield* Effect.forEach(handles, (handle) => readings(engine, handle.id), {
              concurrency: 3
            })
          })
        )
        let busiest = 0
        for (const [container, taken] of all.entries()) {
          for (let index = 1; index < taken.length; index++) {
            const from = taken[index - 1]!
            const to = taken[index]!
            const where = `container ${container}, interval ${index}`
            const engineCpu = cpuBetween(from.engine, to.engine)
            // The engine's interval starts and ends between the two cgroup reads around it: its CPU %
            // is compared with the range of the cgroup's over the intervals just before and after.
            const cgroupBefore = cpuBetween(from.before, to.before)
            const cgroupAfter = cpuBetween(from.after, to.after)
            const low = Math.min(cgroupBefore, cgroupAfter)
            const high = Math.max(cgroupBefore, cgroupAfter)
            const outside = engineCpu < low ? low - engineCpu : engineCpu > high ? engineCpu - high : 0
            busiest = Math.max(busiest, engineCpu)
            assert.isAtMost(
              outside,
              2,
              `${where}: CPU engine ${engineCpu.toFixed(2)}%, cgroup ${low.toFixed(2)}-${high.toFixed(2)}%`
            )
            for (const direction of ["rx", "tx"] as const) {
              const engineBytes = totals(to.engine)[direction] - totals(from.engine)[direction]
              // The cgroup's bytes over the interval lie between these (a packet may land
              // between a cgroup read and the engine's): the engine's must be within a packet.
              const least = totals(to.before)[direction] - totals(from.after)[direction]
              const most = totals(to.after)[direction] - totals(from.before)[direction]
              const off =
                engineBytes < least ? least - engineBytes : engineBytes > most ? engineBytes - most : 0
              assert.isAbove(engineBytes, 0, `${where}: no ${direction} traffic`)
              assert.isAtMost(
                off,
                packetBytes,
                `${where}: ${direction} engine ${engineBytes} bytes, cgroup ${least}-${most}`
              )
            }
          }
          for (const [index, reading] of taken.entries()) {
            const engineUsed = Stats.memory(reading.engine)?.used ?? Number.NaN
            const cgroupUsed = [reading.before, reading.after].map(
              (sample) => Stats.memory(sample)?.used ?? Number.NaN
            )
            assert.isAbove(engineUsed, 8 * 1024 * 1024, `container ${container}: the tmpfs is not counted`)
            // A gauge may move inside a bracket: the engine's figure must be within 1% of the
            // range the two reads span.
            const low = Math.min(...cgroupUsed)
            const high = Math.max(...cgroupUsed)
            const off = engineUsed < low ? low - engineUsed : engineUsed > high ? engineUsed - high : 0
            assert.isAtMost(
              off,
              0.01 * engineUsed,
              `container ${container}, reading ${index}: memory engine ${engineUsed}, cgroup ${cgroupUsed.join(" and ")}`
            )
          }
        }
        // The load is partial and visible: the comparison is not of zeros.
        assert.isAbove(busiest, 5)
        assert.isBelow(busiest, 95)
        yield* assertNoLeftovers(labels)
      }),
    { timeout: 120_000 }
  )
})
