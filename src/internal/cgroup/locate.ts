/**
 * Where a container's counters are: its cgroup located from its init pid
 * (`/proc/<pid>/cgroup`) and this process's cgroup mounts (`/proc/self/mountinfo`), never
 * guessed from the driver's naming, so the cgroupfs driver (`/docker/<id>`), the systemd
 * driver (`/system.slice/docker-<id>.scope`), rootless (`/user.slice/.../docker-<id>.scope`)
 * and custom `--cgroup-parent`s are one case. Also the synchronous file reads and the one
 * place an errno becomes a reason.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Result } from "effect"
import { CgroupUnavailable } from "./CgroupUnavailable.js"
import type { CgroupMembership, CgroupMount } from "./parse.js"
import * as Parse from "./parse.js"

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/**
 * Whether the process ended: no `/proc/<pid>`, or a zombie not reaped yet (its `net/dev`
 * already reads as missing).
 */
const processEnded = (root: string, pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(Path.join(root, "proc", String(pid), "stat"), "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state === "Z" || state === "X"
  } catch {
    return true
  }
}

const fromFsError = (root: string, file: string, pid: number, cause: unknown): CgroupUnavailable => {
  const code = errorCode(cause)
  const detail = `${file}: ${code ?? String(cause)}`
  switch (code) {
    case "ENOENT":
    case "ESRCH":
    case "ENODEV": {
      // A removed cgroup or an ended process is the container exiting; a file missing beside
      // a live process is a setup the reader cannot use.
      const gone = processEnded(root, pid) || !Fs.existsSync(Path.join(root, Path.posix.dirname(file)))
      return new CgroupUnavailable({ reason: gone ? "Gone" : "Missing", path: file, message: detail })
    }
    case "EACCES":
    case "EPERM":
      return new CgroupUnavailable({ reason: "NoPermission", path: file, message: detail })
    default:
      return new CgroupUnavailable({ reason: "Unreadable", path: file, message: detail })
  }
}

/**
 * Reads a kernel file under `root`. Synchronous on purpose: `/proc` and cgroup files are
 * generated in memory on read, so a read never waits on a disk, and a thread-pool round trip
 * per file would cost more than the read (seven files per container per second).
 *
 * @internal
 */
export const readText = (
  root: string,
  file: string,
  pid: number
): Result.Result<string, CgroupUnavailable> => {
  try {
    return Result.succeed(Fs.readFileSync(Path.join(root, file), "utf8"))
  } catch (cause) {
    return Result.fail(fromFsError(root, file, pid, cause))
  }
}

/**
 * Opens a kernel file to be read again and again with {@link preadText}: a cgroup or `/proc`
 * file generates its text anew on every read at offset 0, so one open serves every sample
 * (one `pread` instead of open, fstat, read and close).
 *
 * @internal
 */
export const openFile = (
  root: string,
  file: string,
  pid: number
): Result.Result<number, CgroupUnavailable> => {
  try {
    return Result.succeed(Fs.openSync(Path.join(root, file), "r"))
  } catch (cause) {
    return Result.fail(fromFsError(root, file, pid, cause))
  }
}

/** Closes what {@link openFile} opened; a close that fails has nothing left to release. @internal */
export const closeFile = (fd: number): void => {
  try {
    Fs.closeSync(fd)
  } catch {
    // Already closed or never valid: nothing held.
  }
}

// One buffer for every read: the reads are synchronous, so no two use it at once. It grows
// when a file does not fit (a `memory.stat` is about 1.5 KiB, `/proc/stat` grows with the CPUs).
let scratch = Buffer.allocUnsafe(16 * 1024)

/**
 * Reads the whole of a file opened with {@link openFile}, from offset 0 (a `pread`: the
 * file's position never moves). A removed cgroup reads as `ENODEV`, which is `Gone`.
 *
 * @internal
 */
export const preadText = (
  root: string,
  file: string,
  pid: number,
  fd: number
): Result.Result<string, CgroupUnavailable> => {
  try {
    for (;;) {
      const length = Fs.readSync(fd, scratch, 0, scratch.length, 0)
      // The kernel files are ASCII: latin1 is the cheapest exact decoding.
      if (length < scratch.length) return Result.succeed(scratch.toString("latin1", 0, length))
      scratch = Buffer.allocUnsafe(scratch.length * 2)
    }
  } catch (cause) {
    return Result.fail(fromFsError(root, file, pid, cause))
  }
}

