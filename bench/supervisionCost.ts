/**
 * Scenario 3, supervision cost: what watching N containers' stats costs the machine, the
 * engine included. Each stats sample the engine serves costs it milliseconds of CPU (in
 * `dockerd`, `containerd` and the container's shim) against well under one in any client, so
 * a reader's cost is its own CPU plus the engine's above its idle floor.
 *
 * For each N (20 and 100; 2 with `--quick`), phase after phase, each over the same windows
 * (three of 30 s, median and spread):
 *
 * 1. N containers started by hand, nobody reading stats: the engine's idle floor;
 * 2. the same containers, `docker stats` (the CLI, output to /dev/null) reading them;
 * 3. the same containers, raw dockerode reading their stats streams in a Node child;
 * 4. N containers under a Supervisor with the cgroup source;
 * 5. N containers under a Supervisor with the engine source;
 * 6. the containers of 1-3 read by a bare Node loop (`bench/cgroupFloor.ts`), files kept open
 *    and files opened every second: the floor of the cgroup source.
 *
 * Per window: the reader's CPU (this process, or the child's from /proc/<pid>/stat) and the
 * engine's (`bench/engineCpu.ts`), minus the floor. Memory per container: what this process
 * holds (V8 heap in use plus memory outside it, after a full GC) while supervising, minus
 * before, over N.
 */
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type * as DockerEngine from "../src/DockerEngine.js"
import { engineCpuMillis, engineProcesses, ownCpuMillis } from "./engineCpu.js"
import { atMost, compare, figure, progress, type Row, type Settings } from "./harness.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

const rawStatsScript = fileURLToPath(new URL("./rawStats.js", import.meta.url))
const cgroupFloorScript = fileURLToPath(new URL("./cgroupFloor.js", import.meta.url))

const mib = (bytes: number) => bytes / 2 ** 20

/** What this process holds: V8's heap in use and the memory of buffers outside it. */
const held = () => {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}

const collectGarbage = () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
}

interface Size {
  readonly n: number
  readonly windows: number
  readonly windowMs: number
  /** Before the first window of a phase: the reader's streams open and its JIT settles. */
  readonly settleMs: number
}

const sizes = (settings: Settings): ReadonlyArray<Size> =>
  settings.sizes !== undefined
    ? settings.sizes.map((n) => ({
        n,
        windows: 3,
        windowMs: (settings.windowSeconds ?? 30) * 1000,
        settleMs: 10_000
      }))
    : settings.quick
      ? // Enough to run every phase (CI keeps the bench from rotting), not to measure anything.
        [{ n: 2, windows: 1, windowMs: 2_000, settleMs: 500 }]
      : [
          { n: 20, windows: 3, windowMs: 30_000, settleMs: 10_000 },
          { n: 100, windows: 3, windowMs: 30_000, settleMs: 10_000 }
        ]

/** CPU milliseconds per window: the reader's and the engine's (and of that, the containers' shims'). */
interface Windows {
  readonly client: ReadonlyArray<number>
  readonly engine: ReadonlyArray<number>
  /** The shims serve only these containers: the part of the engine's CPU no other client of a shared engine adds to. */
  readonly shims: ReadonlyArray<number>
}

/**
 * Measures `size.windows` windows of `size.windowMs` after the settle: the CPU time `clientCpu`
 * reports and the engine's for the containers `ids`.
 */
const measure = (size: Size, ids: ReadonlyArray<string>, clientCpu: () => number, label: string) =>
  Effect.gen(function* () {
    // Garbage left by what ran before is collected now, and the sweep that follows a full
    // collection happens during the settle, not on a window's account.
    collectGarbage()
    yield* Effect.sleep(size.settleMs)
    const engine = engineProcesses(ids)
    const client: Array<number> = []
    const engineSamples: Array<number> = []
    const shims: Array<number> = []
    const shimsOnly = { daemons: [], shims: engine.shims }
    for (let window = 0; window < size.windows; window++) {
      const clientBefore = clientCpu()
      const engineBefore = engineCpuMillis(engine)
      const shimsBefore = engineCpuMillis(shimsOnly)
      yield* Effect.sleep(size.windowMs)
      client.push(clientCpu() - clientBefore)
      engineSamples.push(engineCpuMillis(engine) - engineBefore)
      shims.push(engineCpuMillis(shimsOnly) - shimsBefore)
    }
    yield* progress(
      `supervision N=${size.n} ${label}: client ${client.map((ms) => ms.toFixed(0)).join(", ")} ms, engine ${engineSamples.map((ms) => ms.toFixed(0)).join(", ")} ms (${engine.shims.length} shims)`
    )
    return { client, engine: engineSamples, shims } satisfies Windows
  })

