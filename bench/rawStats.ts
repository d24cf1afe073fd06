/**
 * A second reference for the supervision cost, run as a child process so its CPU time is its
 * own: the containers' stats streams read by hand with raw dockerode, lines split and
 * `JSON.parse`d, CPU % computed as `docker stats` does. What a Node program pays for the
 * same watching without the library. Counts the samples it parsed: writes `ready` on stdout
 * once its streams are open, then the count (a line) on each SIGUSR2, so the bench can
 * compare CPU per sample. Runs until killed.
 *
 *   node dist-bench/bench/rawStats.js <container id>...
 */
import type { Readable } from "node:stream"
import Dockerode from "dockerode"

interface CpuStats {
  readonly cpu_usage?: { readonly total_usage?: number; readonly percpu_usage?: ReadonlyArray<number> }
  readonly system_cpu_usage?: number
  readonly online_cpus?: number
}

interface Sample {
  readonly cpu_stats?: CpuStats
  readonly precpu_stats?: CpuStats
}

const cpuPercent = (sample: Sample): number => {
  const cpu = sample.cpu_stats
  const pre = sample.precpu_stats
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0)
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0)
  const cpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1
  return cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0
}

const docker = new Dockerode()
let latest = 0
let samples = 0

process.on("SIGUSR2", () => {
  process.stdout.write(`${samples}\n`)
})

for (const id of process.argv.slice(2)) {
  const response = (await docker.getContainer(id).stats({ stream: true })) as unknown as Readable
  let buffered = ""
  response.setEncoding("utf8")
  response.on("data", (text: string) => {
    buffered += text
    let newline = buffered.indexOf("\n")
    while (newline !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.trim().length > 0) {
        latest = cpuPercent(JSON.parse(line) as Sample)
        samples++
      }
      newline = buffered.indexOf("\n")
    }
  })
}

process.stdout.write("ready\n")

process.on("SIGTERM", () => {
  process.stderr.write(`${latest}\n`)
  process.exit(0)
})
