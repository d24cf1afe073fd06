/**
 * The pure transitions the Supervisor folds its observations with: one new `ContainerState`
 * per observed change (pull progress, create, start, health, stats, restart, exit). No I/O.
 * The public `ContainerState` module holds the value, its fields and the read helpers.
 *
 * @internal
 */
import {
  type Address,
  ContainerState,
  type Exit,
  exitError,
  type Fields,
  type Health
} from "../ContainerState.js"
import * as PullProgress from "./pullProgress.js"
import type { StatsSnapshot } from "./stats.js"

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

/** Pull progress, from the aggregate of the pull's progress lines. @internal */
export const pulling = (state: ContainerState, progress: PullProgress.PullAggregate): ContainerState =>
  set(state, { status: "pulling", pull: PullProgress.summary(progress) })

/** The container exists (not started yet). @internal */
export const created = (state: ContainerState, id: string): ContainerState =>
  set(state, { status: "created", id })

/**
 * A run started (the first or a restart): `running`, the previous run's exit, error,
 * health, stats and log lines cleared.
 *
 * @internal
 */
export const started = (state: ContainerState, startedAt: Date): ContainerState =>
  set(state, {
    status: "running",
    startedAt,
    exitCode: undefined,
    oomKilled: false,
    error: undefined,
    health: "none",
    ...noStats,
    lastLogLines: []
  })

/** Where the run can be reached, read from inspect after its start. @internal */
export const reached = (state: ContainerState, address: Address): ContainerState => set(state, { address })

/** The health status changed. @internal */
export const health = (state: ContainerState, health: Health): ContainerState => set(state, { health })

/**
 * A stats sample was read. Ignored unless the container is running (a late sample must not
 * bring back figures of a run that ended).
 *
 * @internal
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

/** The last log lines of the current run (already sanitized). @internal */
export const logLines = (state: ContainerState, lastLogLines: ReadonlyArray<string>): ContainerState =>
  set(state, { lastLogLines })

/**
 * The final state: `exited` with the exit code, the error and the last log lines; the
 * live figures (CPU, memory, rates) are cleared, totals kept.
 *
 * @internal
 */
export const exited = (state: ContainerState, exit: Exit): ContainerState =>
  set(state, {
    status: "exited",
    exitCode: exit.exitCode,
    oomKilled: exit.oomKilled === true,
    error: exitError(exit),
    lastLogLines: exit.lastLogLines,
    address: undefined,
    ...noStats
  })

/**
 * The run ended and the policy restarts it: `restarting`, with the new restart count and
 * the exit that caused it.
 *
 * @internal
 */
export const restarting = (state: ContainerState, restartCount: number, exit?: Exit): ContainerState =>
  set(state, {
    status: "restarting",
    restartCount,
    address: undefined,
    ...noStats,
    ...(exit === undefined
      ? {}
      : {
          exitCode: exit.exitCode,
          oomKilled: exit.oomKilled === true,
          error: exitError(exit),
          lastLogLines: exit.lastLogLines
        })
  })

/** Records an error (from the engine) without changing the status. @internal */
export const failed = (state: ContainerState, error: string): ContainerState => set(state, { error })
