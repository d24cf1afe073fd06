/**
 * The Engine API's Swarm endpoints: the swarm itself (`/swarm`: inspect, init, join, leave),
 * its nodes (`/nodes`), services (`/services`, with their logs) and tasks (`/tasks`). Every one
 * but init and join answers 503 on an engine that is no swarm manager, which `DockerError`
 * maps to the reason `NotSwarmManager`.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Swarm
 * @internal
 */
import { Effect, Redacted, Schema, Stream } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import type {
  ListNodesOptions,
  ListServicesOptions,
  ListTasksOptions,
  LogLine,
  NodeSpec,
  ServiceLogsOptions,
  ServiceSpecOptions,
  ServiceWriteOptions,
  SwarmInitOptions,
  SwarmJoinOptions,
  SwarmLeaveOptions
} from "../../DockerModel.js"
import * as LogFrames from "../logFrames.js"
import * as RegistryAuth from "../registryAuth.js"
import * as WireSwarm from "../wireSwarm.js"
import { toLogLine } from "./containers.js"
import { filters, labelFilter, segment, type Transport, unixSeconds } from "./transport.js"

/**
 * The Swarm operations of the engine.
 *
 * @internal
 */
export type Swarm = Pick<
  DockerEngineShape,
  | "swarmInspect"
  | "swarmInit"
  | "swarmJoin"
  | "swarmLeave"
  | "listNodes"
  | "inspectNode"
  | "updateNode"
  | "createService"
  | "inspectService"
  | "listServices"
  | "updateService"
  | "removeService"
  | "serviceLogs"
  | "listTasks"
>

/**
 * A line of `serviceLogs` asked with `details`: its text starts with the task's context,
 * `key=value` pairs (query-escaped) joined by commas and then a space,
 * `com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=… text`.
 * The context becomes the line's `task`; a line without one (a long line's later pieces) is
 * left as it is.
 *
 * @internal
 */
export const withTaskDetails = (line: LogLine): LogLine => {
  const space = line.text.indexOf(" ")
  const head = space === -1 ? line.text : line.text.slice(0, space)
  if (!head.includes("com.docker.swarm.task.id=")) return line
  const details = new Map<string, string>()
  for (const pair of head.split(",")) {
    const equals = pair.indexOf("=")
    if (equals === -1) continue
    details.set(queryUnescape(pair.slice(0, equals)), queryUnescape(pair.slice(equals + 1)))
  }
  const taskId = details.get("com.docker.swarm.task.id")
  if (taskId === undefined) return line
  const nodeId = details.get("com.docker.swarm.node.id")
  return {
    ...line,
    text: space === -1 ? "" : line.text.slice(space + 1),
    task: nodeId === undefined || nodeId === "" ? { taskId } : { taskId, nodeId }
  }
}

// Go's url.QueryEscape: `+` for a space, `%XX` for the rest.
const queryUnescape = (text: string): string => {
  try {
    return decodeURIComponent(text.replaceAll("+", " "))
  } catch {
    return text
  }
}

