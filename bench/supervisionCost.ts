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
import { Cause, Effect, Exit } from "effect"
import type * as DockerEngine from "../src/DockerEngine.js"
import { engineCpuMillis, engineProcesses, ownCpuMillis } from "./engineCpu.js"
import { atMost, compare, failed, figure, progress, type Row, type Settings } from "./harness.js"
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

/**
 * Per window: CPU milliseconds of the reader and of the engine (and of that, the containers'
 * shims'), and the stats samples the reader received. A reader that died is a `failure` (its
 * reason), and the windows it finished are kept.
 */
interface Windows {
  readonly client: ReadonlyArray<number>
  readonly engine: ReadonlyArray<number>
  /** The shims serve only these containers: the part of the engine's CPU no other client of a shared engine adds to. */
  readonly shims: ReadonlyArray<number>
  /** Samples received per window; empty when the reader cannot tell (`docker stats`). */
  readonly samples: ReadonlyArray<number>
  readonly failure?: string | undefined
}

/** What a window reads of a reader: its CPU so far, its samples so far, and why it ended. */
interface ReaderClock {
  readonly cpuMillis: () => number | undefined
  readonly samples: Effect.Effect<number | undefined>
  readonly ended: () => string | undefined
}

/**
 * Measures `size.windows` windows of `size.windowMs` after the settle: the CPU time and
 * samples `reader` reports and the engine's CPU for the containers `ids`. A reader that ends
 * stops the measurement with its reason instead of failing the scenario.
 */
const measure = (size: Size, ids: ReadonlyArray<string>, reader: ReaderClock, label: string) =>
  Effect.gen(function* () {
    // Garbage left by what ran before is collected now, and the sweep that follows a full
    // collection happens during the settle, not on a window's account.
    collectGarbage()
    yield* Effect.sleep(size.settleMs)
    const engine = engineProcesses(ids)
    const client: Array<number> = []
    const engineSamples: Array<number> = []
    const shims: Array<number> = []
    const samples: Array<number> = []
    const shimsOnly = { daemons: [], shims: engine.shims }
    let failure: string | undefined
    for (let window = 0; window < size.windows && failure === undefined; window++) {
      const clientBefore = reader.cpuMillis()
      const samplesBefore = yield* reader.samples
      const engineBefore = engineCpuMillis(engine)
      const shimsBefore = engineCpuMillis(shimsOnly)
      if (clientBefore !== undefined) yield* Effect.sleep(size.windowMs)
      const clientAfter = reader.cpuMillis()
      const samplesAfter = yield* reader.samples
      if (clientBefore === undefined || clientAfter === undefined) {
        failure = `${label} ended in window ${window + 1}: ${reader.ended() ?? "its CPU could not be read"}`
        break
      }
      client.push(clientAfter - clientBefore)
      engineSamples.push(engineCpuMillis(engine) - engineBefore)
      shims.push(engineCpuMillis(shimsOnly) - shimsBefore)
      if (samplesBefore !== undefined && samplesAfter !== undefined)
        samples.push(samplesAfter - samplesBefore)
    }
    yield* progress(
      `supervision N=${size.n} ${label}: client ${client.map((ms) => ms.toFixed(0)).join(", ")} ms, engine ${engineSamples.map((ms) => ms.toFixed(0)).join(", ")} ms (${engine.shims.length} shims), samples ${samples.length > 0 ? samples.join(", ") : "not counted"}${failure === undefined ? "" : `; FAILED: ${failure}`}`
    )
    return { client, engine: engineSamples, shims, samples, failure } satisfies Windows
  })

/** A reader child as a window's clock. */
const childClock = (reader: Reference.Reader): ReaderClock => ({
  cpuMillis: reader.cpuMillis,
  samples: reader.samples,
  ended: reader.ended
})

/** The network and containers of the references, removed when the scope closes, however it closes. */
const referenceContainers = (size: Size) =>
  Effect.gen(function* () {
    const network = yield* Effect.acquireRelease(
      Reference.createNetwork(`supervision-${size.n}`),
      (network) => Reference.removeNetwork(network)
    )
    const created: Array<string> = []
    // Registered before the creates: a create that fails still has the others removed.
    yield* Effect.addFinalizer(() => Effect.suspend(() => Reference.removeContainers(created)))
    const settled = yield* Effect.promise(() =>
      Promise.allSettled(
        Array.from({ length: size.n }, (_, index) =>
          Reference.createOnNetworkStart(
            network,
            `supervision-${size.n}-${index}`,
            Reference.serviceCommand
          ).then((container) => {
            created.push(container.id)
            return container
          })
        )
      )
    )
    const refused = settled.find((one) => one.status === "rejected")
    if (refused !== undefined) {
      return yield* Effect.fail(
        new Error(`creating the reference containers failed: ${String(refused.reason)}`)
      )
    }
    return settled.flatMap((one) => (one.status === "fulfilled" ? [one.value] : []))
  })

