import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import type { StatsSample } from "../src/DockerEngine.js"
import * as Stats from "../src/internal/stats.js"
import * as Wire from "../src/internal/wire.js"

// cgroup v1: recorded from this project's dockerd 20.10 stats stream (a busy `sh` loop, 64 MiB limit, two
// CPUs). cgroup v2: no v2 host here, so written after dockerd's v2 output, field for field (8 CPUs, no
// percpu_usage, `inactive_file` and no `total_*` keys, two interfaces). The first line of each is the
// stream's first sample, with an empty precpu_stats.
const recorded = (file: string): ReadonlyArray<StatsSample> =>
  readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => Result.getOrThrow(Wire.readStats(JSON.parse(line))))

const v1 = recorded("stats-cgroup-v1.ndjson")
const v2 = recorded("stats-cgroup-v2.ndjson")

const sampleAt = (samples: ReadonlyArray<StatsSample>, index: number): StatsSample => {
  const sample = samples[index]
  if (sample === undefined) throw new Error(`no sample ${index}`)
  return sample
}

const v1First = sampleAt(v1, 0)
const v1Second = sampleAt(v1, 1)
const v2First = sampleAt(v2, 0)
const v2Second = sampleAt(v2, 1)

describe("Stats.cpuPercent", () => {
  it("computes the CLI's figure on a recorded cgroup v1 sample", () => {
    // `docker stats` showed 49.94% for this sample: Δ total_usage 524322979 ns over Δ system
    // 2.1e12 ns, times 2 online CPUs, times 100.
    assert.closeTo(Stats.cpuPercent(v1Second) ?? Number.NaN, 49.935521809, 1e-6)
  })

  it("computes the CLI's figure on a cgroup v2 sample (online CPUs, no percpu)", () => {
    // 20.13%: Δ total_usage 201518000 ns over Δ system 8.01e9 ns, times 8 online CPUs, times 100.
    assert.closeTo(Stats.cpuPercent(v2Second) ?? Number.NaN, 20.126641698, 1e-6)
  })

  it("gives no figure for the first sample (empty precpu), not a spike", () => {
    assert.strictEqual(v1First.precpu.systemUsage, undefined)
    assert.strictEqual(Stats.cpuPercent(v1First), undefined)
    assert.strictEqual(Stats.cpuPercent(v2First), undefined)
  })

  it("is 0 unless both deltas are positive", () => {
    const same = { ...v1Second, precpu: v1Second.cpu }
    assert.strictEqual(Stats.cpuPercent(same), 0)
    const systemWentBack = { ...v1Second, cpu: { ...v1Second.cpu, systemUsage: 1 } }
    assert.strictEqual(Stats.cpuPercent(systemWentBack), 0)
    const usageWentBack = { ...v1Second, cpu: { ...v1Second.cpu, totalUsage: 0 } }
    assert.strictEqual(Stats.cpuPercent(usageWentBack), 0)
    const noSystemNow = { ...v1Second, cpu: { totalUsage: v1Second.cpu.totalUsage } }
    assert.strictEqual(Stats.cpuPercent(noSystemNow), 0)
  })

  it("falls back to the length of percpu_usage when online_cpus is 0 or missing", () => {
    const { onlineCpus: _dropped, ...cpuWithoutOnline } = v1Second.cpu
    const missing = { ...v1Second, cpu: cpuWithoutOnline }
    const zero = { ...v1Second, cpu: { ...v1Second.cpu, onlineCpus: 0 } }
    const withOnline = Stats.cpuPercent(v1Second)
    assert.strictEqual(v1Second.cpu.percpuUsage?.length, 2)
    assert.strictEqual(Stats.cpuPercent(missing), withOnline)
    assert.strictEqual(Stats.cpuPercent(zero), withOnline)
    // Neither: no CPU count, so no share of it.
    const { percpuUsage: _gone, ...bare } = cpuWithoutOnline
    assert.strictEqual(Stats.cpuPercent({ ...v1Second, cpu: bare }), 0)
  })
})

describe("Stats.memory", () => {
  it("is usage minus inactive_file on cgroup v2", () => {
    const memory = Stats.memory(v2Second)
    // usage 44650496 minus inactive_file 8278016, of a 256 MiB limit.
    assert.deepStrictEqual(memory, { used: 36372480, limit: 268435456, percent: 13.5498046875 })
  })

  it("is usage minus total_inactive_file on cgroup v1", () => {
    // The recorded v1 sample had no page cache; with some (as after writing a file), it is left out.
    const recordedMemory = Stats.memory(v1Second)
    assert.deepStrictEqual(recordedMemory, { used: 630784, limit: 67108864, percent: 0.93994140625 })
    const cached = {
      ...v1Second,
      memory: { ...v1Second.memory, usage: 21897216, totalInactiveFile: 12582912, inactiveFile: 4096 }
    }
    assert.strictEqual(Stats.memory(cached)?.used, 9314304)
  })

  it("keeps usage when the inactive file cache is not smaller than usage", () => {
    const odd = { ...v2Second, memory: { usage: 1000, limit: 4000, inactiveFile: 1000 } }
    assert.deepStrictEqual(Stats.memory(odd), { used: 1000, limit: 4000, percent: 25 })
    // v1's total larger than usage: the CLI then tries v2's key, as here.
    const v1Odd = {
      ...v1Second,
      memory: { usage: 1000, limit: 4000, totalInactiveFile: 5000, inactiveFile: 200 }
    }
    assert.strictEqual(Stats.memory(v1Odd)?.used, 800)
  })

  it("gives percent 0 with a limit of 0, and nothing without usage", () => {
    assert.deepStrictEqual(Stats.memory({ ...v2Second, memory: { usage: 5000, limit: 0 } }), {
      used: 5000,
      limit: 0,
      percent: 0
    })
    assert.deepStrictEqual(Stats.memory({ ...v2Second, memory: { usage: 5000 } }), {
      used: 5000,
      limit: 0,
      percent: 0
    })
    assert.strictEqual(Stats.memory({ ...v2Second, memory: {} }), undefined)
  })
})