/** Reads and parses one file. @internal */
export const readParsed = <A>(
  root: string,
  file: string,
  pid: number,
  parse: (text: string, file: string) => Result.Result<A, CgroupUnavailable>
): Result.Result<A, CgroupUnavailable> =>
  Result.flatMap(readText(root, file, pid), (text) => parse(text, file))

// ---------------------------------------------------------------------------------------------
// Locating
// ---------------------------------------------------------------------------------------------

/**
 * The files one container's counters are read from, as the machine names them.
 *
 * @internal
 */
export interface CgroupFiles {
  readonly version: 1 | 2
  /** The cgroup of the memory controller (v1) or the unified one (v2), as `/proc/<pid>/cgroup` shows it. */
  readonly cgroup: string
  /** v1 `cpuacct.usage`, v2 `cpu.stat`. */
  readonly cpu: string
  /** v1 `cpuacct.usage_percpu`; v2 has no per-CPU counters. */
  readonly perCpu: string | undefined
  /** v1 `memory.usage_in_bytes`, v2 `memory.current`. */
  readonly memoryUsage: string
  /** v1 `memory.limit_in_bytes`, v2 `memory.max`. */
  readonly memoryLimit: string
  readonly memoryStat: string
  /** `pids.current`; `undefined` when v1 has no pids hierarchy. */
  readonly pids: string | undefined
}

const missing = (message: string) => Result.fail(new CgroupUnavailable({ reason: "Missing", message }))

/**
 * The directory of a cgroup through one of the mounts of its hierarchy: the mount shows the
 * cgroup at `root` at its mount point, so the cgroup must lie under `root`.
 */
const directory = (mounts: ReadonlyArray<CgroupMount>, cgroup: string): string | undefined => {
  for (const mount of mounts) {
    if (mount.root === "/") return Path.posix.join(mount.mountPoint, cgroup)
    if (cgroup === mount.root || cgroup.startsWith(`${mount.root}/`)) {
      return Path.posix.join(mount.mountPoint, cgroup.slice(mount.root.length))
    }
  }
  return undefined
}

const v1Directory = (
  memberships: ReadonlyArray<CgroupMembership>,
  mounts: ReadonlyArray<CgroupMount>,
  controller: string
): Result.Result<{ readonly cgroup: string; readonly directory: string } | undefined, CgroupUnavailable> => {
  const membership = memberships.find((one) => one.hierarchyId !== 0 && one.controllers.includes(controller))
  if (membership === undefined) return Result.succeed(undefined)
  const candidates = mounts.filter((mount) => mount.version === 1 && mount.options.includes(controller))
  const found = directory(candidates, membership.path)
  return found === undefined
    ? missing(`the ${controller} cgroup ${membership.path} is not under a mounted ${controller} hierarchy`)
    : Result.succeed({ cgroup: membership.path, directory: found })
}

/**
 * The counter files of a process's cgroups. cgroup v1 when the process is in v1 `cpuacct`
 * and `memory` hierarchies (as Docker does on a hybrid host, where the v2 mount holds no
 * controllers), v2 when it is only in the unified one.
 *
 * @internal
 */
