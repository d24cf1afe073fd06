/**
 * What watching N containers costs the machine, engine included: 30 s windows with nobody
 * reading stats, with the engine's N stats streams read by raw dockerode in this process, and
 * with the cgroup reader (`internal/cgroup`) sampling the same N once a second. Per window:
 * the CPU time of the engine (`dockerd`, its `containerd`, the containers' `containerd-shim*`,
 * from /proc/<pid>/stat) and of this process (`process.cpuUsage`).
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/cgroupCost.js [containers=20] [seconds=30]
 *
 * Local engine on Linux only (the cgroup reader needs the containers' pids on this machine).
 */
import { readdirSync, readFileSync } from "node:fs"
import type { Readable } from "node:stream"
import { Effect, Fiber, Stream } from "effect"
import * as CgroupStats from "../src/internal/cgroup/cgroupStats.js"
import * as Stats from "../src/internal/stats.js"
import { cpuMillisOf, docker, image, labels, memoryBytes, runId, serviceCommand } from "./reference.js"

const containers = Number(process.argv[2] ?? 20)
const seconds = Number(process.argv[3] ?? 30)

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return ""
  }
}

const processes = (): ReadonlyArray<{ readonly pid: number; readonly command: string }> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => ({ pid: Number(name), command: cmdline(Number(name)) }))

/**
 * The engine on the default socket: the dockerd without another `-H`, the containerd it runs
 * and the shims of the bench's containers (other containers' shims, of other engines or of
 * tests running beside the bench, are left out; dockerd and containerd serve them too).
 */
const enginePids = (
  ids: ReadonlyArray<string>
): { readonly daemons: ReadonlyArray<number>; readonly shims: ReadonlyArray<number> } => {
  const all = processes()
  const dockerd = all.find(
    ({ command }) =>
      /(^|\/)dockerd /.test(command) &&
      (!/ -H |--host/.test(command) || command.includes("/var/run/docker.sock"))
  )
  if (dockerd === undefined) throw new Error("no dockerd on the default socket")
  const parentOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  }
  const containerd = all.find(
    ({ pid, command }) => /(^|\/)containerd /.test(command) && parentOf(pid) === dockerd.pid
  )
  const shims = all.filter(
    ({ command }) => command.includes("containerd-shim") && ids.some((id) => command.includes(`-id ${id}`))
  )
  return {
    daemons: [dockerd.pid, ...(containerd === undefined ? [] : [containerd.pid])],
    shims: shims.map(({ pid }) => pid)
  }
}

const engineCpuMillis = (pids: ReadonlyArray<number>) =>
  pids.reduce((sum, pid) => {
    try {
      return sum + cpuMillisOf(pid)
    } catch {
      return sum
    }
  }, 0)
const ownCpuMillis = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

interface Window {
  readonly reader: string
  readonly engineSeconds: number
  /** The bench containers' shims alone: no other client's work lands there. */
  readonly shimSeconds: number
  readonly clientSeconds: number
  readonly samples: number
  /** The highest container CPU share seen (raw: of the host; cgroup: the CLI's %), a check the samples were used. */
  readonly busiest: number
}

/** Runs `during` for the window's length and measures both sides. */
const window = async (
  ids: ReadonlyArray<string>,
  reader: string,
  during: (stop: Promise<void>) => Promise<{ readonly samples: number; readonly busiest: number }>
): Promise<Window> => {
  const pids = enginePids(ids)
  const engineBefore = engineCpuMillis([...pids.daemons, ...pids.shims])
  const shimsBefore = engineCpuMillis(pids.shims)
  const ownBefore = ownCpuMillis()
  const stop = new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000))
  const { samples, busiest } = await during(stop)
  return {
    reader,
    engineSeconds: (engineCpuMillis([...pids.daemons, ...pids.shims]) - engineBefore) / 1000,
    shimSeconds: (engineCpuMillis(pids.shims) - shimsBefore) / 1000,
    clientSeconds: (ownCpuMillis() - ownBefore) / 1000,
    samples,
    busiest
  }
}

