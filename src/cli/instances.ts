/**
 * `ps`, `down` and `sweep`: the instances the library left on an engine, found by their
 * labels, listed and removed (through `Supervisor.tearDown`, with the library's retries).
 * Read-only `ps` makes no Supervisor (that would create a network).
 *
 * @since 0.1.0
 */

import { Effect } from "effect"
import {
  type ContainerSummary,
  DockerEngine,
  type DockerEngineShape,
  type NetworkInspect
} from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as Supervisor from "../Supervisor.js"
import * as Background from "./background.js"

/**
 * Whether the process that owns an instance runs: `alive`, `gone` (same host, pid dead), or
 * `elsewhere` (another host: never called gone, never swept).
 *
 * @since 0.1.0
 */
export type OwnerStatus = Supervisor.OwnerStatus | "unknown"

/** @since 0.1.0 */
export interface Instance {
  readonly app: string
  readonly instance: string
  readonly owner: string | undefined
  readonly ownerStatus: OwnerStatus
  /** Run by a background `up --wait`: `down` stops its owner, which removes it. */
  readonly background: boolean
  readonly containers: ReadonlyArray<ContainerSummary>
  readonly networks: ReadonlyArray<NetworkInspect>
}

/** Which labels: the library's default prefix and, optionally, one app. */
export interface Selection {
  readonly app?: string | undefined
  readonly labelPrefix?: string | undefined
}

const ownerStatus = (owner: string | undefined): OwnerStatus => Supervisor.ownerOf(owner)?.status ?? "unknown"

/**
 * Every instance with a container or a network on the engine, oldest first.
 *
 * @since 0.1.0
 */
export const list = (
  engine: DockerEngineShape,
  selection: Selection = {}
): Effect.Effect<ReadonlyArray<Instance>, DockerError> =>
  Effect.gen(function* () {
    const keys = Supervisor.labelKeys(selection.labelPrefix)
    const filter = { [keys.app]: selection.app ?? true } as const
    const [containers, networks] = yield* Effect.all(
      [engine.listContainers({ all: true, labels: filter }), engine.listNetworks({ labels: filter })],
      { concurrency: 2 }
    )
    const instances = new Map<string, { app: string; instance: string; owner: string | undefined }>()
    const keyOf = (labels: Readonly<Record<string, string>>) =>
      `${labels[keys.app]}\u0000${labels[keys.instance]}`
    for (const { labels } of [...containers, ...networks]) {
      const instance = labels[keys.instance]
      const app = labels[keys.app]
      if (instance === undefined || app === undefined) continue
      if (!instances.has(keyOf(labels)))
        instances.set(keyOf(labels), { app, instance, owner: labels[keys.owner] })
    }
    const oldest = (instance: Instance) =>
      Math.min(...instance.containers.map((c) => c.created), Number.MAX_SAFE_INTEGER)
    return [...instances.entries()]
      .map(([key, found]): Instance => {
        const own = {
          containers: containers.filter((c) => keyOf(c.labels) === key),
          networks: networks.filter((n) => keyOf(n.labels) === key)
        }
        const background = [...own.containers, ...own.networks].some(
          (item) =>
            item.labels[Background.backgroundLabel(selection.labelPrefix)] === Background.BACKGROUND_VALUE
        )
        return { ...found, ownerStatus: ownerStatus(found.owner), background, ...own }
      })
      .sort((a, b) => oldest(a) - oldest(b))
  })

/**
 * Stops (each with its own stop timeout, all at once) and removes the instances' containers,
 * then their networks. Already gone is fine: a running `up` may be removing them too.
 *
 * @since 0.1.0
 */
export const remove = (
  engine: DockerEngineShape,
  instances: ReadonlyArray<Instance>
): Effect.Effect<{ readonly containers: number; readonly networks: number }, DockerError> =>
  Effect.gen(function* () {
    const containers = instances.flatMap((instance) => instance.containers)
    const networks = instances.flatMap((instance) => instance.networks)
    yield* Supervisor.tearDown({ containers, networks }).pipe(Effect.provideService(DockerEngine, engine))
    return { containers: containers.length, networks: networks.length }
  })

/**
 * The instances whose owner may still run: alive on this host, or on another host (which
 * cannot be asked). `down --all` leaves them alone unless forced.
 *
 * @since 0.1.0
 */
export const withLiveOwner = (instances: ReadonlyArray<Instance>): ReadonlyArray<Instance> =>
  instances.filter((instance) => instance.ownerStatus === "alive" || instance.ownerStatus === "elsewhere")

/**
 * Removes the instances whose owning process is gone (on this host); live instances and
 * other hosts' are kept.
 *
 * @since 0.1.0
 */
export const sweep = (
  engine: DockerEngineShape,
  selection: Selection = {}
): Effect.Effect<
  { readonly instances: number; readonly containers: number; readonly networks: number },
  DockerError
> =>
  Effect.gen(function* () {
    const stale = (yield* list(engine, selection)).filter((instance) => instance.ownerStatus === "gone")
    const removed = yield* remove(engine, stale)
    return { instances: stale.length, ...removed }
  })

/**
 * The `ps` table: one line per container, grouped by instance, with the owner's status and
 * the engine's own status text (`Up 5 seconds (healthy)`, `Exited (3) 2 seconds ago`).
 *
 * @since 0.1.0
 */
export const render = (
  instances: ReadonlyArray<Instance>,
  selection: Selection = {}
): ReadonlyArray<string> => {
  if (instances.length === 0) return ["no instances"]
  const keys = Supervisor.labelKeys(selection.labelPrefix)
  const rows: Array<ReadonlyArray<string>> = [["APP", "INSTANCE", "OWNER", "SERVICE", "STATE", "STATUS"]]
  for (const instance of instances) {
    const owner = describeOwner(instance)
    if (instance.containers.length === 0) {
      rows.push([
        instance.app,
        instance.instance,
        owner,
        "-",
        "-",
        `network only (${instance.networks.length})`
      ])
    }
    for (const container of instance.containers) {
      rows.push([
        instance.app,
        instance.instance,
        owner,
        container.labels[keys.component] ?? container.names[0] ?? container.id.slice(0, 12),
        container.state,
        container.status
      ])
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row
      .map((text, column) => (column === row.length - 1 ? text : text.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd()
  )
}

/** `alive (pid 123)`, `elsewhere (pid 7 on build-2)`, or `unknown`. @since 0.1.0 */
export const describeOwner = (instance: Instance): string => {
  const owner = Supervisor.ownerOf(instance.owner)
  if (owner === undefined) return "unknown"
  return `${instance.ownerStatus} (pid ${owner.pid}${instance.ownerStatus === "elsewhere" ? ` on ${owner.hostname}` : ""}${instance.background ? ", background" : ""})`
}
