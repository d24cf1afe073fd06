/**
 * The floor of the cgroup source, run as a child process so its CPU time is its own: a bare
 * Node loop that every second reads what the cgroup source reads for N containers
 * (`/proc/stat` once, each container's CPU, memory, memory.stat and pids counters, its
 * `net/dev`), with no Effect, no parsing beyond the numbers and no state. `pread` keeps the
 * cgroup files open as the library does; `readFile` opens each file every second. Runs until
 * killed.
 *
 *   node dist-bench/bench/cgroupFloor.js pread|readFile <pid>...
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs"
import { locate } from "../src/internal/cgroup/locate.js"

const [mode, ...pids] = process.argv.slice(2)
const buffer = Buffer.allocUnsafe(64 * 1024)
let total = 0

const targets = pids.map((pid) => {
  const located = locate(Number(pid))
  if (located._tag === "Failure") throw new Error(located.failure.message)
  const { files, netDev } = located.success
  const paths = [files.cpu, files.memoryUsage, files.memoryLimit, files.memoryStat]
  if (files.pids !== undefined) paths.push(files.pids)
  return { paths, fds: mode === "pread" ? paths.map((path) => openSync(path, "r")) : [], netDev }
})
const procStat = openSync("/proc/stat", "r")

const text = (fd: number) => buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, 0))

setInterval(() => {
  total += text(procStat).length
  for (const target of targets) {
    if (mode === "pread") for (const fd of target.fds) total += Number.parseInt(text(fd), 10) || 1
    else for (const path of target.paths) total += Number.parseInt(readFileSync(path, "latin1"), 10) || 1
    total += readFileSync(target.netDev, "latin1").length
  }
}, 1000)

process.on("SIGTERM", () => {
  for (const target of targets) for (const fd of target.fds) closeSync(fd)
  process.stdout.write(`${total}\n`)
  process.exit(0)
})