/** The CPU of a child process, by pid, as a window's clock. */
const childCpu = (pid: number | undefined) => {
  if (pid === undefined) throw new Error("the reference reader did not start")
  return () => Reference.cpuMillisOf(pid)
}

/** Phases 1-3: N containers started by hand, read by nobody, by `docker stats`, by raw dockerode. */
const references = (size: Size) =>
  Effect.scoped(
    Effect.gen(function* () {
      const network = yield* Reference.createNetwork(`supervision-${size.n}`)
      const containers = yield* Effect.acquireRelease(
        Effect.promise(() =>
          Promise.all(
            Array.from({ length: size.n }, (_, index) =>
              Reference.createOnNetworkStart(
                network,
                `supervision-${size.n}-${index}`,
                Reference.serviceCommand
              )
            )
          )
        ),
        (containers) =>
          Reference.removeContainers(containers.map((container) => container.id)).pipe(
            Effect.andThen(Reference.removeNetwork(network))
          )
      )
      const ids = containers.map((container) => container.id)
      const idle = yield* measure(size, ids, () => 0, "nobody reading")
      const cli = yield* Effect.scoped(
        Effect.gen(function* () {
          const { child } = yield* Reference.spawnQuiet("docker", ["stats", ...ids])
          const windows = yield* measure(size, ids, childCpu(child.pid), "docker stats")
          return { windows, rss: child.pid === undefined ? Number.NaN : Reference.rssOf(child.pid) }
        })
      )
      const raw = yield* Effect.scoped(
        Effect.gen(function* () {
          const { child } = yield* Reference.spawnQuiet(process.execPath, [rawStatsScript, ...ids])
          return yield* measure(size, ids, childCpu(child.pid), "raw dockerode")
        })
      )
      const pids = yield* Effect.promise(() =>
        Promise.all(containers.map((container) => container.inspect().then((inspect) => inspect.State.Pid)))
      )
      const floor = (mode: "pread" | "readFile") =>
        Effect.scoped(
          Effect.gen(function* () {
            const { child } = yield* Reference.spawnQuiet(process.execPath, [
              cgroupFloorScript,
              mode,
              ...pids.map(String)
            ])
            return yield* measure(size, ids, childCpu(child.pid), `bare node cgroup reader (${mode})`)
          })
        )
      const floorPread = yield* floor("pread")
      const floorReadFile = yield* floor("readFile")
      return { idle, cli, raw, floorPread, floorReadFile }
    })
  )

/** Phases 4-5: N containers under a Supervisor with `source`, measured as the references are. */
const ours = (size: Size, source: "cgroup" | "engine") =>
  Effect.scoped(
    Effect.gen(function* () {
      const { supervisor } = yield* Ours.instance({ statsSource: source })
      collectGarbage()
      const heldBefore = held()
      const watched = yield* Effect.forEach(
        Array.from({ length: size.n }, (_, index) => index),
        (index) => Ours.watch(supervisor, Ours.spec(`c${index}`, Reference.serviceCommand)),
        { concurrency: "unbounded" }
      )
      yield* Ours.allRunning(watched)
      // Each container's stats have given a CPU figure: the samples are flowing.
      yield* Effect.sleep("500 millis").pipe(
        Effect.repeat({ until: () => watched.every((one) => one.statsUpdates() > 0) }),
        Effect.timeout("60 seconds")
      )
      const ids = (yield* supervisor.list()).map((container) => container.id)
      const updatesBefore = watched.reduce((sum, one) => sum + one.statsUpdates(), 0)
      const windows = yield* measure(size, ids, ownCpuMillis, `ours, ${source} source`)
      const updates = watched.reduce((sum, one) => sum + one.statsUpdates(), 0) - updatesBefore
      collectGarbage()
      return { windows, updates, heldPerContainer: (held() - heldBefore) / size.n }
    })
  )

/** Per window: the reader's CPU plus the engine's above the idle floor. */
const totals = (windows: Windows, floor: number) =>
  windows.client.map((client, index) => client + Math.max(0, (windows.engine[index] ?? Number.NaN) - floor))

const perWindowRatios = (ours: ReadonlyArray<number>, reference: ReadonlyArray<number>) =>
  ours.map((mine, index) => (mine / (reference[index] ?? Number.NaN)).toFixed(2)).join(", ")

