/**
 * How the in-memory engine's records look from outside: the `inspect` and list views of
 * containers, networks and images, built from the store at the moment of the call.
 *
 * @internal
 */
import type { ContainerInspect, ContainerSummary, ImageInspect, NetworkInspect } from "../../DockerEngine.js"
import { humanDuration } from "./docker.js"
import { mountsInspect, portBindingsOf } from "./reach.js"
import { type ContainerRecord, type ImageRecord, iso, type NetworkRecord, type Store } from "./store.js"

export const containerInspect = (store: Store, c: ContainerRecord): ContainerInspect => {
  const attached: Record<string, { networkId: string; ipAddress: string; aliases: ReadonlyArray<string> }> =
    {}
  for (const [networkId, attachment] of c.networks) {
    const network = store.networks.get(networkId)
    if (network === undefined) continue
    attached[network.name] = { networkId, ipAddress: attachment.ipAddress, aliases: attachment.aliases }
  }
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    imageId: c.imageId,
    created: iso(c.createdMs),
    labels: c.options.labels ?? {},
    restartCount: c.restartCount,
    state: {
      status: c.status,
      // Docker counts a container waiting for its policy's restart as running.
      running: c.status === "running" || c.status === "restarting",
      restarting: c.status === "restarting",
      oomKilled: c.oomKilled,
      pid: c.pid,
      exitCode: c.exitCode,
      error: c.error,
      startedAt: iso(c.startedMs),
      finishedAt: iso(c.finishedMs),
      ...(c.health !== undefined ? { health: { ...c.health } } : {})
    },
    networks: attached,
    tty: c.options.tty === true,
    restartPolicy: c.options.restartPolicy?.name ?? "no",
    ports: c.ports,
    portBindings: portBindingsOf(c.options),
    mounts: mountsInspect(c)
  }
}

/** A row of `docker ps`, with its human status text (`Up 5 seconds (healthy)`). */
export const containerSummary = (c: ContainerRecord, nowMs: number): ContainerSummary => ({
  id: c.id,
  names: [c.name],
  image: c.image,
  labels: c.options.labels ?? {},
  state: c.status,
  status:
    c.status === "running"
      ? `Up ${humanDuration(nowMs - (c.startedMs ?? nowMs))}${c.health !== undefined ? ` (${c.health.status === "starting" ? "health: starting" : c.health.status})` : ""}`
      : c.status === "created"
        ? "Created"
        : c.status === "restarting"
          ? `Restarting (${c.exitCode}) ${humanDuration(nowMs - (c.finishedMs ?? nowMs))} ago`
          : `Exited (${c.exitCode}) ${humanDuration(nowMs - (c.finishedMs ?? nowMs))} ago`,
  created: Math.floor(c.createdMs / 1000)
})

/** A network; `withContainers` lists its running containers, as inspect does and list does not. */
export const networkInspect = (
  store: Store,
  network: NetworkRecord,
  withContainers: boolean
): NetworkInspect => {
  const attached: Record<string, { name: string; ipv4Address: string }> = {}
  if (withContainers) {
    for (const c of store.containers.values()) {
      const attachment = c.networks.get(network.id)
      if (attachment !== undefined && c.status === "running") {
        attached[c.id] = {
          name: c.name,
          ipv4Address: attachment.ipAddress === "" ? "" : `${attachment.ipAddress}/16`
        }
      }
    }
  }
  return {
    id: network.id,
    name: network.name,
    driver: network.driver,
    internal: network.internal,
    labels: network.labels,
    containers: attached
  }
}

export const imageInspect = (image: ImageRecord): ImageInspect => {
  const d = image.definition
  return {
    id: image.id,
    repoTags: [image.reference],
    size: image.layerSizes.reduce((n, s) => n + s, 0),
    ...(d.cmd !== undefined ? { cmd: d.cmd } : {}),
    ...(d.entrypoint !== undefined ? { entrypoint: d.entrypoint } : {}),
    ...(d.healthcheck !== undefined ? { healthcheck: d.healthcheck } : {}),
    labels: d.labels ?? {}
  }
}