describe("Stats.networkTotals", () => {
  it("sums every interface, or counts the named one", () => {
    // eth0 64076 / 13550 plus eth1 1000 / 200.
    assert.deepStrictEqual(Stats.networkTotals(v2Second), { rx: 65076, tx: 13750 })
    assert.deepStrictEqual(Stats.networkTotals(v2Second, "eth1"), { rx: 1000, tx: 200 })
    assert.deepStrictEqual(Stats.networkTotals(v1Second), { rx: 736, tx: 0 })
  })

  it("gives nothing without networks or without the named interface", () => {
    const { networks: _none, ...withoutNetworks } = v2Second
    assert.strictEqual(Stats.networkTotals(withoutNetworks), undefined)
    assert.strictEqual(Stats.networkTotals({ ...v2Second, networks: {} }), undefined)
    assert.strictEqual(Stats.networkTotals(v2Second, "wlan0"), undefined)
  })
})

describe("Stats rate window", () => {
  const at = (seconds: number) => Date.parse("2024-05-14T09:12:00Z") + seconds * 1000

  it("gives no rate from one sample, then bits per second averaged over the window", () => {
    let window = Stats.initialWindow(undefined, 3)
    window = Stats.pushRate(window, at(0), { rx: 0, tx: 0 })
    assert.strictEqual(Stats.rates(window), undefined)
    window = Stats.pushRate(window, at(1), { rx: 1000, tx: 100 })
    assert.deepStrictEqual(Stats.rates(window), { rx: 8000, tx: 800 })
    window = Stats.pushRate(window, at(2), { rx: 1000, tx: 100 })
    // Over the last 2 seconds: 1000 bytes.
    assert.deepStrictEqual(Stats.rates(window), { rx: 4000, tx: 400 })
    window = Stats.pushRate(window, at(3), { rx: 1000, tx: 100 })
    // The burst left the 3-sample window.
    assert.deepStrictEqual(Stats.rates(window), { rx: 0, tx: 0 })
  })

  it("starts over when the counters go down, and ignores samples out of order", () => {
    let window = Stats.initialWindow()
    window = Stats.pushRate(window, at(0), { rx: 5000, tx: 5000 })
    window = Stats.pushRate(window, at(1), { rx: 6000, tx: 6000 })
    window = Stats.pushRate(window, at(2), { rx: 10, tx: 10 })
    assert.strictEqual(Stats.rates(window), undefined)
    const same = Stats.pushRate(window, at(2), { rx: 99, tx: 99 })
    assert.strictEqual(same, window)
    const earlier = Stats.pushRate(window, at(1), { rx: 99, tx: 99 })
    assert.strictEqual(earlier, window)
  })

  it("steps a recorded stream: the first sample has no CPU and no rate, the second has both", () => {
    const [afterFirst, first] = Stats.step(Stats.initialWindow(), v2First)
    assert.strictEqual(first.cpuPercent, undefined)
    assert.strictEqual(first.rxRate, undefined)
    assert.strictEqual(first.rxTotal, 13876)
    assert.strictEqual(first.memoryUsed, 35835904)
    const [, second] = Stats.step(afterFirst, v2Second)
    // 51200 bytes received and 10240 sent on eth0 between the two reads, 1.002 s apart (the
    // sample times are read to the millisecond: 1.002 s).
    assert.closeTo(second.rxRate ?? Number.NaN, 408_782.43, 1)
    assert.closeTo(second.txRate ?? Number.NaN, 81_756.49, 1)
    assert.closeTo(second.cpuPercent ?? Number.NaN, 20.13, 0.01)
    assert.strictEqual(second.memoryLimit, 268435456)
  })

  it("counts one interface when the window names it", () => {
    const [window] = Stats.step(Stats.initialWindow("eth1"), v2First)
    const [, snapshot] = Stats.step(window, v2Second)
    assert.strictEqual(snapshot.rxTotal, 1000)
    assert.strictEqual(snapshot.rxRate, 0)
  })

  it("takes an explicit time over the sample's, and keeps no rate for the engine's zero time", () => {
    const zeroTime = { ...v2Second, read: "0001-01-01T00:00:00Z" }
    const [window, snapshot] = Stats.step(Stats.initialWindow(), zeroTime)
    assert.strictEqual(window.points.length, 0)
    assert.strictEqual(snapshot.rxTotal, 65076)
    const [later] = Stats.step(window, zeroTime, at(5))
    assert.strictEqual(later.points[0]?.at, at(5))
  })
})