/** The engine's streams read by hand, as `bench/rawStats.ts` does. */
const engineStreams = (ids: ReadonlyArray<string>) => async (stop: Promise<void>) => {
  let samples = 0
  let busiest = 0
  const responses = await Promise.all(
    ids.map(async (id) => {
      const response = (await docker.getContainer(id).stats({ stream: true })) as unknown as Readable
      let buffered = ""
      response.setEncoding("utf8")
      response.on("data", (text: string) => {
        buffered += text
        for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          if (line.trim().length === 0) continue
          const sample = JSON.parse(line) as {
            cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number }
            precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number }
          }
          const cpu =
            (sample.cpu_stats?.cpu_usage?.total_usage ?? 0) -
            (sample.precpu_stats?.cpu_usage?.total_usage ?? 0)
          const system =
            (sample.cpu_stats?.system_cpu_usage ?? 0) - (sample.precpu_stats?.system_cpu_usage ?? 0)
          busiest = Math.max(busiest, system > 0 ? (cpu / system) * 100 : 0)
          samples++
        }
      })
      return response
    })
  )
  await stop
  for (const response of responses) response.destroy()
  return { samples, busiest }
}

/** The cgroup reader on the same containers, once a second each. */
const cgroupStreams =
  (pids: ReadonlyArray<{ readonly id: string; readonly pid: number }>) => (stop: Promise<void>) =>
    Effect.runPromise(
      Effect.gen(function* () {
        let samples = 0
        let busiest = 0
        const fibers = yield* Effect.forEach(pids, ({ id, pid }) =>
          CgroupStats.stream(pid, { containerId: id, interval: "1 second" }).pipe(
            Stream.runForEach((sample) =>
              Effect.sync(() => {
                busiest = Math.max(busiest, Stats.cpuPercent(sample) ?? 0)
                samples++
              })
            ),
            Effect.forkChild
          )
        )
        yield* Effect.promise(() => stop)
        yield* Fiber.interruptAll(fibers)
        return { samples, busiest }
      })
    )

const main = async () => {
  process.stderr.write(`[cgroupCost] ${containers} containers, ${seconds} s windows, run ${runId}\n`)
  const created: Array<{ readonly id: string; readonly pid: number }> = []
  try {
    for (let index = 0; index < containers; index++) {
      const container = await docker.createContainer({
        name: `${runId}-cgroup-${index}`,
        Image: image,
        Cmd: [...serviceCommand],
        Labels: { ...labels },
        HostConfig: { Memory: memoryBytes }
      })
      await container.start()
      const inspected = await container.inspect()
      created.push({ id: container.id, pid: inspected.State.Pid })
    }
    // Let the starts settle before the idle window.
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const ids = created.map(({ id }) => id)
    const results = [
      await window(ids, "nobody", async (stop) => {
        await stop
        return { samples: 0, busiest: 0 }
      }),
      await window(ids, "engine streams (raw dockerode)", engineStreams(ids)),
      await window(ids, "cgroup reader", cgroupStreams(created))
    ]
    const idle = results[0]?.engineSeconds ?? 0
    process.stdout.write(
      `${JSON.stringify({ containers, seconds, machine: { cpus: readdirSync("/sys/devices/system/cpu").filter((n) => /^cpu\d+$/.test(n)).length }, results, engineIdleSeconds: idle }, null, 2)}\n`
    )
    process.stdout.write(
      "\n| reader | engine CPU s | engine above idle s | of which shims s | client CPU s | samples |\n| --- | --- | --- | --- | --- | --- |\n"
    )
    for (const result of results) {
      process.stdout.write(
        `| ${result.reader} | ${result.engineSeconds.toFixed(2)} | ${(result.engineSeconds - idle).toFixed(2)} | ${result.shimSeconds.toFixed(2)} | ${result.clientSeconds.toFixed(2)} | ${result.samples} |\n`
      )
    }
  } finally {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: [`dev.effect-docker.test=${runId}`] }
    })
    await Promise.all(leftovers.map((one) => docker.getContainer(one.Id).remove({ force: true })))
  }
}

await main()
