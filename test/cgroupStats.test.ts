import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { StatsSample } from "../src/DockerEngine.js"
import { agreement } from "../src/internal/cgroup/agreement.js"
import type { CgroupUnavailable } from "../src/internal/cgroup/CgroupUnavailable.js"
import * as CgroupStats from "../src/internal/cgroup/cgroupStats.js"
import { cgroupFiles } from "../src/internal/cgroup/locate.js"
import * as Parse from "../src/internal/cgroup/parse.js"
import * as Stats from "../src/internal/stats.js"
import * as Wire from "../src/internal/wire.js"

// Fixture trees (see test/fixtures/cgroup/README.md): each is `/` for the reader, with the
// engine's answer for the same counters beside it where there is one.
const fixtures = fileURLToPath(new URL("./fixtures/cgroup/", import.meta.url))
const tree = (name: string) => Path.join(fixtures, name)
const fixtureText = (name: string, file: string) => Fs.readFileSync(Path.join(tree(name), file), "utf8")
const engineSample = (name: string): StatsSample =>
  Result.getOrThrow(Wire.readStats(JSON.parse(fixtureText(name, "engine.json"))))

const v1Id = "e2c7fb1ed0a71f35f7b23683d55363711255d937746192a40971123c42f8a852"
const v2Id = "5b2b4c3e0f1d2a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
const hostMemory = 24683548 * 1024

const ok = <A>(result: Result.Result<A, CgroupUnavailable>): A => {
  if (Result.isFailure(result)) throw new Error(`expected a value, got ${result.failure.message}`)
  return result.success
}
const failure = <A>(result: Result.Result<A, CgroupUnavailable>): CgroupUnavailable => {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

/** A writable copy of a fixture tree, removed when the test's scope closes. */
const copyOf = (name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), `cgroup-${name}-`))
      Fs.cpSync(tree(name), root, { recursive: true })
      return root
    }),
    (root) => Effect.sync(() => Fs.rmSync(root, { recursive: true, force: true }))
  )