/** Phases 1-3 and 6: N containers started by hand, read by nobody, `docker stats`, raw dockerode, the bare cgroup reader. */
const references = (size: Size) =>
  Effect.scoped(
    Effect.gen(function* () {
      const containers = yield* referenceContainers(size)
      const ids = containers.map((container) => container.id)
      const nobody: ReaderClock = { cpuMillis: () => 0, samples: Effect.succeed(0), ended: () => undefined }
      const idle = yield* measure(size, ids, nobody, "nobody reading")
      const cli = yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* Reference.spawnReader("docker", ["stats", ...ids])
          const windows = yield* measure(size, ids, childClock(reader), "docker stats")
          const pid = reader.child.pid
          const rss = pid === undefined || reader.ended() !== undefined ? Number.NaN : Reference.rssOf(pid)
          return { windows, rss }
        })
      )
      const raw = yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* Reference.spawnReader(process.execPath, [rawStatsScript, ...ids], {
            counts: true
          })
          return yield* measure(size, ids, childClock(reader), "raw dockerode")
        })
      )
      const pids = yield* Effect.promise(() =>
        Promise.all(containers.map((container) => container.inspect().then((inspect) => inspect.State.Pid)))
      )
      const floor = (mode: "pread" | "readFile") =>
        Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* Reference.spawnReader(process.execPath, [
              cgroupFloorScript,
              mode,
              ...pids.map(String)
            ])
            return yield* measure(size, ids, childClock(reader), `bare node cgroup reader (${mode})`)
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
      // The consumer counts states carrying a CPU figure: one per sample unless a slow
      // consumer let the mailbox coalesce some (it keeps up here).
      const updates = Effect.sync(() => watched.reduce((sum, one) => sum + one.statsUpdates(), 0))
      const clock: ReaderClock = { cpuMillis: ownCpuMillis, samples: updates, ended: () => undefined }
      const windows = yield* measure(size, ids, clock, `ours, ${source} source`)
      collectGarbage()
      return { windows, heldPerContainer: (held() - heldBefore) / size.n }
    })
  )

/** Per window: the reader's CPU plus the engine's above the idle floor. */
const totals = (windows: Windows, floor: number) =>
  windows.client.map((client, index) => client + Math.max(0, (windows.engine[index] ?? Number.NaN) - floor))

/** Per window: the reader's CPU over the samples it received (ms per sample); empty when not counted. */
const perSample = (windows: Windows) =>
  windows.samples.length === windows.client.length
    ? windows.client.map((client, index) => client / Math.max(1, windows.samples[index] ?? 0))
    : []

const perWindowRatios = (ours: ReadonlyArray<number>, reference: ReadonlyArray<number>) =>
  ours.map((mine, index) => (mine / (reference[index] ?? Number.NaN)).toFixed(2)).join(", ")

/** `row`, or a failed row naming the reader(s) that died. */
const unlessFailed = (row: Row, ...windows: ReadonlyArray<Windows>): Row => {
  const failures = windows.flatMap((one) => (one.failure === undefined ? [] : [one.failure]))
  return failures.length === 0 ? row : { ...failed(row.scenario, failures.join("; ")), note: row.note }
}

const samplesNote = (windows: Windows) =>
  windows.samples.length === 0 ? "not counted" : `${windows.samples.join(", ")} samples per window`

