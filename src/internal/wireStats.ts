/**
 * The engine's stats lines read into `StatsSample`s, by hand rather than with a Schema (why is
 * below). Re-exported by `wire.ts`.
 *
 * @internal
 */
import { Result } from "effect"
import type { StatsSample } from "../DockerModel.js"

// Read by hand, not with a Schema: a stats line arrives every second per container for as long
// as it runs, and measured on the real engine (`npm run bench`) a Schema decode of it costs the
// supervisor more CPU than `JSON.parse` does. The checks are the same: every field the library
// keeps has its type checked, absent or `null` where Docker may leave it so, extra fields ignored.

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A stats line whose fields do not have the types Docker gives them. */
class StatsMismatch {
  constructor(readonly message: string) {}
  toString() {
    return this.message
  }
}

// A field is named by its parent and its own path, joined only when it is wrong: building
// the names of a good sample's fields would cost on every line.
const mismatch = (parent: string, field: string, expected: string, value: unknown): never => {
  throw new StatsMismatch(
    `${parent === "" ? field : `${parent}.${field}`}: expected ${expected}, got ${JSON.stringify(value)}`
  )
}

const optionalObject = (
  value: unknown,
  parent: string,
  field: string
): Readonly<Record<string, unknown>> | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value === "object" && !Array.isArray(value)) return value as Readonly<Record<string, unknown>>
  return mismatch(parent, field, "an object", value)
}

const optionalNumber = (value: unknown, parent: string, field: string): number | undefined => {
  if (value === undefined || value === null) return undefined
  return typeof value === "number" ? value : mismatch(parent, field, "a number", value)
}

const optionalNumbers = (
  value: unknown,
  parent: string,
  field: string
): ReadonlyArray<number> | undefined => {
  if (value === undefined || value === null) return undefined
  if (Array.isArray(value) && value.every((item) => typeof item === "number")) return value
  return mismatch(parent, field, "an array of numbers", value)
}

// Optional parts are assigned, not spread in: spreads cost more than the rest of the sample.
const readCpu = (value: unknown, parent: "cpu_stats" | "precpu_stats"): StatsSample["cpu"] => {
  const wire = optionalObject(value, "", parent)
  const usage = optionalObject(wire?.cpu_usage, parent, "cpu_usage")
  const cpu: Mutable<StatsSample["cpu"]> = {
    totalUsage: optionalNumber(usage?.total_usage, parent, "cpu_usage.total_usage") ?? 0
  }
  const percpu = optionalNumbers(usage?.percpu_usage, parent, "cpu_usage.percpu_usage")
  if (percpu !== undefined) cpu.percpuUsage = percpu
  const system = optionalNumber(wire?.system_cpu_usage, parent, "system_cpu_usage")
  if (system !== undefined) cpu.systemUsage = system
  const online = optionalNumber(wire?.online_cpus, parent, "online_cpus")
  if (online !== undefined) cpu.onlineCpus = online
  return cpu
}

const readMemory = (value: unknown): StatsSample["memory"] => {
  const memory: Mutable<StatsSample["memory"]> = {}
  const wire = optionalObject(value, "", "memory_stats")
  if (wire === undefined) return memory
  const usage = optionalNumber(wire.usage, "memory_stats", "usage")
  if (usage !== undefined) memory.usage = usage
  const limit = optionalNumber(wire.limit, "memory_stats", "limit")
  if (limit !== undefined) memory.limit = limit
  const stats = optionalObject(wire.stats, "memory_stats", "stats")
  const totalInactiveFile = optionalNumber(
    stats?.total_inactive_file,
    "memory_stats",
    "stats.total_inactive_file"
  )
  if (totalInactiveFile !== undefined) memory.totalInactiveFile = totalInactiveFile
  const inactiveFile = optionalNumber(stats?.inactive_file, "memory_stats", "stats.inactive_file")
  if (inactiveFile !== undefined) memory.inactiveFile = inactiveFile
  return memory
}

const readNetworks = (value: unknown): StatsSample["networks"] => {
  const wire = optionalObject(value, "", "networks")
  if (wire === undefined) return undefined
  const networks: Record<string, { readonly rxBytes: number; readonly txBytes: number }> = {}
  for (const name of Object.keys(wire)) {
    const network =
      optionalObject(wire[name], "networks", name) ?? mismatch("networks", name, "an object", null)
    const { rx_bytes: rxBytes, tx_bytes: txBytes } = network
    if (typeof rxBytes !== "number") return mismatch("networks", `${name}.rx_bytes`, "a number", rxBytes)
    if (typeof txBytes !== "number") return mismatch("networks", `${name}.tx_bytes`, "a number", txBytes)
    networks[name] = { rxBytes, txBytes }
  }
  return networks
}

/**
 * One parsed line of `GET /containers/{id}/stats` as a sample; fails with the path of the
 * first field whose type is not Docker's.
 */
export const readStats = (json: unknown): Result.Result<StatsSample, StatsMismatch> => {
  try {
    const wire = optionalObject(json, "", "stats") ?? mismatch("", "stats", "an object", json)
    if (typeof wire.read !== "string") return mismatch("", "read", "a string", wire.read)
    const sample: Mutable<StatsSample> = {
      read: wire.read,
      cpu: readCpu(wire.cpu_stats, "cpu_stats"),
      precpu: readCpu(wire.precpu_stats, "precpu_stats"),
      memory: readMemory(wire.memory_stats)
    }
    const networks = readNetworks(wire.networks)
    if (networks !== undefined) sample.networks = networks
    const pids = optionalNumber(
      optionalObject(wire.pids_stats, "", "pids_stats")?.current,
      "pids_stats",
      "current"
    )
    if (pids !== undefined) sample.pids = pids
    return Result.succeed(sample)
  } catch (cause) {
    if (cause instanceof StatsMismatch) return Result.fail(cause)
    throw cause
  }
}