describe("cgroup parsers", () => {
  it("reads v1 and v2 lines of /proc/<pid>/cgroup, controllers split", () => {
    const memberships = ok(
      Parse.procCgroup(fixtureText("v1-systemd", "proc/3127/cgroup"), "/proc/3127/cgroup")
    )
    assert.deepStrictEqual(memberships[3], {
      hierarchyId: 3,
      controllers: ["cpu", "cpuacct"],
      path: "/system.slice/docker-1d2a3f02e55eab3a2fa091c9339b5f023b5a6d73c5793edea06cca3bdf6985b9.scope"
    })
    assert.deepStrictEqual(memberships[5], {
      hierarchyId: 0,
      controllers: [],
      path: "/system.slice/containerd.service"
    })
    assert.deepStrictEqual(ok(Parse.procCgroup("0::/a:b\n", "f")), [
      { hierarchyId: 0, controllers: [], path: "/a:b" }
    ])
  })

  it("names the file and the line a malformed /proc/<pid>/cgroup has", () => {
    const error = failure(Parse.procCgroup("4:memory\n", "/proc/9/cgroup"))
    assert.strictEqual(error.reason, "Malformed")
    assert.strictEqual(error.path, "/proc/9/cgroup")
    assert.include(error.message, '"4:memory"')
  })

  it("finds the cgroup mounts of a recorded mountinfo: v1 hierarchies apart and the v2 one", () => {
    const mounts = ok(Parse.mountinfo(fixtureText("v1-cgroupfs", "proc/self/mountinfo"), "mountinfo"))
    assert.deepStrictEqual(
      mounts.map((mount) => `${mount.version} ${mount.mountPoint} ${mount.options.join(",")}`),
      [
        "1 /sys/fs/cgroup/cpu rw,cpu",
        "1 /sys/fs/cgroup/cpuacct rw,cpuacct",
        "1 /sys/fs/cgroup/cpuset rw,cpuset",
        "1 /sys/fs/cgroup/memory rw,memory",
        "1 /sys/fs/cgroup/devices rw,devices",
        "1 /sys/fs/cgroup/freezer rw,freezer",
        "1 /sys/fs/cgroup/blkio rw,blkio",
        "1 /sys/fs/cgroup/pids rw,pids",
        "1 /sys/fs/cgroup/systemd rw,name=systemd",
        "2 /sys/fs/cgroup/unified "
      ]
    )
    const escaped = ok(
      Parse.mountinfo("40 30 0:37 /a\\040b /mnt/my\\040cgroup rw shared:1 - cgroup2 cgroup2 rw\n", "m")
    )
    assert.deepStrictEqual(escaped, [{ version: 2, root: "/a b", mountPoint: "/mnt/my cgroup", options: [] }])
  })

  it("computes system_cpu_usage as Docker: the first 7 fields of the cpu line (no steal), ×1e9/USER_HZ", () => {
    const host = ok(
      Parse.procStat("cpu  10 1 20 300 4 5 6 7000 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\ncpu1 1\nintr 5\n", "s")
    )
    assert.deepStrictEqual(host, { systemUsage: (10 + 1 + 20 + 300 + 4 + 5 + 6) * 10_000_000, onlineCpus: 2 })
    // The recorded file gives the engine's figures.
    const recorded = engineSample("v1-cgroupfs").cpu
    assert.deepStrictEqual(ok(Parse.procStat(fixtureText("v1-cgroupfs", "proc/stat"), "/proc/stat")), {
      systemUsage: recorded.systemUsage ?? -1,
      onlineCpus: recorded.onlineCpus ?? -1
    })
    assert.strictEqual(failure(Parse.procStat("cpu 1 2 3\n", "/proc/stat")).reason, "Malformed")
  })

  it("reads every interface's bytes, packets, errors and drops from net/dev", () => {
    const text = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo:     520       6    0    0    0     0          0         0      520       6    0    0    0     0       0          0",
      "  eth0:12876543210     98    1    2    0     0          0         0     3310      31    3    4    0     0       0          0"
    ].join("\n")
    const interfaces = ok(Parse.netDev(text, "dev"))
    assert.deepStrictEqual(Object.keys(interfaces), ["lo", "eth0"])
    assert.deepStrictEqual(interfaces.eth0, {
      rxBytes: 12876543210,
      rxPackets: 98,
      rxErrors: 1,
      rxDropped: 2,
      txBytes: 3310,
      txPackets: 31,
      txErrors: 3,
      txDropped: 4
    })
    assert.strictEqual(
      failure(Parse.netDev(`${text}\n  eth1: 1 2 3\n`, "/proc/7/net/dev")).path,
      "/proc/7/net/dev"
    )
  })

  it("reads counters, limits and keyed values, telling inactive_file from total_inactive_file", () => {
    assert.strictEqual(ok(Parse.counter("331776\n", "f")), 331776)
    assert.strictEqual(failure(Parse.counter("-1\n", "f")).reason, "Malformed")
    assert.strictEqual(ok(Parse.limit("max\n", "f")), undefined)
    assert.strictEqual(ok(Parse.limit("268435456\n", "f")), 268435456)
    assert.deepStrictEqual(ok(Parse.perCpu("40796919 49489104 \n", "f")), [40796919, 49489104])
    const stat = "cache 5\ninactive_file 7\ntotal_inactive_file 9\n"
    assert.strictEqual(ok(Parse.keyed(stat, "inactive_file", "f")), 7)
    assert.strictEqual(ok(Parse.keyed(stat, "total_inactive_file", "f")), 9)
    assert.strictEqual(ok(Parse.keyed(stat, "cache", "f")), 5)
    assert.strictEqual(ok(Parse.keyed(stat, "active_file", "f")), undefined)
    assert.strictEqual(ok(Parse.memTotal("MemTotal:       24683548 kB\nMemFree: 1 kB\n", "f")), hostMemory)
  })
})

