/**
 * Networks in the in-memory engine: the predefined `bridge`, `host` and `none`, user bridge
 * networks with their /16 and addresses, connecting containers (and the `connect`/`disconnect`
 * events as they start and stop), and the network operations of the engine.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import { engineError, makeId, matchesLabels } from "./docker.js"
import { emit } from "./events.js"
import { guard } from "./faults.js"
import { networkInspect } from "./inspect.js"
import {
  type Attachment,
  type ContainerRecord,
  findContainer,
  findNetwork,
  type NetworkRecord,
  type Store
} from "./store.js"
import { notManager } from "./swarmState.js"

export const addNetworkSync = (
  store: Store,
  name: string,
  driver: string,
  internal: boolean,
  labels: Readonly<Record<string, string>>,
  predefined: boolean
): NetworkRecord => {
  store.counters.network += 1
  const subnet =
    driver === "bridge" || driver === "overlay" ? (name === "bridge" ? 17 : store.counters.subnet++) : 0
  const record: NetworkRecord = {
    id: makeId("network", store.counters.network),
    name,
    driver,
    internal,
    labels,
    predefined,
    subnet,
    nextHost: 2
  }
  store.networks.set(record.id, record)
  return record
}

/** The networks every engine has; created first, so their ids are the same in every engine. */
export const addPredefinedNetworks = (store: Store) => {
  addNetworkSync(store, "bridge", "bridge", false, {}, true)
  addNetworkSync(store, "host", "host", false, {}, true)
  addNetworkSync(store, "none", "null", false, {}, true)
}

const assignAddress = (network: NetworkRecord): string => {
  if (network.subnet === 0) return ""
  const host = network.nextHost
  network.nextHost += 1
  return `172.${network.subnet}.${Math.floor(host / 256)}.${host % 256}`
}

/** The container joins the network now: an address and a `connect` event. */
export const connectSync = (
  store: Store,
  c: ContainerRecord,
  network: NetworkRecord,
  attachment: Attachment,
  nowNanos: bigint
) => {
  attachment.ipAddress = assignAddress(network)
  emit(store, nowNanos, "network", "connect", network.id, {
    container: c.id,
    name: network.name,
    type: network.driver
  })
}

/** The container leaves the network now: no address and a `disconnect` event. */
export const disconnectSync = (
  store: Store,
  c: ContainerRecord,
  network: NetworkRecord,
  attachment: Attachment,
  nowNanos: bigint
) => {
  attachment.ipAddress = ""
  emit(store, nowNanos, "network", "disconnect", network.id, {
    container: c.id,
    name: network.name,
    type: network.driver
  })
}

/** The engine's network operations. */
export const networkOperations = (
  store: Store
): Pick<
  DockerEngineShape,
  | "createNetwork"
  | "connectNetwork"
  | "disconnectNetwork"
  | "listNetworks"
  | "inspectNetwork"
  | "removeNetwork"
