/**
 * What a supervised container looks like right now: one immutable value per observed
 * change (pull progress, create, start, health, stats, restart, exit), and the pure
 * transitions the Supervisor folds its observations with. No I/O here.
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * let state = ContainerState.initial("web", "nginx:1.27")
 * state = ContainerState.created(state, "f3a9c0")
 * state = ContainerState.started(state, new Date())
 * state.status // "running"
 * ```
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import * as PullProgress from "./internal/pullProgress.js"
import type { StatsSnapshot } from "./internal/stats.js"

/**
 * `pulling` (the image, before any container), `created`, `running`, `restarting` (between
 * an exit and the policy's restart), `exited` (final).
 *
 * @since 0.1.0
 */
export type Status = "pulling" | "created" | "running" | "restarting" | "exited"

/**
 * `none` when the container has no healthcheck, else the engine's health status.
 *
 * @since 0.1.0
 */
export type Health = "none" | "starting" | "healthy" | "unhealthy"

/**
 * Image pull progress aggregated over the image's layers.
 *
 * @since 0.1.0
 */
export type Pull = PullProgress.PullSummary

/**
 * The fields of a {@link ContainerState}.
 *
 * @since 0.1.0
 */
export interface Fields {
  /** The container's id; `undefined` while pulling. */
  readonly id: string | undefined
  /** The spec's component name. */
  readonly name: string
  readonly image: string
  readonly status: Status
  /** Set while (and after) the image is pulled; `undefined` when no pull ran. */
  readonly pull: Pull | undefined
  readonly health: Health
  /** As `docker stats` shows it; `undefined` until two samples were read. */
  readonly cpuPercent: number | undefined
  /** Bytes, without the inactive file cache. */
  readonly memoryUsed: number | undefined
  readonly memoryLimit: number | undefined
  readonly memoryPercent: number | undefined
  /** Bits per second, rolling average. */
  readonly rxRate: number | undefined
  readonly txRate: number | undefined
  /** Bytes since the container's network came up. */
  readonly rxTotal: number | undefined
  readonly txTotal: number | undefined
  /** Restarts done by the supervisor's restart policy. */
  readonly restartCount: number
  /** When the current (or last) run started. */
  readonly startedAt: Date | undefined
  /** The last run's exit code, once it exited. */
  readonly exitCode: number | undefined
  /** Why the container failed: the engine's error and/or the last log lines of a failed exit. */
  readonly error: string | undefined
  /** The last log lines (sanitized) of the current or last run. */
  readonly lastLogLines: ReadonlyArray<string>
}

/**
 * One observed state of a supervised container.
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * const describe = (state: ContainerState.ContainerState) =>
 *   `${state.name} ${state.status} cpu=${state.cpuPercent?.toFixed(1) ?? "-"}% restarts=${state.restartCount}`
 * ```
 *
 * @since 0.1.0
 */
export class ContainerState extends Data.Class<Fields> {}

const set = (state: ContainerState, changes: Partial<Fields>): ContainerState =>
  new ContainerState({ ...state, ...changes })

const noStats = {
  cpuPercent: undefined,
  memoryUsed: undefined,
  memoryLimit: undefined,
  memoryPercent: undefined,
  rxRate: undefined,
  txRate: undefined
} as const

/**
 * The state before anything happened: `pulling`, no id, no progress yet.
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * ContainerState.initial("db", "postgres:17").status // "pulling"
 * ```
 *
 * @since 0.1.0
 */
export const initial = (name: string, image: string): ContainerState =>
  new ContainerState({
    id: undefined,
    name,
    image,
    status: "pulling",
    pull: undefined,
    health: "none",
    ...noStats,
    rxTotal: undefined,
    txTotal: undefined,
    restartCount: 0,
    startedAt: undefined,
    exitCode: undefined,
    error: undefined,
    lastLogLines: []
  })

/**
 * Pull progress, from the aggregate of the pull's progress lines.
 *
 * @since 0.1.0
 */
export const pulling = (state: ContainerState, progress: PullProgress.PullAggregate): ContainerState =>
  set(state, { status: "pulling", pull: PullProgress.summary(progress) })

/**
 * The container exists (not started yet).
 *
 * @since 0.1.0
 */
