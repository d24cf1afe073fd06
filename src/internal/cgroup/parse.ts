/**
 * Parsers for the kernel files the cgroup stats reader uses: `/proc/<pid>/cgroup`,
 * `/proc/self/mountinfo`, cgroup v1 and v2 counter files, `/proc/stat`, `/proc/meminfo` and
 * `/proc/<pid>/net/dev`. Pure: text in, values out; a malformed file is a `Malformed`
 * {@link CgroupUnavailable} naming it.
 *
 * @internal
 */
import { Result } from "effect"
import { CgroupUnavailable } from "./CgroupUnavailable.js"

const malformed = (file: string, what: string): Result.Result<never, CgroupUnavailable> =>
  Result.fail(new CgroupUnavailable({ reason: "Malformed", path: file, message: `${file}: ${what}` }))

const unsigned = /^\d+$/

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.trim().length > 0)

// ---------------------------------------------------------------------------------------------
// Where a process's cgroups are
// ---------------------------------------------------------------------------------------------

/**
 * One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`. cgroup v2's unified
 * hierarchy is `0::/path` (no controllers); a v1 named hierarchy lists `name=systemd`.
 *
 * @internal
 */
export interface CgroupMembership {
  readonly hierarchyId: number
  readonly controllers: ReadonlyArray<string>
  /** Relative to the reader's cgroup namespace root, starting with `/`. */
  readonly path: string
}

/** `/proc/<pid>/cgroup`. @internal */
export const procCgroup = (
  text: string,
  file: string
): Result.Result<ReadonlyArray<CgroupMembership>, CgroupUnavailable> => {
  const memberships: Array<CgroupMembership> = []
  for (const line of lines(text)) {
    const first = line.indexOf(":")
    const second = line.indexOf(":", first + 1)
    const id = line.slice(0, first)
    // The path may itself hold colons: everything after the second one.
    const path = line.slice(second + 1)
    if (first < 0 || second < 0 || !unsigned.test(id) || !path.startsWith("/")) {
      return malformed(file, `not "id:controllers:path": ${JSON.stringify(line)}`)
    }
    const controllers = line.slice(first + 1, second)
    memberships.push({
      hierarchyId: Number(id),
      controllers: controllers.length === 0 ? [] : controllers.split(","),
      path
    })
  }
  if (memberships.length === 0) return malformed(file, "no cgroup")
  return Result.succeed(memberships)
}

/**
 * A cgroup file system mount from `mountinfo`: a v1 hierarchy with its controllers (and
 * `name=...` for a named one) or the v2 unified hierarchy.
 *
 * @internal
 */
export interface CgroupMount {
  readonly version: 1 | 2
  /** The cgroup shown at the mount point, `/` unless a subtree was mounted. */
  readonly root: string
  readonly mountPoint: string
  /** v1: the super options (`rw`, `cpu`, `cpuacct`, `name=systemd`, ...); v2: empty. */
  readonly options: ReadonlyArray<string>
}

// mountinfo escapes space, tab, newline and backslash in paths as octal (`\040`).
const unescapeOctal = (path: string): string =>
  path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))

/**
 * The cgroup mounts of `mountinfo` (`proc(5)`: `id parent major:minor root mount-point
 * options [optional fields...] - fstype source super-options`), other mounts skipped.
 *
 * @internal
 */
export const mountinfo = (
  text: string,
  file: string
): Result.Result<ReadonlyArray<CgroupMount>, CgroupUnavailable> => {
  const mounts: Array<CgroupMount> = []
  for (const line of lines(text)) {
    const fields = line.trim().split(" ")
    const separator = fields.indexOf("-", 6)
    const root = fields[3]
    const mountPoint = fields[4]
    const fsType = fields[separator + 1]
    if (separator < 0 || root === undefined || mountPoint === undefined || fsType === undefined) {
      return malformed(file, `not a mountinfo line: ${JSON.stringify(line)}`)
    }
    if (fsType !== "cgroup" && fsType !== "cgroup2") continue
    mounts.push({
      version: fsType === "cgroup2" ? 2 : 1,
      root: unescapeOctal(root),
      mountPoint: unescapeOctal(mountPoint),
      options: fsType === "cgroup2" ? [] : (fields[separator + 3] ?? "").split(",")
    })
  }
  return Result.succeed(mounts)
}

// ---------------------------------------------------------------------------------------------
// cgroup counters
// ---------------------------------------------------------------------------------------------

/**
 * A file holding one unsigned number (`cpuacct.usage`, `memory.usage_in_bytes`,
 * `memory.current`, `pids.current`, ...). Values past 2^53 round as `JSON.parse` rounds the
 * engine's.
 *
 * @internal
 */
export const counter = (text: string, file: string): Result.Result<number, CgroupUnavailable> => {
  const value = text.trim()
  return unsigned.test(value) ? Result.succeed(Number(value)) : malformed(file, `not a number: ${value}`)
}

/**
 * cgroup v2's `memory.max` (or any `max`-or-number file): `undefined` for `max`, no limit.
 *
 * @internal
 */
export const limit = (text: string, file: string): Result.Result<number | undefined, CgroupUnavailable> =>
  text.trim() === "max" ? Result.succeed(undefined) : counter(text, file)

/**
 * `cpuacct.usage_percpu`: nanoseconds per CPU, space separated.
 *
 * @internal
 */