describe("locating a container's cgroup", () => {
  it("resolves a cgroup through a mount of a subtree (the mount's root is cut from the path)", () => {
    const files = ok(
      cgroupFiles(
        [{ hierarchyId: 0, controllers: [], path: "/kubepods/pod1/docker-abc.scope" }],
        [{ version: 2, root: "/kubepods", mountPoint: "/sys/fs/cgroup", options: [] }]
      )
    )
    assert.strictEqual(files.memoryUsage, "/sys/fs/cgroup/pod1/docker-abc.scope/memory.current")
  })

  it("says Missing when the process's v1 memory cgroup is on no mounted hierarchy", () => {
    const error = failure(
      cgroupFiles(
        [
          { hierarchyId: 2, controllers: ["cpuacct"], path: "/docker/abc" },
          { hierarchyId: 4, controllers: ["memory"], path: "/docker/abc" }
        ],
        [{ version: 1, root: "/", mountPoint: "/sys/fs/cgroup/cpuacct", options: ["rw", "cpuacct"] }]
      )
    )
    assert.strictEqual(error.reason, "Missing")
    assert.include(error.message, "memory")
  })
})

describe("cgroup samples against the engine's", () => {
  const agreesWithEngine = (name: string, pid: number, perCpu: boolean) =>
    Effect.gen(function* () {
      const engine = engineSample(name)
      const sample = yield* CgroupStats.sample(pid, { root: tree(name), perCpu })
      // The one-shot shape: no previous reading.
      assert.deepStrictEqual(sample.precpu, { totalUsage: 0 })
      assert.deepStrictEqual(
        { cpu: sample.cpu, memory: sample.memory, networks: sample.networks, pids: sample.pids },
        { cpu: engine.cpu, memory: engine.memory, networks: engine.networks, pids: engine.pids }
      )
      assert.deepStrictEqual(Stats.memory(sample), Stats.memory(engine))
    })

  it.effect("v1, cgroupfs driver (recorded here): the engine's counters, host memory as the limit", () =>
    Effect.gen(function* () {
      yield* agreesWithEngine("v1-cgroupfs", 16088, true)
      const sample = yield* CgroupStats.sample(16088, { root: tree("v1-cgroupfs"), containerId: v1Id })
      assert.strictEqual(sample.memory.limit, hostMemory)
      assert.isUndefined(sample.cpu.percpuUsage)
    })
  )

  it.effect("v1, systemd driver, cpu,cpuacct co-mounted, a memory limit", () =>
    agreesWithEngine("v1-systemd", 3127, true)
  )

  it.effect("v2, systemd driver: usage_usec in ns, memory.max, inactive_file only, two interfaces", () =>
    agreesWithEngine("v2-systemd", 2211, false)
  )

  it.effect(
    "v2, cgroupfs driver and rootless: located from /proc/<pid>/cgroup, `max` is the host's memory",
    () =>
      Effect.gen(function* () {
        for (const [name, pid] of [
          ["v2-cgroupfs", 2212],
          ["v2-rootless", 5321]
        ] as const) {
          const sample = yield* CgroupStats.sample(pid, { root: tree(name), containerId: v2Id })
          const engine = engineSample("v2-systemd")
          assert.strictEqual(sample.memory.limit, hostMemory, name)
          assert.deepStrictEqual({ ...sample.memory, limit: 0 }, { ...engine.memory, limit: 0 }, name)
          assert.deepStrictEqual(sample.cpu, engine.cpu, name)
        }
      })
  )

  it.effect("one interface when asked, `lo` included only by name", () =>
    Effect.gen(function* () {
      const eth1 = yield* CgroupStats.sample(2211, { root: tree("v2-systemd"), networkInterface: "eth1" })
      assert.deepStrictEqual(eth1.networks, { eth1: { rxBytes: 1000, txBytes: 200 } })
      const lo = yield* CgroupStats.sample(2211, { root: tree("v2-systemd"), networkInterface: "lo" })
      assert.deepStrictEqual(lo.networks, { lo: { rxBytes: 520, txBytes: 520 } })
      const none = yield* CgroupStats.sample(2211, { root: tree("v2-systemd"), networkInterface: "eth9" })
      assert.isUndefined(none.networks)
    })
  )
})