const rowsFor = (
  size: Size,
  measured: {
    readonly idle: Windows
    readonly cli: { readonly windows: Windows; readonly rss: number }
    readonly raw: Windows
    readonly floorPread: Windows
    readonly floorReadFile: Windows
    readonly cgroup: { readonly windows: Windows; readonly heldPerContainer: number }
    readonly engine: { readonly windows: Windows; readonly heldPerContainer: number }
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
    unlessFailed(
      compare(
        `${name}: total CPU, cgroup source`,
        total(cgroup.windows),
        { name: "docker stats (CLI) + engine", figure: cliTotal },
        atMost(0.2),
        `ours ${breakdown(cgroup.windows)}; docker stats ${breakdown(cli.windows)}; per window ${perWindowRatios(totals(cgroup.windows, floor.median), totals(cli.windows, floor.median))}; ours ${samplesNote(cgroup.windows)}`
      ),
      idle,
      cli.windows,
      cgroup.windows
    ),
    unlessFailed(
      compare(
        `${name}: total CPU, cgroup source`,
        total(cgroup.windows),
        { name: "bare node cgroup reader, files kept open (node child) + engine", figure: total(floorPread) },
        undefined,
        `the floor of this design: ${breakdown(floorPread)}; per window ${perWindowRatios(totals(cgroup.windows, floor.median), totals(floorPread, floor.median))}; opening the files every second instead: ${breakdown(floorReadFile)}`
      ),
      idle,
      floorPread,
      floorReadFile,
      cgroup.windows
    ),
    unlessFailed(
      compare(
        `${name}: total CPU, engine source`,
        total(engine.windows),
        { name: "docker stats (CLI) + engine", figure: cliTotal },
        undefined,
        `ours ${breakdown(engine.windows)}`
      ),
      idle,
      cli.windows,
      engine.windows
    ),
    unlessFailed(
      compare(`${name}: total CPU, engine source`, total(engine.windows), {
        name: "raw dockerode (node child) + engine",
        figure: rawTotal
      }),
      idle,
      raw,
      engine.windows
    ),
    unlessFailed(
      compare(
        `supervision N=${size.n}: client CPU per stats sample, engine source`,
        figure(perSample(engine.windows), "cpu-ms"),
        { name: "raw dockerode + JSON.parse (node child)", figure: figure(perSample(raw), "cpu-ms") },
        atMost(1.25),
        `per window ${perWindowRatios(perSample(engine.windows), perSample(raw))}; ours ${samplesNote(engine.windows)}, raw ${samplesNote(raw)}`
      ),
      raw,
      engine.windows
    ),
    unlessFailed(
      compare(
        `${name}: client CPU, engine source`,
        figure(engine.windows.client, "cpu-ms"),
        { name: "raw dockerode + JSON.parse (node child)", figure: figure(raw.client, "cpu-ms") },
        undefined,
        `per window ${perWindowRatios(engine.windows.client, raw.client)} (the per-sample row is the target's)`
      ),
      raw,
      engine.windows
    ),
    unlessFailed(
      compare(
        `${name}: client CPU, engine source`,
        figure(engine.windows.client, "cpu-ms"),
        { name: "docker stats (CLI)", figure: figure(cli.windows.client, "cpu-ms") },
        undefined,
        "docker stats' samples are not counted (it prints a table, not samples); the engine streams one a second per container"
      ),
      cli.windows,
      engine.windows
    ),
    unlessFailed(
      {
        scenario: `${name}: engine idle floor (nobody reading)`,
        ours: floor,
        note: `dockerd + containerd + the ${size.n} shims; the shims alone ${shimFloor.toFixed(0)} cpu-ms`
      },
      idle
    ),
    unlessFailed(
      compare(
        `supervision N=${size.n}: memory per container (heap + external)`,
        figure([mib(engine.heldPerContainer)], "MiB"),
        { name: "docker stats RSS / N", figure: figure([mib(cli.rss / size.n)], "MiB") },
        undefined,
        `engine source; with the cgroup source ${mib(cgroup.heldPerContainer).toFixed(2)} MiB`
      ),
      cli.windows
    )
  ]
}

export const run = (
  settings: Settings
): Effect.Effect<ReadonlyArray<Row>, unknown, DockerEngine.DockerEngine> =>
  Effect.gen(function* () {
    const rows: Array<Row> = []
    for (const size of sizes(settings)) {
      // A size that fails (a Supervisor or the engine, not a reader: those are failed rows)
      // is a failed row of its own, and the next size still runs.
      const exit = yield* Effect.exit(
        Effect.gen(function* () {
          const { idle, cli, raw, floorPread, floorReadFile } = yield* references(size)
          const cgroup = yield* ours(size, "cgroup")
          const engine = yield* ours(size, "engine")
          return rowsFor(size, { idle, cli, raw, floorPread, floorReadFile, cgroup, engine })
        })
      )
      if (Exit.isSuccess(exit)) rows.push(...exit.value)
      else {
        const error = Cause.squash(exit.cause)
        rows.push(failed(`supervision N=${size.n}`, error instanceof Error ? error.message : String(error)))
        yield* Reference.cleanup
      }
    }
    return rows
  })