export const cgroupFiles = (
  memberships: ReadonlyArray<CgroupMembership>,
  mounts: ReadonlyArray<CgroupMount>
): Result.Result<CgroupFiles, CgroupUnavailable> =>
  Result.gen(function* () {
    if (memberships.some((one) => one.path.split("/").includes(".."))) {
      return yield* missing("the process is outside this process's cgroup namespace")
    }
    const v1 = memberships.some(
      (one) =>
        one.hierarchyId !== 0 && (one.controllers.includes("memory") || one.controllers.includes("cpuacct"))
    )
    if (v1) {
      const cpuacct = yield* v1Directory(memberships, mounts, "cpuacct")
      const memory = yield* v1Directory(memberships, mounts, "memory")
      const pids = yield* v1Directory(memberships, mounts, "pids")
      if (cpuacct === undefined) return yield* missing("the process is in no cpuacct cgroup")
      if (memory === undefined) return yield* missing("the process is in no memory cgroup")
      return {
        version: 1 as const,
        cgroup: memory.cgroup,
        cpu: Path.posix.join(cpuacct.directory, "cpuacct.usage"),
        perCpu: Path.posix.join(cpuacct.directory, "cpuacct.usage_percpu"),
        memoryUsage: Path.posix.join(memory.directory, "memory.usage_in_bytes"),
        memoryLimit: Path.posix.join(memory.directory, "memory.limit_in_bytes"),
        memoryStat: Path.posix.join(memory.directory, "memory.stat"),
        pids: pids === undefined ? undefined : Path.posix.join(pids.directory, "pids.current")
      }
    }
    const unified = memberships.find((one) => one.hierarchyId === 0 && one.controllers.length === 0)
    if (unified === undefined)
      return yield* missing("the process is in no cgroup v2 and no v1 cpuacct/memory cgroup")
    const found = directory(
      mounts.filter((mount) => mount.version === 2),
      unified.path
    )
    if (found === undefined)
      return yield* missing(`the cgroup ${unified.path} is not under a mounted cgroup2`)
    return {
      version: 2 as const,
      cgroup: unified.path,
      cpu: Path.posix.join(found, "cpu.stat"),
      perCpu: undefined,
      memoryUsage: Path.posix.join(found, "memory.current"),
      memoryLimit: Path.posix.join(found, "memory.max"),
      memoryStat: Path.posix.join(found, "memory.stat"),
      pids: Path.posix.join(found, "pids.current")
    }
  })

/**
 * Everything a sample needs that does not change while the container runs.
 *
 * @internal
 */
export interface Target {
  /** What `/` is (a fixture tree in tests). */
  readonly root: string
  readonly pid: number
  readonly files: CgroupFiles
  /** `/proc/<pid>/net/dev`. */
  readonly netDev: string
  /** Bytes: the engine's limit for a container without one. */
  readonly memTotal: number
}

/** Options for {@link locate}. @internal */
export interface LocateOptions {
  /** What `/` is; default `/`. */
  readonly root?: string
  /**
   * The container's id: when given, its cgroup path must contain it (every Docker driver
   * puts it there), which tells a reused pid or a pid of a VM's container from the container.
   */
  readonly containerId?: string
  /** Default `process.platform`. */
  readonly platform?: NodeJS.Platform
}

/**
 * Locates a container's cgroup from its init pid (the engine's `State.Pid`).
 *
 * @internal
 */
export const locate = (pid: number, options: LocateOptions = {}): Result.Result<Target, CgroupUnavailable> =>
  Result.gen(function* () {
    const platform = options.platform ?? process.platform
    if (platform !== "linux") {
      return yield* Result.fail(
        new CgroupUnavailable({
          reason: "NotLinux",
          message: `cgroups exist only on Linux, not on ${platform}`
        })
      )
    }
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      // The engine's State.Pid is 0 for a container that is not running.
      return yield* Result.fail(new CgroupUnavailable({ reason: "Gone", message: `no process: pid ${pid}` }))
    }
    const root = options.root ?? "/"
    const memberships = yield* readParsed(root, `/proc/${pid}/cgroup`, pid, Parse.procCgroup)
    const mounts = yield* readParsed(root, "/proc/self/mountinfo", pid, Parse.mountinfo)
    const files = yield* cgroupFiles(memberships, mounts)
    if (options.containerId !== undefined && !files.cgroup.includes(options.containerId)) {
      return yield* Result.fail(
        new CgroupUnavailable({
          reason: "NotContainer",
          path: `/proc/${pid}/cgroup`,
          message: `pid ${pid} is in ${files.cgroup}, not in container ${options.containerId}'s cgroup`
        })
      )
    }
    const memTotal = yield* readParsed(root, "/proc/meminfo", pid, Parse.memTotal)
    return { root, pid, files, netDev: `/proc/${pid}/net/dev`, memTotal }
  })