> => {
  const createNetwork = (networkOptions: {
    readonly name: string
    readonly driver?: string
    readonly internal?: boolean
    readonly attachable?: boolean
    readonly labels?: Readonly<Record<string, string>>
  }) =>
    guard(
      store,
      "createNetwork",
      [networkOptions],
      Effect.gen(function* () {
        const nowNanos = yield* Clock.currentTimeNanos
        if ([...store.networks.values()].some((n) => n.name === networkOptions.name)) {
          return yield* Effect.fail(
            engineError("createNetwork", 409, `network with name ${networkOptions.name} already exists`)
          )
        }
        const driver = networkOptions.driver ?? "bridge"
        // An overlay network spans a swarm: only a manager creates one.
        if (driver === "overlay" && store.swarm === undefined)
          return yield* Effect.fail(notManager("createNetwork"))
        if (driver !== "bridge" && driver !== "overlay") {
          return yield* Effect.fail(engineError("createNetwork", 404, `plugin "${driver}" not found`))
        }
        const network = addNetworkSync(
          store,
          networkOptions.name,
          driver,
          networkOptions.internal === true,
          networkOptions.labels ?? {},
          false
        )
        emit(store, nowNanos, "network", "create", network.id, { name: network.name, type: network.driver })
        return { id: network.id }
      })
    )

  const connectNetwork = (
    networkRef: string,
    containerRef: string,
    connectOptions?: { readonly aliases?: ReadonlyArray<string> }
  ) =>
    guard(
      store,
      "connectNetwork",
      [networkRef, containerRef, connectOptions],
      Effect.gen(function* () {
        const network = yield* findNetwork(store, "connectNetwork", networkRef)
        const c = yield* findContainer(store, "connectNetwork", containerRef)
        if (c.networks.has(network.id)) {
          return yield* Effect.fail(
            engineError(
              "connectNetwork",
              403,
              `endpoint with name ${c.name} already exists in network ${network.name}`
            )
          )
        }
        const attachment: Attachment = {
          networkName: network.name,
          aliases: connectOptions?.aliases ?? [],
          ipAddress: ""
        }
        c.networks.set(network.id, attachment)
        if (c.status === "running") connectSync(store, c, network, attachment, yield* Clock.currentTimeNanos)
      })
    )

  const disconnectNetwork = (
    networkRef: string,
    containerRef: string,
    disconnectOptions?: { readonly force?: boolean }
  ) =>
    guard(
      store,
      "disconnectNetwork",
      [networkRef, containerRef, disconnectOptions],
      Effect.gen(function* () {
        const network = yield* findNetwork(store, "disconnectNetwork", networkRef)
        const c = yield* findContainer(store, "disconnectNetwork", containerRef)
        const attachment = c.networks.get(network.id)
        if (attachment === undefined) {
          return yield* Effect.fail(
            engineError(
              "disconnectNetwork",
              403,
              `container ${c.id} is not connected to network ${network.name}`
            )
          )
        }
        c.networks.delete(network.id)
        if (c.status === "running")
          disconnectSync(store, c, network, attachment, yield* Clock.currentTimeNanos)
      })
    )

  const listNetworks = (listOptions?: {
    readonly labels?: Readonly<Record<string, string | true>>
    readonly names?: ReadonlyArray<string>
  }) =>
    guard(
      store,
      "listNetworks",
      [listOptions],
      Effect.sync(() =>
        [...store.networks.values()]
          .filter(
            (n) =>
              matchesLabels(n.labels, listOptions?.labels) &&
              (listOptions?.names === undefined ||
                listOptions.names.length === 0 ||
                listOptions.names.includes(n.name))
          )
          .map((n) => networkInspect(store, n, false))
      )
    )

  const inspectNetwork = (ref: string) =>
    guard(
      store,
      "inspectNetwork",
      [ref],
      Effect.map(findNetwork(store, "inspectNetwork", ref), (n) => networkInspect(store, n, true))
    )

  const removeNetwork = (ref: string) =>
    guard(
      store,
      "removeNetwork",
      [ref],
      Effect.gen(function* () {
        const network = yield* findNetwork(store, "removeNetwork", ref)
        if (network.predefined) {
          return yield* Effect.fail(
            engineError(
              "removeNetwork",
              403,
              `${network.name} is a pre-defined network and cannot be removed`
            )
          )
        }
        const active = [...store.containers.values()].some(
          (c) => c.status === "running" && c.networks.has(network.id)
        )
        if (active) {
          return yield* Effect.fail(
            engineError(
              "removeNetwork",
              403,
              `error while removing network: network ${network.name} id ${network.id} has active endpoints`
            )
          )
        }
        store.networks.delete(network.id)
        emit(store, yield* Clock.currentTimeNanos, "network", "destroy", network.id, {
          name: network.name,
          type: network.driver
        })
      })
    )

  return { createNetwork, connectNetwork, disconnectNetwork, listNetworks, inspectNetwork, removeNetwork }
}