/**
 * The Swarm endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ call, decoded, bytes }: Transport): Swarm => {
  const swarmInspect = Effect.fn("DockerEngine.swarmInspect")(() =>
    decoded("swarmInspect", { method: "GET", path: "/swarm" }, WireSwarm.WireSwarm, WireSwarm.toSwarmInspect)
  )()

  const swarmInit = Effect.fn("DockerEngine.swarmInit")((init: SwarmInitOptions = {}) =>
    decoded(
      "swarmInit",
      {
        method: "POST",
        path: "/swarm/init",
        body: {
          ListenAddr: init.listenAddr ?? "0.0.0.0:2377",
          AdvertiseAddr: init.advertiseAddr,
          DataPathAddr: init.dataPathAddr,
          ForceNewCluster: init.forceNewCluster ?? false
        }
      },
      // The new node's id, as a JSON string.
      Schema.String,
      (nodeId) => nodeId
    )
  )

  const swarmJoin = Effect.fn("DockerEngine.swarmJoin")(function* (join: SwarmJoinOptions) {
    yield* Effect.annotateCurrentSpan({ remoteAddrs: join.remoteAddrs.join(",") })
    yield* call("swarmJoin", {
      method: "POST",
      path: "/swarm/join",
      body: {
        ListenAddr: join.listenAddr ?? "0.0.0.0:2377",
        AdvertiseAddr: join.advertiseAddr,
        DataPathAddr: join.dataPathAddr,
        RemoteAddrs: join.remoteAddrs,
        JoinToken: typeof join.joinToken === "string" ? join.joinToken : Redacted.value(join.joinToken)
      }
    })
  })

  const swarmLeave = Effect.fn("DockerEngine.swarmLeave")(function* (leave?: SwarmLeaveOptions) {
    yield* call("swarmLeave", { method: "POST", path: "/swarm/leave", query: { force: leave?.force } })
  })

  const listNodes = Effect.fn("DockerEngine.listNodes")((list?: ListNodesOptions) =>
    decoded(
      "listNodes",
      {
        method: "GET",
        path: "/nodes",
        query: {
          filters: filters({
            role: list?.role === undefined ? undefined : [list.role],
            "node.label": labelFilter(list?.labels)
          })
        }
      },
      WireSwarm.WireNodeList,
      (nodes) => nodes.map(WireSwarm.toSwarmNode)
    )
  )

  const inspectNode = Effect.fn("DockerEngine.inspectNode")(function* (node: string) {
    yield* Effect.annotateCurrentSpan({ node })
    return yield* decoded(
      "inspectNode",
      { method: "GET", path: `/nodes/${segment(node)}` },
      WireSwarm.WireNode,
      WireSwarm.toSwarmNode
    )
  })

  const updateNode = Effect.fn("DockerEngine.updateNode")(function* (
    node: string,
    version: number,
    spec: NodeSpec
  ) {
    yield* Effect.annotateCurrentSpan({ node, availability: spec.availability })
    yield* call("updateNode", {
      method: "POST",
      path: `/nodes/${segment(node)}/update`,
      query: { version },
      body: WireSwarm.toNodeSpecBody(spec)
    })
  })

  /** The `X-Registry-Auth` header for the spec's image, as a pull would send it. */
  const authFor = (spec: ServiceSpecOptions, options: ServiceWriteOptions | undefined) =>
    Effect.map(RegistryAuth.resolve(spec.taskTemplate.container.image, options?.auth), (resolved) =>
      resolved.credential !== undefined
        ? { registryAuth: RegistryAuth.header(resolved.credential.auth, resolved.host) }
        : {}
    )

  const createService = Effect.fn("DockerEngine.createService")(function* (
    spec: ServiceSpecOptions,
    options?: ServiceWriteOptions
  ) {
    yield* Effect.annotateCurrentSpan({ name: spec.name, image: spec.taskTemplate.container.image })
    const auth = yield* authFor(spec, options)
    return yield* decoded(
      "createService",
      { method: "POST", path: "/services/create", body: WireSwarm.toServiceSpecBody(spec), ...auth },
      WireSwarm.WireServiceCreated,
      (created) => ({ id: created.ID, warnings: created.Warnings ?? [] })
    )
  })

  const inspectService = Effect.fn("DockerEngine.inspectService")(function* (service: string) {
    yield* Effect.annotateCurrentSpan({ service })
    return yield* decoded(
      "inspectService",
      { method: "GET", path: `/services/${segment(service)}` },
      WireSwarm.WireService,
      WireSwarm.toServiceInspect
    )
  })

  const listServices = Effect.fn("DockerEngine.listServices")((list?: ListServicesOptions) =>
    decoded(
      "listServices",
      {
        method: "GET",
        path: "/services",
        query: {
          status: true,
          filters: filters({ label: labelFilter(list?.labels), name: list?.names })
        }
      },
      WireSwarm.WireServiceList,
      (services) =>
        services
          .map(WireSwarm.toServiceInspect)
          // The engine's name filter matches prefixes; names are exact here.
          .filter((service) => list?.names === undefined || list.names.includes(service.spec.name))
    )
  )

  const updateService = Effect.fn("DockerEngine.updateService")(function* (
    service: string,
    version: number,
    spec: ServiceSpecOptions,
    options?: ServiceWriteOptions
  ) {
    yield* Effect.annotateCurrentSpan({ service, version })
    const auth = yield* authFor(spec, options)
    return yield* decoded(
      "updateService",
      {
        method: "POST",
        path: `/services/${segment(service)}/update`,
        query: { version },
        body: WireSwarm.toServiceSpecBody(spec),
        ...auth
      },
      WireSwarm.WireServiceUpdated,
      (updated) => ({ warnings: updated.Warnings ?? [] })
    )
  })

  const removeService = Effect.fn("DockerEngine.removeService")(function* (service: string) {
    yield* Effect.annotateCurrentSpan({ service })
    yield* call("removeService", { method: "DELETE", path: `/services/${segment(service)}` })
  })

  // A service spec has no TTY option here: its logs are always framed. `details` puts the
  // task's context before each line (after its timestamp): which task and node it came from.
  const serviceLogs = (service: string, options?: ServiceLogsOptions) =>
    bytes(
      "serviceLogs",
      {
        method: "GET",
        path: `/services/${segment(service)}/logs`,
        query: {
          follow: options?.follow ?? false,
          stdout: options?.stdout ?? true,
          stderr: options?.stderr ?? true,
          tail: options?.tail,
          since: options?.since === undefined ? undefined : unixSeconds(options.since),
          timestamps: options?.timestamps ?? false,
          details: true
        }
      },
      { name: "DockerEngine.serviceLogs", attributes: { service } }
    ).pipe(
      Stream.mapAccum(() => LogFrames.initial({ tty: false }), LogFrames.feed, { onHalt: LogFrames.flush }),
      Stream.map(toLogLine(options?.timestamps ?? false)),
      Stream.map(withTaskDetails)
    )

  const listTasks = Effect.fn("DockerEngine.listTasks")((list?: ListTasksOptions) =>
    decoded(
      "listTasks",
      {
        method: "GET",
        path: "/tasks",
        query: {
          filters: filters({
            service: list?.services,
            label: labelFilter(list?.labels),
            "desired-state": list?.desiredState === undefined ? undefined : [list.desiredState],
            node: list?.nodes
          })
        }
      },
      WireSwarm.WireTaskList,
      (tasks) => tasks.map(WireSwarm.toTask)
    )
  )

  return {
    swarmInspect,
    swarmInit,
    swarmJoin,
    swarmLeave,
    listNodes,
    inspectNode,
    updateNode,
    createService,
    inspectService,
    listServices,
    updateService,
    removeService,
    serviceLogs,
    listTasks
  }
}
