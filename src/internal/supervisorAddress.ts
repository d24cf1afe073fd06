/**
 * Where a supervised container can be reached: its address as inspect shows it after a start
 * (IP and aliases on the instance network, ports as the engine bound them), and the host and
 * port this process connects to for a published port (the engine's host when `DOCKER_HOST`
 * names a remote engine, the loopback address for a local one).
 *
 * @internal
 */
import { Schema } from "effect"
import type { Address, ContainerState, PublishedPort } from "../ContainerState.js"
import type { ContainerInspect } from "../DockerModel.js"
import * as Connection from "./connection.js"

/**
 * A port asked of a handle is not published: the spec does not publish it, or the container
 * is not running (its ports are bound at each start and freed at each exit).
 *
 * @category errors
 * @since 0.2.0
 */
export class PortNotPublished extends Schema.TaggedError<PortNotPublished>()("PortNotPublished", {
  component: Schema.String,
  containerPort: Schema.Number,
  protocol: Schema.Literals(["tcp", "udp"]),
  message: Schema.String
}) {}

/** The address of a container from its inspect after a start. @internal */
export const addressOf = (inspect: ContainerInspect, network: string): Address => {
  const attachment = inspect.networks[network]
  return {
    ip: attachment === undefined || attachment.ipAddress === "" ? undefined : attachment.ipAddress,
    aliases: attachment?.aliases ?? [],
    ports: inspect.ports.flatMap(
      (port): ReadonlyArray<PublishedPort> =>
        port.protocol === "tcp" || port.protocol === "udp" ? [{ ...port, protocol: port.protocol }] : []
    )
  }
}

/** The loopback address: a local engine's ports bound on all addresses answer there. */
const loopback = "127.0.0.1"

/**
 * The host this process reaches a local engine's published ports on, or a remote engine's:
 * the host named by `dockerHost` (`tcp://`, `ssh://`), else the loopback address.
 *
 * @internal
 */
export const engineHost = (dockerHost: string | undefined): string => {
  if (dockerHost === undefined || dockerHost.trim().length === 0) return loopback
  const endpoint = Connection.parseHost(dockerHost, { tls: false })
  if (endpoint === undefined || endpoint._tag === "Unix") return loopback
  return endpoint.host === "localhost" ? loopback : endpoint.host
}

const anyAddress = (ip: string) => ip === "" || ip === "0.0.0.0" || ip === "::"

/**
 * The host and port to connect to from this process for `containerPort`, or why there is none.
 *
 * @internal
 */
export const connectTarget = (
  state: ContainerState,
  published: ReadonlyArray<{ readonly container: number; readonly protocol?: "tcp" | "udp" | undefined }>,
  containerPort: number,
  protocol: "tcp" | "udp",
  host: string
): { readonly host: string; readonly port: number } | PortNotPublished => {
  const fields = { component: state.name, containerPort, protocol }
  if (!published.some((port) => port.container === containerPort && (port.protocol ?? "tcp") === protocol)) {
    return new PortNotPublished({
      ...fields,
      message: `${state.name} does not publish ${containerPort}/${protocol}: add { container: ${containerPort}${protocol === "udp" ? ', protocol: "udp"' : ""} } to its ports`
    })
  }
  const bindings = (state.address?.ports ?? []).filter(
    (port) => port.containerPort === containerPort && port.protocol === protocol
  )
  // IPv4 first: a binding on all addresses is listed for `0.0.0.0` and `::`.
  const binding = bindings.find((port) => !port.hostIp.includes(":")) ?? bindings[0]
  if (binding === undefined) {
    return new PortNotPublished({
      ...fields,
      message: `${containerPort}/${protocol} of ${state.name} is not bound now (${state.status}): ports are bound while it runs`
    })
  }
  const local = host === loopback
  return {
    host: anyAddress(binding.hostIp) || !local ? host : binding.hostIp,
    port: binding.hostPort
  }
}
