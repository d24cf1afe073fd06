/**
 * The reference sides: raw dockerode doing the calls by hand, and the docker CLI as a child
 * process (its CPU time and memory read from /proc). Also the labels every bench container
 * carries and the cleanup that removes them, whatever happens.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { openSync, readFileSync } from "node:fs"
import Dockerode from "dockerode"
import { Effect, Schedule } from "effect"
import * as Labels from "../src/internal/labels.js"

/** The image every scenario runs (local: no pull). */
export const image = "busybox:latest"

/** A small memory limit per container, so 100 of them fit anywhere. */
export const memoryBytes = 16 * 1024 * 1024

/** A service that exits on SIGTERM: sh as PID 1 traps it (a plain `sleep` as PID 1 would ignore it). */
export const serviceCommand = ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]

/** A service that ignores SIGTERM, so only the kill after the stop timeout ends it. */
export const stubbornCommand = ["sh", "-c", "trap '' TERM; exec sleep 86400"]

/** This run's id: in the test label of everything it creates, to clean it up and nothing else. */
export const runId = `bench-${process.pid}-${randomBytes(3).toString("hex")}`

/** The labels of everything the bench creates. */
export const labels: Readonly<Record<string, string>> = {
  "dev.effect-docker.app": "bench",
  "dev.effect-docker.test": runId
}

/** The engine the environment names (`DOCKER_HOST`) or the local socket. */
export const docker = new Dockerode()

/** A bridge network for a reference side, labelled like the Supervisor's. */
export const createNetwork = (name: string) =>
  Effect.promise(() =>
    docker.createNetwork({ Name: `bench-${runId}-${name}`, Driver: "bridge", Labels: { ...labels } })
  )

/**
 * Removes a reference side's network. The engine can still hold endpoints of containers it
 * has just removed ("has active endpoints"): tried a few times, then left to the final cleanup.
 */
export const removeNetwork = (network: Dockerode.Network) =>
  Effect.tryPromise(() => network.remove()).pipe(
    Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 30 }),
    Effect.ignore
  )

/** What octoplex does by hand for each container: create, connect to the instance network, start. */
export const createConnectStart = async (
  network: Dockerode.Network,
  name: string,
  cmd: ReadonlyArray<string>
): Promise<Dockerode.Container> => {
  const container = await docker.createContainer({
    name: `${runId}-${name}`,
    Image: image,
    Cmd: [...cmd],
    Labels: { ...labels },
    HostConfig: { Memory: memoryBytes }
  })
  await network.connect({ Container: container.id })
  await container.start()
  return container
}

/** The least work by hand: create attached to the network from the start, then start. */
export const createOnNetworkStart = async (
  network: Dockerode.Network,
  name: string,
  cmd: ReadonlyArray<string>
): Promise<Dockerode.Container> => {
  const container = await docker.createContainer({
    name: `${runId}-${name}`,
    Image: image,
    Cmd: [...cmd],
    Labels: { ...labels },
    HostConfig: { Memory: memoryBytes, NetworkMode: network.id }
  })
  await container.start()
  return container
}

/** Removes containers (forced: killed first), all at once. Not timed. */
export const removeContainers = (ids: ReadonlyArray<string>) =>
  Effect.promise(() =>
    Promise.all(
      ids.map((id) =>
        docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined)
      )
    )
  )

/**
 * Everything this run created, removed (forced): run at the end, also on failure and Ctrl-C.
 * Returns what was removed and the names of what the engine refused.
 */
export const cleanup = Effect.promise(async () => {
  const filters = JSON.stringify({ label: [`dev.effect-docker.test=${runId}`] })
  const refused: Array<string> = []
  const removed = async (name: string, remove: () => Promise<unknown>) =>
    remove().then(
      () => 1,
      () => {
        refused.push(name)
        return 0
      }
    )
  const containers = await docker.listContainers({ all: true, filters })
  const containersRemoved = await Promise.all(
    containers.map((container) =>
      removed(container.Names[0] ?? container.Id, () =>
        docker.getContainer(container.Id).remove({ force: true })
      )
    )
  )
  const networks = await docker.listNetworks({ filters })
  const networksRemoved = await Promise.all(
    networks.map((network) => removed(network.Name, () => docker.getNetwork(network.Id).remove()))
  )
  const sum = (counts: ReadonlyArray<number>) => counts.reduce((total, count) => total + count, 0)
  return { containers: sum(containersRemoved), networks: sum(networksRemoved), refused }
})

/**
 * The containers and networks of this run that remain, by name: the library's (they carry a
 * Supervisor instance label) apart from the references' own.
 */
export const leftovers = Effect.promise(async () => {
  const filters = JSON.stringify({ label: [`dev.effect-docker.test=${runId}`] })
  const containers = await docker.listContainers({ all: true, filters })
  const networks = await docker.listNetworks({ filters })
  const left = [
    ...containers.map((container) => ({
      name: container.Names[0] ?? container.Id,
      labels: container.Labels
    })),
    ...networks.map((network) => ({ name: network.Name, labels: network.Labels }))
  ]
  const isLibrary = (one: (typeof left)[number]) => one.labels?.[Labels.keys().instance] !== undefined
  return {
    library: left.filter(isLibrary).map((one) => one.name),
    references: left.filter((one) => !isLibrary(one)).map((one) => one.name)
  }
})

