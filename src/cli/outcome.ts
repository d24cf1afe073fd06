/**
 * When `up` is over, and with which exit status, under the flags people bring from Compose:
 * `--wait` (over once every service is up), `--abort-on-container-exit`,
 * `--abort-on-container-failure` and `--exit-code-from SERVICE` (over at the first container
 * to end). Pure decisions over what the fleet reported; `main.ts` acts on them.
 *
 * @since 0.1.0
 */
import type * as Fleet from "./Fleet.js"
import type * as Up from "./up.js"
import type * as View from "./view.js"

/**
 * The `up` flags this module decides on.
 *
 * @since 0.1.0
 */
export interface Flags {
  readonly wait: boolean
  readonly abortOnContainerExit: boolean
  readonly abortOnContainerFailure: boolean
  readonly exitCodeFrom: string | undefined
  readonly json: boolean
  readonly simulated: boolean
}

/**
 * What ends the fleet early: nothing, any container ending, or one failing.
 * `--exit-code-from` implies `--abort-on-container-exit`, as in Compose.
 *
 * @since 0.1.0
 */
export type AbortOn = "nothing" | "exit" | "failure"

/** @since 0.1.0 */
export const abortOn = (flags: Flags): AbortOn =>
  flags.abortOnContainerExit || flags.exitCodeFrom !== undefined
    ? "exit"
    : flags.abortOnContainerFailure
      ? "failure"
      : "nothing"

/**
 * Why the flags cannot be honoured together on this fleet (a message for exit status 2), or
 * `undefined` when they can.
 *
 * @since 0.1.0
 */
export const checkFlags = (fleet: Fleet.Fleet, flags: Flags): string | undefined => {
  if (flags.abortOnContainerExit && flags.abortOnContainerFailure)
    return "--abort-on-container-exit and --abort-on-container-failure are mutually exclusive"
  if (flags.exitCodeFrom !== undefined && flags.abortOnContainerFailure)
    return "--exit-code-from implies --abort-on-container-exit: it cannot go with --abort-on-container-failure"
  if (flags.exitCodeFrom !== undefined && !fleet.services.some((s) => s.name === flags.exitCodeFrom)) {
    const names = fleet.services.map((s) => s.name).join(", ")
    return `--exit-code-from ${flags.exitCodeFrom}: no such service in the fleet (${names})`
  }
  if (flags.wait) {
    if (abortOn(flags) !== "nothing")
      return "--wait leaves the fleet running in the background: it cannot go with --abort-on-container-exit, --abort-on-container-failure or --exit-code-from"
    if (flags.json)
      return "--wait returns once the fleet is up, --json streams states until it ends: give one"
    if (flags.simulated)
      return "--wait leaves the fleet running after this command: a simulated fleet (MemoryEngine) lives only inside it"
  }
  return undefined
}

/** Is some service waiting for this one to complete (`service_completed_successfully`)? */
const awaitedToComplete = (fleet: Fleet.Fleet, service: string): boolean =>
  fleet.services.some((other) =>
    other.dependsOn.some((d) => d.service === service && d.condition === "service_completed_successfully")
  )

/**
 * Whether a replica's end stops the fleet. Under `exit`, a job that others wait for to complete
 * and that did complete is the fleet's own sequencing, not an end: it does not stop anything.
 *
 * @since 0.1.0
 */
export const stopsTheFleet = (mode: AbortOn, fleet: Fleet.Fleet, ended: Up.Ended): boolean => {
  if (mode === "nothing") return false
  if (mode === "failure") return !ended.ok
  return !(ended.ok && awaitedToComplete(fleet, ended.of))
}

/**
 * The exit status once the fleet was stopped because `trigger` ended: that replica's exit code,
 * or with `--exit-code-from` the named service's (its first replica to end). A service stopped
 * before it exited on its own, or a run that failed without an exit code, gives 1 and says why.
 *
 * @since 0.1.0
 */
export const exitStatus = (
  trigger: Up.Ended,
  exitCodeFrom: string | undefined,
  endedSoFar: ReadonlyArray<Up.Ended>
): { readonly code: number; readonly message: string | undefined } => {
  const from = exitCodeFrom === undefined ? trigger : endedSoFar.find((ended) => ended.of === exitCodeFrom)
  if (from === undefined)
    return {
      code: 1,
      message: `${exitCodeFrom} was stopped before it exited: ${trigger.service} ended first (${trigger.exitCode === undefined ? trigger.reason : `exit ${trigger.exitCode}`})`
    }
  if (from.exitCode === undefined) return { code: 1, message: from.reason }
  return {
    code: from.exitCode,
    message: from === trigger ? undefined : `${trigger.service} ended (exit ${trigger.exitCode ?? "?"})`
  }
}

/**
 * Where `up --wait` stands: still `Waiting` (on the replicas named), `Ready` (every replica
 * running, healthy when it has a healthcheck, or ended with exit 0), or `Failed` (a replica
 * failed for good or turned unhealthy, named in the reason).
 *
 * @since 0.1.0
 */
export type WaitVerdict =
  | { readonly _tag: "Waiting"; readonly pending: ReadonlyArray<string> }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Failed"; readonly service: string; readonly reason: string }

/**
 * The `--wait` verdict from the latest state and the end (if any) of every replica.
 *
 * @since 0.1.0
 */
export const waitVerdict = (
  replicas: ReadonlyArray<string>,
  latest: ReadonlyMap<string, View.ViewState>,
  ended: ReadonlyMap<string, Up.ServiceResult>
): WaitVerdict => {
  const pending: Array<string> = []
  for (const replica of replicas) {
    const end = ended.get(replica)
    if (end !== undefined) {
      if (!end.ok) return { _tag: "Failed", service: replica, reason: end.reason ?? `${replica} failed` }
      continue
    }
    const state = latest.get(replica)
    if (state?.health === "unhealthy")
      return { _tag: "Failed", service: replica, reason: `${replica} is unhealthy` }
    const up = state?.status === "running" && (state.health === "none" || state.health === "healthy")
    if (!up) pending.push(replica)
  }
  return pending.length === 0 ? { _tag: "Ready" } : { _tag: "Waiting", pending }
}

/**
 * What the user reads when `--wait` gives up: who was not up yet, and in which state.
 *
 * @since 0.1.0
 */
export const describePending = (
  pending: ReadonlyArray<string>,
  latest: ReadonlyMap<string, View.ViewState>
): string =>
  pending
    .map((replica) => {
      const state = latest.get(replica)
      if (state === undefined) return `${replica} (not started)`
      return `${replica} (${state.status}${state.health === "none" ? "" : `, ${state.health}`})`
    })
    .join(", ")
