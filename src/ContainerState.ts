/**
 * What a supervised container looks like right now: one immutable value per observed
 * change (pull progress, create, start, health, stats, restart, exit), its fields and the
 * helpers that read it. The Supervisor makes these values; the transitions it folds its
 * observations with are its own (the ones once exported here are kept, deprecated).
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * const describe = (state: ContainerState.ContainerState) =>
 *   ContainerState.isFinal(state) ? `${state.name}: ${state.error ?? "done"}` : `${state.name}: ${state.status}`
 * ```
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import * as Transitions from "./internal/containerState.js"

/**
 * `pulling` (the image, before any container), `created`, `running`, `restarting` (between
 * an exit and the policy's restart), `exited` (final).
 *
 * @category models
 * @since 0.1.0
 */
export type Status = "pulling" | "created" | "running" | "restarting" | "exited"

/**
 * `none` when the container has no healthcheck, else the engine's health status.
 *
 * @category models
 * @since 0.1.0
 */
export type Health = "none" | "starting" | "healthy" | "unhealthy"

/**
 * Image pull progress aggregated over the image's layers.
 *
 * @category models
 * @since 0.1.0
 */
export interface Pull {
  readonly bytesDone: number
  /** Bytes known so far; layers whose size is not known yet add nothing. */
  readonly bytesTotal: number
  readonly layersDone: number
  readonly layersTotal: number
  /** 0 to 100; `undefined` while the total is unknown or 0. */
  readonly percent: number | undefined
}

/**
 * A port published on the host, as the engine bound it at the last start (a random host
 * port may change at each restart).
 *
 * @category models
 * @since 0.2.0
 */
export interface PublishedPort {
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
  /** The host address it is bound to: `0.0.0.0` (or `::`) for all of them. */
  readonly hostIp: string
  readonly hostPort: number
}

/**
 * Where a running container can be reached: its IP and the names it answers to on the
 * instance network (from the other containers of the instance), and its ports published on
 * the host (from this process: `handle.port` says which host to connect to).
 *
 * @category models
 * @since 0.2.0
 */
export interface Address {
  /** On the instance network; `undefined` when the engine gave none. */
  readonly ip: string | undefined
  readonly aliases: ReadonlyArray<string>
  readonly ports: ReadonlyArray<PublishedPort>
}

/**
 * Which Swarm task a state is about (`Supervisor.layerSwarm`): the replica's slot, the node
 * it runs on and the task's id. A slot keeps its number when Swarm replaces its task (a new
 * `taskId`, maybe another node). `stats` says whether the state can carry stats: only for a
 * task on a node whose engine the Supervisor reaches (the manager's own node, and those given
 * in `nodeEngines`); elsewhere the stats fields stay `undefined`, never zeros.
 *
 * @category models
 * @since 0.3.0
 */
export interface Task {
  readonly slot: number
  /** The node's id; `undefined` until the task is scheduled. */
  readonly nodeId: string | undefined
  /** The node's hostname; `undefined` until the task is scheduled. */
  readonly node: string | undefined
  readonly taskId: string
  readonly stats: "available" | "unavailable"
}

/**
 * The fields of a {@link ContainerState}.
 *
 * @category models
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
  /** The kernel killed the last run for lack of memory (the engine's `OOMKilled`). */
  readonly oomKilled: boolean
  /** Why the container failed: the engine's error and/or the last log lines of a failed exit. */
  readonly error: string | undefined
  /** The last log lines (sanitized) of the current or last run. */
  readonly lastLogLines: ReadonlyArray<string>
  /** Where the container can be reached, read after every (re)start; `undefined` while not running. */
  readonly address: Address | undefined
  /** The Swarm task of this replica (`Supervisor.layerSwarm`); `undefined` on a single host. */
  readonly task?: Task | undefined
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
 * @category models
 * @since 0.1.0
 */
export class ContainerState extends Data.Class<Fields> {}