/** The engine's version, for the machine description. */
export const engineVersion = Effect.promise(async () => {
  const version = await docker.version()
  return `Docker ${version.Version} (API ${version.ApiVersion})`
})

// ---------------------------------------------------------------------------------------------
// The docker CLI
// ---------------------------------------------------------------------------------------------

/** Runs `docker <args>` to its end; fails on a non-zero exit. */
export const cli = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args[0]} exited ${code}: ${err.trim()}`))
    )
  })

/** The label arguments of `docker run`. */
export const labelArgs = Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`])

/**
 * A long-running child (`docker stats`, `docker wait`) whose output goes to /dev/null, so this
 * process spends nothing on it; killed when the scope closes.
 */
export const spawnQuiet = (command: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const devNull = openSync("/dev/null", "w")
      const child = spawn(command, args, { stdio: ["ignore", devNull, devNull] })
      const exited = new Promise<number>((resolve) =>
        child.on("exit", () => {
          resolve(performance.now())
        })
      )
      return { child, exited }
    }),
    ({ child }) => Effect.sync(() => killChild(child))
  )

/** A long-running reader child (`docker stats`, the raw dockerode reader, the cgroup floor). */
export interface Reader {
  readonly child: ChildProcess
  /** CPU milliseconds of the child so far; `undefined` once it has ended. */
  readonly cpuMillis: () => number | undefined
  /** Why the child ended (exit code or signal, and the end of its stderr); `undefined` while it runs. */
  readonly ended: () => string | undefined
  /**
   * The samples the child says it parsed (it writes a first line when ready, then answers
   * each SIGUSR2 with a line); `undefined` when it cannot tell.
   */
  readonly samples: Effect.Effect<number | undefined>
}

/**
 * A reader child whose stdout goes to /dev/null (or, with `counts`, to a pipe it answers
 * SIGUSR2 on) and whose stderr's tail is kept, so a child that dies is reported with its
 * reason instead of failing the run; killed when the scope closes.
 */
export const spawnReader = (
  command: string,
  args: ReadonlyArray<string>,
  options?: { readonly counts?: boolean }
) =>
  Effect.acquireRelease(
    Effect.sync((): Reader => {
      const counts = options?.counts === true
      const devNull = openSync("/dev/null", "w")
      const child = spawn(command, args, { stdio: ["ignore", counts ? "pipe" : devNull, "pipe"] })
      let stderr = ""
      child.stderr?.setEncoding("utf8")
      child.stderr?.on("data", (text: string) => {
        stderr = (stderr + text).slice(-600)
      })
      let ending: string | undefined
      child.on("exit", (code, signal) => {
        ending = `exited ${signal ?? code}${stderr.trim().length > 0 ? `: ${stderr.trim().replaceAll("\n", " | ")}` : ""}`
      })
      child.on("error", (error) => {
        ending = `could not run ${command}: ${error.message}`
      })
      // The first line says the child is ready (its SIGUSR2 handler installed, its streams
      // open); each later line answers one SIGUSR2.
      const answers: Array<(count: number) => void> = []
      let ready = false
      const whenReady: Array<() => void> = []
      let pending = ""
      child.stdout?.setEncoding("utf8")
      child.stdout?.on("data", (text: string) => {
        pending += text
        let newline = pending.indexOf("\n")
        while (newline !== -1) {
          const line = pending.slice(0, newline)
          pending = pending.slice(newline + 1)
          newline = pending.indexOf("\n")
          if (!ready) {
            ready = true
            for (const resume of whenReady.splice(0)) resume()
          } else answers.shift()?.(Number(line))
        }
      })
      const cpuMillis = () => {
        if (ending !== undefined || child.pid === undefined) return undefined
        try {
          return cpuMillisOf(child.pid)
        } catch {
          return undefined
        }
      }
      const samples: Effect.Effect<number | undefined> = counts
        ? Effect.callback<number | undefined>((resume) => {
            if (ending !== undefined) return resume(Effect.succeed(undefined))
            answers.push((count) => resume(Effect.succeed(count)))
            const ask = () => child.kill("SIGUSR2")
            if (ready) ask()
            else whenReady.push(ask)
          }).pipe(Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed(undefined) }))
        : Effect.succeed(undefined)
      return { child, cpuMillis, ended: () => ending, samples }
    }),
    ({ child }) => Effect.sync(() => killChild(child))
  )

const killChild = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

const clockTicksPerSecond = 100

/** CPU time (user + system, all threads) of a process so far, in milliseconds, from /proc. */
export const cpuMillisOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command name (which may hold spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / clockTicksPerSecond
}

/** Resident memory of a process now, in bytes, from /proc. */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? Number.NaN : Number(match[1]) * 1024
}
