/**
 * Pure pieces of the in-memory engine that mimic Docker's own rules: label and event filters,
 * container names, signals, `ps` status text, deterministic ids, the path check for copied
 * files, and errors with the engine's own messages. No state; image references are in
 * `../imageReference.ts`.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type { EngineEvent, LabelFilter } from "../../DockerEngine.js"
import * as DockerError from "../../DockerError.js"
import { type ContainerPathIssue, containerPathIssue } from "../containerPath.js"

/** The zero time Docker shows for "never started" and "never finished". */
export const zeroTime = "0001-01-01T00:00:00Z"

/** A deterministic 64-hex id: the same sequence of calls gives the same ids. */
export const makeId = (kind: string, n: number): string =>
  createHash("sha256").update(`effect-docker/memory/${kind}/${n}`).digest("hex")

/** The short id Docker prints (12 hex). */
export const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12)

/**
 * An engine error exactly as the live engine maps it: the HTTP status and the engine's message
 * go through {@link DockerError.fromCause}, so reasons never drift between the two.
 */
export const engineError = (
  operation: string,
  statusCode: number,
  message: string
): DockerError.DockerError => DockerError.fromCause(operation)({ statusCode, json: { message } })

/** The status an injected failure of a given reason carries (none for socket-level reasons). */
export const statusOfReason = (reason: DockerError.DockerErrorReason): number | undefined => {
  switch (reason) {
    case "NotFound":
      return 404
    case "Conflict":
      return 409
    case "BadRequest":
      return 400
    case "Unauthorized":
      return 401
    case "ServerError":
      return 500
    default:
      return undefined
  }
}

const validName = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** Docker's container name rule. */
export const isValidContainerName = (name: string): boolean => validName.test(name)

/** A label filter as Docker applies it: `true` = the key is present, a string = that exact value. */
export const matchesLabels = (
  labels: Readonly<Record<string, string>>,
  filter: LabelFilter | undefined
): boolean => {
  if (filter === undefined) return true
  for (const [key, value] of Object.entries(filter)) {
    const actual = labels[key]
    if (actual === undefined) return false
    if (value !== true && actual !== value) return false
  }
  return true
}

const signalNumbers: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15
}

/** `SIGTERM`, `TERM` or `15` → 15; undefined when Docker would refuse it. */
export const parseSignal = (signal: string): number | undefined => {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal)
    return n > 0 && n < 65 ? n : undefined
  }
  const upper = signal.toUpperCase()
  return signalNumbers[upper.startsWith("SIG") ? upper : `SIG${upper}`]
}

/** How Docker's `ps` says how long ago something happened. */
export const humanDuration = (ms: number): string => {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return "Less than a second"
  if (seconds === 1) return "1 second"
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return "About a minute"
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(seconds / 3600)
  if (hours === 1) return "About an hour"
  if (hours < 48) return `${hours} hours`
  return `${Math.floor(hours / 24)} days`
}

/** Whether an event passes the engine-side filters (moby's `events.Filter`). */
export const matchesEvent = (
  event: EngineEvent,
  filter: {
    readonly labels?: LabelFilter | undefined
    readonly types?: ReadonlyArray<string> | undefined
    readonly actions?: ReadonlyArray<string> | undefined
    readonly containers?: ReadonlyArray<string> | undefined
  }
): boolean => {
  if (filter.types !== undefined && filter.types.length > 0 && !filter.types.includes(event.type))
    return false
  if (filter.actions !== undefined && filter.actions.length > 0) {
    // `health_status` matches `health_status: healthy`, as on the engine.
    const prefix = event.action.split(":")[0] ?? event.action
    if (!filter.actions.includes(event.action) && !filter.actions.includes(prefix)) return false
  }
  if (filter.containers !== undefined && filter.containers.length > 0) {
    if (event.type !== "container") return false
    const name = event.attributes.name
    const match = filter.containers.some((c) => c === name || event.actorId.startsWith(c))
    if (!match) return false
  }
  return matchesLabels(event.attributes, filter.labels)
}

/** Seconds (fractions allowed) to nanoseconds. */
export const secondsToNanos = (seconds: number): bigint => BigInt(Math.round(seconds * 1e9))

const pathProblems: Record<ContainerPathIssue, string> = {
  nul: "contains NUL",
  relative: "is not absolute",
  parent: "contains ..",
  directory: "names a directory",
  notNormalised: "is not normalised"
}

/** Why a path for a file copied in is refused, in the engine's words (the check is internal/containerPath). */
export const invalidPathReason = (path: string): string | undefined => {
  const issue = containerPathIssue(path)
  return issue === undefined ? undefined : pathProblems[issue]
}