/**
 * The state before anything happened: `pulling`, no id, no progress yet (what a view shows
 * for a service the Supervisor has not reported on).
 *
 * @example
 * ```ts
 * import { ContainerState } from "effect-docker"
 *
 * ContainerState.initial("db", "postgres:17").status // "pulling"
 * ```
 *
 * @category constructors
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
    cpuPercent: undefined,
    memoryUsed: undefined,
    memoryLimit: undefined,
    memoryPercent: undefined,
    rxRate: undefined,
    txRate: undefined,
    rxTotal: undefined,
    txTotal: undefined,
    restartCount: 0,
    startedAt: undefined,
    exitCode: undefined,
    oomKilled: false,
    error: undefined,
    lastLogLines: [],
    address: undefined
  })

/**
 * How a run ended.
 *
 * @category models
 * @since 0.1.0
 */
export interface Exit {
  /** `undefined` when the container was removed before it exited on its own. */
  readonly exitCode: number | undefined
  /** The engine's error for the exit, if any. */
  readonly error?: string | undefined
  /** The kernel killed it for lack of memory. */
  readonly oomKilled?: boolean | undefined
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
 * @category getters
 * @since 0.1.0
 */
export const exitError = (exit: Exit): string | undefined => {
  const failed = exit.exitCode !== undefined && exit.exitCode !== 0
  const engineError = exit.error !== undefined && exit.error.length > 0 ? exit.error : undefined
  const oom = exit.oomKilled === true ? "killed: out of memory (OOMKilled)" : undefined
  if (!failed && engineError === undefined && oom === undefined) return undefined
  const head = [engineError, oom, failed ? `exited with code ${exit.exitCode}` : undefined]
    .filter((part) => part !== undefined)
    .join(": ")
  return failed && exit.lastLogLines.length > 0
    ? `${head}; last output:\n${exit.lastLogLines.join("\n")}`
    : head
}

/**
 * Is this the final state of a run?
 *
 * @category guards
 * @since 0.1.0
 */
export const isFinal = (state: ContainerState): boolean => state.status === "exited"

// ---------------------------------------------------------------------------------------------
// Deprecated: the Supervisor's transitions, once public. Kept so that code written against
// 0.1.0 still compiles; each delegates to the Supervisor's own (internal) transition.
// ---------------------------------------------------------------------------------------------

/**
 * Pull progress, from the aggregate of the pull's progress lines.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const pulling = (
  state: ContainerState,
  progress: {
    readonly layers: ReadonlyMap<
      string,
      { readonly current: number; readonly total: number | undefined; readonly done: boolean }
    >
    readonly bytesDone: number
  }
): ContainerState => Transitions.pulling(state, progress)

/**
 * The container exists (not started yet).
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const created = (state: ContainerState, id: string): ContainerState => Transitions.created(state, id)

/**
 * A run started: `running`, the previous run's exit, error, health, stats and log lines cleared.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const started = (state: ContainerState, startedAt: Date): ContainerState =>
  Transitions.started(state, startedAt)

/**
 * The health status changed.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const health = (state: ContainerState, health: Health): ContainerState =>
  Transitions.health(state, health)

/**
 * A stats sample was read; ignored unless the container is running.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const stats = (
  state: ContainerState,
  snapshot: Pick<
    Fields,
    | "cpuPercent"
    | "memoryUsed"
    | "memoryLimit"
    | "memoryPercent"
    | "rxRate"
    | "txRate"
    | "rxTotal"
    | "txTotal"
  >
): ContainerState => Transitions.stats(state, snapshot)

/**
 * The last log lines of the current run (already sanitized).
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const logLines = (state: ContainerState, lastLogLines: ReadonlyArray<string>): ContainerState =>
  Transitions.logLines(state, lastLogLines)

/**
 * The final state: `exited` with the exit code, the error and the last log lines.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const exited = (state: ContainerState, exit: Exit): ContainerState => Transitions.exited(state, exit)

/**
 * The run ended and the policy restarts it: `restarting`, with the new restart count.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const restarting = (state: ContainerState, restartCount: number, exit?: Exit): ContainerState =>
  Transitions.restarting(state, restartCount, exit)

/**
 * Records an error (from the engine) without changing the status.
 *
 * @deprecated The Supervisor's own transition; states come from `Supervisor.run` and `start`.
 * @category transitions
 * @since 0.1.0
 */
export const failed = (state: ContainerState, error: string): ContainerState =>
  Transitions.failed(state, error)
