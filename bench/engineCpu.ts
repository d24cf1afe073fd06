/**
 * The engine's CPU time, read from /proc/<pid>/stat: the `dockerd` on the default socket, the
 * `containerd` it runs, and the `containerd-shim*` of the given containers. Each stats sample
 * the engine serves costs it milliseconds of CPU in these processes, far more than any client
 * spends decoding it, so a stats reader's cost is its own CPU plus this, above the engine's
 * idle floor. Local engine on Linux only.
 */
import { readdirSync, readFileSync } from "node:fs"
import { cpuMillisOf } from "./reference.js"

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

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

/** The engine's processes that serve `containers` (ids). */
export interface EngineProcesses {
  /** `dockerd` and its `containerd`: they also serve every other client of the engine. */
  readonly daemons: ReadonlyArray<number>
  /** The containers' own shims. */
  readonly shims: ReadonlyArray<number>
}

/**
 * The engine on the default socket (the `dockerd` without another `-H`, e.g. not a second, TLS
 * engine), its `containerd`, and the shims of `containers`: other containers' shims (of other
 * engines, of tests running beside the bench) are left out.
 */
export const engineProcesses = (containers: ReadonlyArray<string>): EngineProcesses => {
  const all = processes()
  const dockerd = all.find(
    ({ command }) =>
      /(^|\/)dockerd( |$)/.test(command) &&
      (!/ -H |--host/.test(command) || command.includes("/var/run/docker.sock"))
  )
  if (dockerd === undefined)
    throw new Error("no dockerd on the default socket: the engine's CPU cannot be read")
  const containerd = all.find(
    ({ pid, command }) => /(^|\/)containerd( |$)/.test(command) && parentOf(pid) === dockerd.pid
  )
  const shims = all.filter(
    ({ command }) =>
      command.includes("containerd-shim") && containers.some((id) => command.includes(`-id ${id}`))
  )
  return {
    daemons: [dockerd.pid, ...(containerd === undefined ? [] : [containerd.pid])],
    shims: shims.map(({ pid }) => pid)
  }
}

/** CPU milliseconds of the engine's processes so far (a process that ended counts nothing). */
export const engineCpuMillis = (engine: EngineProcesses): number =>
  [...engine.daemons, ...engine.shims].reduce((sum, pid) => {
    try {
      return sum + cpuMillisOf(pid)
    } catch {
      return sum
    }
  }, 0)

/** CPU milliseconds of this process so far, all threads. */
export const ownCpuMillis = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}