describe("when the cgroup cannot be read", () => {
  const reasonOf = <A>(effect: Effect.Effect<A, CgroupUnavailable>) =>
    Effect.map(Effect.flip(effect), (error) => ({ reason: error.reason, path: error.path }))

  it.effect("NotLinux off Linux, Gone for pid 0 or a process that is not there", () =>
    Effect.gen(function* () {
      const root = tree("v2-systemd")
      assert.deepStrictEqual(yield* reasonOf(CgroupStats.sample(2211, { root, platform: "darwin" })), {
        reason: "NotLinux",
        path: undefined
      })
      assert.strictEqual((yield* reasonOf(CgroupStats.sample(0, { root }))).reason, "Gone")
      assert.deepStrictEqual(yield* reasonOf(CgroupStats.sample(4444, { root })), {
        reason: "Gone",
        path: "/proc/4444/cgroup"
      })
    })
  )

  it.effect("NotContainer when the pid's cgroup is not the container's (a reused pid, a VM's pid)", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        CgroupStats.sample(2211, { root: tree("v2-systemd"), containerId: "0123456789ab" })
      )
      assert.strictEqual(error.reason, "NotContainer")
      assert.include(error.message, "0123456789ab")
    })
  )

  it.effect("Missing (naming the file) for a file absent beside a live process; Malformed for bad text", () =>
    Effect.gen(function* () {
      const root = yield* copyOf("v2-systemd")
      const scope = `/sys/fs/cgroup/system.slice/docker-${v2Id}.scope`
      Fs.rmSync(Path.join(root, scope, "pids.current"))
      assert.deepStrictEqual(yield* reasonOf(CgroupStats.sample(2211, { root })), {
        reason: "Missing",
        path: `${scope}/pids.current`
      })
      Fs.writeFileSync(Path.join(root, scope, "pids.current"), "seven\n")
      assert.deepStrictEqual(yield* reasonOf(CgroupStats.sample(2211, { root })), {
        reason: "Malformed",
        path: `${scope}/pids.current`
      })
    }).pipe(Effect.scoped)
  )

  it.effect("Gone when the process became a zombie (its net/dev is missing, its cgroup still there)", () =>
    Effect.gen(function* () {
      const root = yield* copyOf("v2-systemd")
      Fs.rmSync(Path.join(root, "proc/2211/net/dev"))
      Fs.writeFileSync(Path.join(root, "proc/2211/stat"), "2211 (sleep) Z 1 2211 2211 0 -1 4194560\n")
      assert.strictEqual((yield* Effect.flip(CgroupStats.sample(2211, { root }))).reason, "Gone")
    }).pipe(Effect.scoped)
  )
})

describe("the cgroup stats stream", () => {
  it.effect(
    "samples every interval, each carrying the previous cpu as precpu, and ends when the container exits",
    () =>
      Effect.gen(function* () {
        const root = yield* copyOf("v1-cgroupfs")
        const usageFile = Path.join(root, `sys/fs/cgroup/cpuacct/docker/${v1Id}/cpuacct.usage`)
        const fiber = yield* CgroupStats.stream(16088, { root, interval: "1 second" }).pipe(
          Stream.runCollect,
          Effect.forkChild
        )
        yield* TestClock.adjust("10 millis")
        Fs.writeFileSync(usageFile, "190286023\n")
        yield* TestClock.adjust("1 second")
        // The container exits: its process and cgroup go away.
        Fs.rmSync(Path.join(root, "proc/16088"), { recursive: true })
        Fs.rmSync(Path.join(root, `sys/fs/cgroup/cpuacct/docker/${v1Id}`), { recursive: true })
        yield* TestClock.adjust("1 second")
        const samples = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          samples.map((sample) => [sample.precpu.totalUsage, sample.cpu.totalUsage]),
          [
            [0, 90286023],
            [90286023, 190286023]
          ]
        )
        assert.deepStrictEqual(samples[1]?.precpu, samples[0]?.cpu)
        // Read at once, then one interval after the first read.
        assert.deepStrictEqual(
          samples.map((sample) => sample.read),
          [new Date(0).toISOString(), new Date(1000).toISOString()]
        )
        // The CLI formula works on the stream's second sample (Δ system is 0 in a frozen fixture).
        assert.strictEqual(Stats.cpuPercent(samples[1] as StatsSample), 0)
      }).pipe(Effect.scoped)
  )

  it.effect("is empty for a container already gone, and fails for a reason other than Gone", () =>
    Effect.gen(function* () {
      const gone = yield* Stream.runCollect(CgroupStats.stream(4444, { root: tree("v2-systemd") }))
      assert.strictEqual(gone.length, 0)
      const error = yield* Effect.flip(
        Stream.runCollect(CgroupStats.stream(2211, { root: tree("v2-systemd"), containerId: "not-it" }))
      )
      assert.strictEqual(error.reason, "NotContainer")
    })
  )
})