const rowsFor = (
  size: Size,
  measured: {
    readonly idle: Windows
    readonly cli: { readonly windows: Windows; readonly rss: number }
    readonly raw: Windows
    readonly floorPread: Windows
    readonly floorReadFile: Windows
    readonly cgroup: {
      readonly windows: Windows
      readonly updates: number
      readonly heldPerContainer: number
    }
    readonly engine: {
      readonly windows: Windows
      readonly updates: number
      readonly heldPerContainer: number
    }
  }
): ReadonlyArray<Row> => {
  const { idle, cli, raw, floorPread, floorReadFile, cgroup, engine } = measured
  const floor = figure(idle.engine, "cpu-ms")
  const shimFloor = figure(idle.shims, "cpu-ms").median
  const name = `supervision N=${size.n}, ${size.windowMs / 1000} s`
  const total = (windows: Windows) => figure(totals(windows, floor.median), "cpu-ms")
  const cliTotal = total(cli.windows)
  const rawTotal = total(raw)
  const breakdown = (windows: Windows) =>
    `client ${figure(windows.client, "cpu-ms").median.toFixed(0)} + engine ${Math.max(0, figure(windows.engine, "cpu-ms").median - floor.median).toFixed(0)} cpu-ms above its idle floor (shims alone ${Math.max(0, figure(windows.shims, "cpu-ms").median - shimFloor).toFixed(0)})`
  return [
    compare(
      `${name}: total CPU, cgroup source`,
      total(cgroup.windows),
      { name: "docker stats (CLI) + engine", figure: cliTotal },
      atMost(0.2),
      `ours ${breakdown(cgroup.windows)}; docker stats ${breakdown(cli.windows)}; per window ${perWindowRatios(totals(cgroup.windows, floor.median), totals(cli.windows, floor.median))}; ${cgroup.updates} stats updates`
    ),
    compare(
      `${name}: total CPU, cgroup source`,
      total(cgroup.windows),
      { name: "bare node cgroup reader, files kept open (node child) + engine", figure: total(floorPread) },
      undefined,
      `the floor of this design: ${breakdown(floorPread)}; per window ${perWindowRatios(totals(cgroup.windows, floor.median), totals(floorPread, floor.median))}; opening the files every second instead: ${breakdown(floorReadFile)}; the floor against docker stats ${(figure(totals(floorPread, floor.median), "cpu-ms").median / cliTotal.median).toFixed(2)}x`
    ),
    compare(
      `${name}: total CPU, engine source`,
      total(engine.windows),
      { name: "docker stats (CLI) + engine", figure: cliTotal },
      undefined,
      `ours ${breakdown(engine.windows)}; ${engine.updates} stats updates`
    ),
    compare(`${name}: total CPU, engine source`, total(engine.windows), {
      name: "raw dockerode (node child) + engine",
      figure: rawTotal
    }),
    compare(
      `${name}: client CPU, engine source`,
      figure(engine.windows.client, "cpu-ms"),
      { name: "raw dockerode + JSON.parse (node child)", figure: figure(raw.client, "cpu-ms") },
      atMost(1.25),
      `per window ${perWindowRatios(engine.windows.client, raw.client)}`
    ),
    compare(`${name}: client CPU, engine source`, figure(engine.windows.client, "cpu-ms"), {
      name: "docker stats (CLI)",
      figure: figure(cli.windows.client, "cpu-ms")
    }),
    {
      scenario: `${name}: engine idle floor (nobody reading)`,
      ours: floor,
      note: `dockerd + containerd + the ${size.n} shims; the shims alone ${shimFloor.toFixed(0)} cpu-ms`
    },
    compare(
      `supervision N=${size.n}: memory per container (heap + external)`,
      figure([mib(engine.heldPerContainer)], "MiB"),
      { name: "docker stats RSS / N", figure: figure([mib(cli.rss / size.n)], "MiB") },
      undefined,
      `engine source; with the cgroup source ${mib(cgroup.heldPerContainer).toFixed(2)} MiB`
    )
  ]
}

export const run = (
  settings: Settings
): Effect.Effect<ReadonlyArray<Row>, unknown, DockerEngine.DockerEngine> =>
  Effect.gen(function* () {
    const rows: Array<Row> = []
    for (const size of sizes(settings)) {
      const { idle, cli, raw, floorPread, floorReadFile } = yield* references(size)
      const cgroup = yield* ours(size, "cgroup")
      const engine = yield* ours(size, "engine")
      rows.push(...rowsFor(size, { idle, cli, raw, floorPread, floorReadFile, cgroup, engine }))
    }
    return rows
  })
