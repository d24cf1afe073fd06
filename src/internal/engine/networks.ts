/**
 * The Engine API's network endpoints (`/networks/...`): create, connect, disconnect, list,
 * inspect and remove.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Network
 * @internal
 */
import { Effect } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import type {
  ConnectNetworkOptions,
  CreateNetworkOptions,
  DisconnectNetworkOptions,
  ListNetworksOptions
} from "../../DockerModel.js"
import * as Wire from "../wire.js"
import { filters, labelFilter, segment, type Transport } from "./transport.js"

/**
 * The network operations of the engine.
 *
 * @internal
 */
export type Networks = Pick<
  DockerEngineShape,
  | "createNetwork"
  | "connectNetwork"
  | "disconnectNetwork"
  | "listNetworks"
  | "inspectNetwork"
  | "removeNetwork"
>

/**
 * The network endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ call, decoded }: Transport): Networks => {
  const createNetwork = Effect.fn("DockerEngine.createNetwork")(function* (create: CreateNetworkOptions) {
    yield* Effect.annotateCurrentSpan({ name: create.name })
    return yield* decoded(
      "createNetwork",
      {
        method: "POST",
        path: "/networks/create",
        body: {
          Name: create.name,
          Driver: create.driver ?? "bridge",
          Internal: create.internal ?? false,
          ...(create.attachable !== undefined ? { Attachable: create.attachable } : {}),
          Labels: create.labels ?? {},
          CheckDuplicate: true
        }
      },
      Wire.WireNetworkCreated,
      (created) => ({ id: created.Id })
    )
  })

  const connectNetwork = Effect.fn("DockerEngine.connectNetwork")(function* (
    network: string,
    container: string,
    connect?: ConnectNetworkOptions
  ) {
    yield* Effect.annotateCurrentSpan({ network, container })
    yield* call("connectNetwork", {
      method: "POST",
      path: `/networks/${segment(network)}/connect`,
      body: {
        Container: container,
        ...(connect?.aliases !== undefined ? { EndpointConfig: { Aliases: connect.aliases } } : {})
      }
    })
  })

  const disconnectNetwork = Effect.fn("DockerEngine.disconnectNetwork")(function* (
    network: string,
    container: string,
    disconnect?: DisconnectNetworkOptions
  ) {
    yield* Effect.annotateCurrentSpan({ network, container })
    yield* call("disconnectNetwork", {
      method: "POST",
      path: `/networks/${segment(network)}/disconnect`,
      body: { Container: container, Force: disconnect?.force ?? false }
    })
  })

  const listNetworks = Effect.fn("DockerEngine.listNetworks")((list?: ListNetworksOptions) =>
    decoded(
      "listNetworks",
      {
        method: "GET",
        path: "/networks",
        query: { filters: filters({ label: labelFilter(list?.labels), name: list?.names }) }
      },
      Wire.WireNetworkList,
      (networks) =>
        networks
          .map(Wire.toNetworkInspect)
          // The engine's `name` filter matches substrings; callers mean exact names.
          .filter((network) => list?.names === undefined || list.names.includes(network.name))
    )
  )

  const inspectNetwork = Effect.fn("DockerEngine.inspectNetwork")(function* (network: string) {
    yield* Effect.annotateCurrentSpan({ network })
    return yield* decoded(
      "inspectNetwork",
      { method: "GET", path: `/networks/${segment(network)}` },
      Wire.WireNetwork,
      Wire.toNetworkInspect
    )
  })

  const removeNetwork = Effect.fn("DockerEngine.removeNetwork")(function* (network: string) {
    yield* Effect.annotateCurrentSpan({ network })
    yield* call("removeNetwork", { method: "DELETE", path: `/networks/${segment(network)}` })
  })

  return { createNetwork, connectNetwork, disconnectNetwork, listNetworks, inspectNetwork, removeNetwork }
}