export const perCpu = (
  text: string,
  file: string
): Result.Result<ReadonlyArray<number>, CgroupUnavailable> => {
  const values = text.trim().split(/\s+/)
  if (values.length === 0 || !values.every((value) => unsigned.test(value))) {
    return malformed(file, `not a list of numbers: ${text.trim()}`)
  }
  return Result.succeed(values.map(Number))
}

const lineStart = (text: string, prefix: string): number => {
  const newline = text.indexOf(`\n${prefix}`)
  return newline < 0 ? -1 : newline + 1
}

/**
 * One key of a flat keyed file (`memory.stat`, v2 `cpu.stat`: `key value` per line);
 * `undefined` when the key is not there.
 *
 * @internal
 */
export const keyed = (
  text: string,
  key: string,
  file: string
): Result.Result<number | undefined, CgroupUnavailable> => {
  const prefix = `${key} `
  // `\ninactive_file ` does not match `total_inactive_file `.
  const start = text.startsWith(prefix) ? 0 : lineStart(text, prefix)
  if (start < 0) return Result.succeed(undefined)
  const end = text.indexOf("\n", start)
  const value = text.slice(start + prefix.length, end < 0 ? undefined : end).trim()
  return unsigned.test(value)
    ? Result.succeed(Number(value))
    : malformed(file, `${key} is not a number: ${value}`)
}

// ---------------------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------------------

/**
 * USER_HZ: the unit of `/proc/stat`. Docker takes it from `sysconf(_SC_CLK_TCK)`, which is
 * 100 on every Linux architecture Docker supports.
 *
 * @internal
 */
export const clockTicksPerSecond = 100

/** The host's CPU time and online CPUs, from `/proc/stat`. @internal */
export interface HostCpu {
  /** Nanoseconds, as the engine's `system_cpu_usage`. */
  readonly systemUsage: number
  /** As the engine's `online_cpus`. */
  readonly onlineCpus: number
}

/**
 * `/proc/stat` the way Docker reads it: `system_cpu_usage` is the sum of the first seven
 * fields of the `cpu` line (user, nice, system, idle, iowait, irq, softirq; steal and guest
 * excluded) in clock ticks, times 1e9 / USER_HZ; `online_cpus` is the number of `cpuN` lines
 * (the kernel lists online CPUs only), which is what Docker 23+ counts and what 20.10's
 * affinity count gives unless dockerd is pinned to fewer CPUs.
 *
 * @internal
 */
export const procStat = (text: string, file: string): Result.Result<HostCpu, CgroupUnavailable> => {
  let ticks: number | undefined
  let onlineCpus = 0
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) {
      // The cpu lines come first; nothing after them counts.
      if (ticks !== undefined) break
      continue
    }
    const fields = line.split(/\s+/)
    if (fields[0] === "cpu") {
      const first7 = fields.slice(1, 8)
      if (first7.length < 7 || !first7.every((field) => unsigned.test(field))) {
        return malformed(file, `the cpu line has not 7 counters: ${line}`)
      }
      ticks = first7.reduce((sum, field) => sum + Number(field), 0)
    } else {
      onlineCpus++
    }
  }
  if (ticks === undefined) return malformed(file, "no cpu line")
  return Result.succeed({ systemUsage: ticks * (1e9 / clockTicksPerSecond), onlineCpus })
}

/**
 * The host's memory in bytes (`MemTotal` of `/proc/meminfo`): the engine's memory limit of a
 * container that has none (or one above it).
 *
 * @internal
 */
export const memTotal = (text: string, file: string): Result.Result<number, CgroupUnavailable> => {
  const match = /^MemTotal:\s+(\d+) kB$/m.exec(text)
  return match?.[1] === undefined ? malformed(file, "no MemTotal") : Result.succeed(Number(match[1]) * 1024)
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

/** One interface's counters from `/proc/<pid>/net/dev`. @internal */
export interface InterfaceCounters {
  readonly rxBytes: number
  readonly rxPackets: number
  readonly rxErrors: number
  readonly rxDropped: number
  readonly txBytes: number
  readonly txPackets: number
  readonly txErrors: number
  readonly txDropped: number
}

/**
 * `/proc/<pid>/net/dev`: the counters of every interface in the process's network namespace,
 * by name. Two header lines, then `name: rx(bytes packets errs drop fifo frame compressed
 * multicast) tx(bytes packets errs drop fifo colls carrier compressed)`.
 *
 * @internal
 */
export const netDev = (
  text: string,
  file: string
): Result.Result<Readonly<Record<string, InterfaceCounters>>, CgroupUnavailable> => {
  const interfaces: Record<string, InterfaceCounters> = {}
  for (const line of lines(text).slice(2)) {
    // Old kernels print `eth0:123` with no space once the counter is wide.
    const colon = line.indexOf(":")
    const name = line.slice(0, colon).trim()
    const counters = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    if (colon < 0 || name.length === 0 || counters.length < 16 || !counters.every((c) => unsigned.test(c))) {
      return malformed(file, `not an interface line: ${JSON.stringify(line)}`)
    }
    const at = (index: number) => Number(counters[index])
    interfaces[name] = {
      rxBytes: at(0),
      rxPackets: at(1),
      rxErrors: at(2),
      rxDropped: at(3),
      txBytes: at(8),
      txPackets: at(9),
      txErrors: at(10),
      txDropped: at(11)
    }
  }
  return Result.succeed(interfaces)
}
