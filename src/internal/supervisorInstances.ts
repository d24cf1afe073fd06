/**
 * Instances found on an engine by their labels, as the CLI's `ps`, `down` and `sweep` see them:
 * the label keys, the owner of an instance and whether it runs, and their teardown. Exported
 * through `Supervisor`.
 *
 * @internal
 */
import * as Os from "node:os"
import type { Effect } from "effect"
import { type ContainerSummary, DockerEngine, type NetworkInspect } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as Labels from "./labels.js"
import * as Teardown from "./teardown.js"

/**
 * The label keys the library puts on every container and network it creates, under one
 * prefix: filter `listContainers` or `listNetworks` with them to find an app's instances.
 *
 * @category instances
 * @since 0.1.0
 */
export interface LabelKeys {
  /** The prefix, ending in `.` (default `dev.effect-docker.`). */
  readonly prefix: string
  readonly app: string
  readonly instance: string
  readonly component: string
  /** `hostname/pid/startedAt` of the process that owns the instance (see {@link ownerOf}). */
  readonly owner: string
}

/**
 * The label keys under `labelPrefix` (the `labelPrefix` option of the instances; default
 * `dev.effect-docker.`, a trailing `.` is added when missing).
 *
 * @example
 * ```ts
 * const keys = Supervisor.labelKeys()
 * const containers = yield* engine.listContainers({ all: true, labels: { [keys.app]: "demo" } })
 * ```
 *
 * @category instances
 * @since 0.1.0
 */
export const labelKeys = (labelPrefix?: string): LabelKeys => Labels.keys(labelPrefix)

/**
 * Whether the process owning an instance runs: `alive`, `gone` (this host, its pid dead or
 * reused) or `elsewhere` (another host, which cannot be asked: never called gone).
 *
 * @category instances
 * @since 0.1.0
 */
export type OwnerStatus = "alive" | "gone" | "elsewhere"

/**
 * The process that owns an instance, read from its owner label.
 *
 * @category instances
 * @since 0.1.0
 */
export interface Owner {
  readonly hostname: string
  readonly pid: number
  /** When the process started, Unix milliseconds (tells a reused pid apart). */
  readonly startedAt: number
  readonly status: OwnerStatus
}

/**
 * Reads an owner label (`LabelKeys.owner`) and asks whether its process still runs;
 * `undefined` when the value is not an owner label.
 *
 * @example
 * ```ts
 * const owner = Supervisor.ownerOf(container.labels[Supervisor.labelKeys().owner])
 * if (owner?.status === "gone") yield* Console.log(`pid ${owner.pid} is gone`)
 * ```
 *
 * @category instances
 * @since 0.1.0
 */
export const ownerOf = (ownerLabel: string | undefined): Owner | undefined => {
  const owner = ownerLabel === undefined ? undefined : Labels.parseOwner(ownerLabel)
  if (ownerLabel === undefined || owner === undefined) return undefined
  const status: OwnerStatus =
    owner.hostname !== Os.hostname() ? "elsewhere" : Labels.isOwnerGone(ownerLabel) ? "gone" : "alive"
  return { ...owner, status }
}

/**
 * Takes down containers and networks found by their labels, as `effect-docker down` does:
 * every container at once (a running one stopped with its own stop timeout, then
 * force-removed), then the networks. A busy or restarting engine is retried; already gone
 * counts as removed. Their owners are not asked: check {@link ownerOf} first.
 *
 * @example
 * ```ts
 * const keys = Supervisor.labelKeys()
 * const engine = yield* DockerEngine.DockerEngine
 * const containers = yield* engine.listContainers({ all: true, labels: { [keys.app]: "demo" } })
 * const networks = yield* engine.listNetworks({ labels: { [keys.app]: "demo" } })
 * yield* Supervisor.tearDown({ containers, networks })
 * ```
 *
 * @category instances
 * @since 0.1.0
 */
export const tearDown = (found: {
  readonly containers: ReadonlyArray<Pick<ContainerSummary, "id" | "state">>
  readonly networks: ReadonlyArray<Pick<NetworkInspect, "id">>
}): Effect.Effect<void, DockerError, DockerEngine> =>
  DockerEngine.use((engine) => Teardown.removeFound(engine, found))