export const created = (state: ContainerState, id: string): ContainerState =>
  set(state, { status: "created", id })

/**
 * A run started (the first or a restart): `running`, the previous run's exit, error,
 * health, stats and log lines cleared.
 *
 * @since 0.1.0
 */
export const started = (state: ContainerState, startedAt: Date): ContainerState =>
  set(state, {
    status: "running",
    startedAt,
    exitCode: undefined,
    error: undefined,
    health: "none",
    ...noStats,
    lastLogLines: []
  })

/**
 * The health status changed.
 *
 * @since 0.1.0
 */
export const health = (state: ContainerState, health: Health): ContainerState => set(state, { health })

/**
 * A stats sample was read. Ignored unless the container is running (a late sample must not
 * bring back figures of a run that ended).
 *
 * @since 0.1.0
 */
export const stats = (state: ContainerState, snapshot: StatsSnapshot): ContainerState =>
  state.status !== "running"
    ? state
    : set(state, {
        cpuPercent: snapshot.cpuPercent,
        memoryUsed: snapshot.memoryUsed,
        memoryLimit: snapshot.memoryLimit,
        memoryPercent: snapshot.memoryPercent,
        rxRate: snapshot.rxRate,
        txRate: snapshot.txRate,
        rxTotal: snapshot.rxTotal ?? state.rxTotal,
        txTotal: snapshot.txTotal ?? state.txTotal
      })

/**
 * The last log lines of the current run (already sanitized).
 *
 * @since 0.1.0
 */
export const logLines = (state: ContainerState, lastLogLines: ReadonlyArray<string>): ContainerState =>
  set(state, { lastLogLines })

/**
 * How a run ended.
 *
 * @since 0.1.0
 */
export interface Exit {
  /** `undefined` when the container was removed before it exited on its own. */
  readonly exitCode: number | undefined
  /** The engine's error for the exit, if any. */
  readonly error?: string | undefined
  readonly lastLogLines: ReadonlyArray<string>
}

/**
 * The `error` text of an exit: the engine's error, the exit code when not 0, and the last
 * log lines when it failed. `undefined` for a clean exit.
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * ContainerState.exitError({ exitCode: 1, lastLogLines: ["boom"] }) // "exited with code 1; last output:\nboom"
 * ```
 *
 * @since 0.1.0
 */
export const exitError = (exit: Exit): string | undefined => {
  const failed = exit.exitCode !== undefined && exit.exitCode !== 0
  const engineError = exit.error !== undefined && exit.error.length > 0 ? exit.error : undefined
  if (!failed && engineError === undefined) return undefined
  const head = [engineError, failed ? `exited with code ${exit.exitCode}` : undefined]
    .filter((part) => part !== undefined)
    .join(": ")
  return failed && exit.lastLogLines.length > 0
    ? `${head}; last output:\n${exit.lastLogLines.join("\n")}`
    : head
}

/**
 * The final state: `exited` with the exit code, the error and the last log lines; the
 * live figures (CPU, memory, rates) are cleared, totals kept.
 *
 * @since 0.1.0
 */
export const exited = (state: ContainerState, exit: Exit): ContainerState =>
  set(state, {
    status: "exited",
    exitCode: exit.exitCode,
    error: exitError(exit),
    lastLogLines: exit.lastLogLines,
    ...noStats
  })

/**
 * The run ended and the policy restarts it: `restarting`, with the new restart count and
 * the exit that caused it.
 *
 * @since 0.1.0
 */
export const restarting = (state: ContainerState, restartCount: number, exit?: Exit): ContainerState =>
  set(state, {
    status: "restarting",
    restartCount,
    ...noStats,
    ...(exit === undefined
      ? {}
      : { exitCode: exit.exitCode, error: exitError(exit), lastLogLines: exit.lastLogLines })
  })

/**
 * Records an error (from the engine) without changing the status.
 *
 * @since 0.1.0
 */
export const failed = (state: ContainerState, error: string): ContainerState => set(state, { error })

/**
 * Is this the final state of a run?
 *
 * @since 0.1.0
 */
export const isFinal = (state: ContainerState): boolean => state.status === "exited"