describe("one sampler for many containers", () => {
  /** The files of `root` this process has open. */
  const openUnder = (root: string) =>
    Fs.readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return Fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)
      } catch {
        return false
      }
    }).length

  it.effect(
    "samples every stream on one tick, through files opened once and closed when the streams end",
    () =>
      Effect.gen(function* () {
        const root = yield* copyOf("v1-cgroupfs")
        const usageFile = Path.join(root, `sys/fs/cgroup/cpuacct/docker/${v1Id}/cpuacct.usage`)
        const sampler = CgroupStats.makeSampler({ root, interval: "1 second" })
        const first = yield* sampler.stream(16088).pipe(Stream.runCollect, Effect.forkChild)
        yield* TestClock.adjust("300 millis")
        const second = yield* sampler.stream(16088).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
        yield* TestClock.adjust("10 millis")
        assert.isAbove(openUnder(root), 0)
        // Rewritten in place, as the kernel's counter moves: the kept-open file reads the new value.
        Fs.writeFileSync(usageFile, "190286023\n")
        yield* TestClock.adjust("690 millis")
        const seconds = yield* Fiber.join(second)
        // The second stream's first sample at once, its next on the shared tick at 1 s.
        assert.deepStrictEqual(
          seconds.map((sample) => [sample.read, sample.cpu.totalUsage]),
          [
            [new Date(300).toISOString(), 90286023],
            [new Date(1000).toISOString(), 190286023]
          ]
        )
        yield* Fiber.interrupt(first)
        assert.strictEqual(openUnder(root), 0)
      }).pipe(Effect.scoped)
  )
})

describe("agreement with an engine sample", () => {
  const engine = engineSample("v1-cgroupfs")
  const shifted = (
    sample: StatsSample,
    change: { cpu?: number; system?: number; rx?: number; memory?: number }
  ) => ({
    ...sample,
    cpu: {
      ...sample.cpu,
      totalUsage: sample.cpu.totalUsage + (change.cpu ?? 0),
      systemUsage: (sample.cpu.systemUsage ?? 0) + (change.system ?? 0)
    },
    memory: { ...sample.memory, usage: (sample.memory.usage ?? 0) + (change.memory ?? 0) },
    networks: { eth0: { rxBytes: 946 + (change.rx ?? 0), txBytes: 0 } }
  })

  it("agrees when the engine's counters fall between the cgroup's before and after", () => {
    const before = shifted(engine, { cpu: -1000, system: -10_000_000, rx: -98 })
    const after = shifted(engine, { cpu: 5000, system: 20_000_000, rx: 98, memory: 4096 })
    assert.deepStrictEqual(agreement({ before, engine, after }), { _tag: "Agrees" })
  })

  it("names what disagrees: CPU outside the bracket, memory off by more than 1%, other interfaces", () => {
    const used = Stats.memory(engine)?.used ?? 0
    const before = shifted(engine, { cpu: 1000, memory: Math.ceil(used * 0.02) })
    const after = { ...shifted(engine, { cpu: 2000, memory: Math.ceil(used * 0.02) }), networks: {} }
    const verdict = agreement({ before, engine, after })
    assert.strictEqual(verdict._tag, "Disagrees")
    assert.deepStrictEqual(
      verdict._tag === "Disagrees" ? verdict.mismatches.map((mismatch) => mismatch.check) : [],
      ["cpu", "memory", "networks"]
    )
    // A wider tolerance accepts the memory.
    const lenient = agreement({ before, engine, after: before }, { memory: 0.05 })
    assert.deepStrictEqual(lenient._tag === "Disagrees" ? lenient.mismatches.map((m) => m.check) : [], [
      "cpu"
    ])
  })
})
