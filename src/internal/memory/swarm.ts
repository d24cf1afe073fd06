/**
 * The in-memory engine's Swarm operations.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import { engineError } from "./docker.js"
import { guard, guardStream } from "./faults.js"
import type { Store } from "./store.js"

type SwarmOperations = Pick<
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

const notManager = (operation: string) =>
  Effect.fail(
    engineError(
      operation,
      503,
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'
    )
  )

/** The engine's Swarm operations. */
export const swarmOperations = (store: Store): SwarmOperations => ({
  swarmInspect: guard(store, "swarmInspect", [], notManager("swarmInspect")),
  swarmInit: (options) => guard(store, "swarmInit", [options], notManager("swarmInit")),
  swarmJoin: (options) => guard(store, "swarmJoin", [options], notManager("swarmJoin")),
  swarmLeave: (options) => guard(store, "swarmLeave", [options], notManager("swarmLeave")),
  listNodes: (options) => guard(store, "listNodes", [options], notManager("listNodes")),
  inspectNode: (node) => guard(store, "inspectNode", [node], notManager("inspectNode")),
  updateNode: (node, version, spec) =>
    guard(store, "updateNode", [node, version, spec], notManager("updateNode")),
  createService: (spec, options) =>
    guard(store, "createService", [spec, options], notManager("createService")),
  inspectService: (service) => guard(store, "inspectService", [service], notManager("inspectService")),
  listServices: (options) => guard(store, "listServices", [options], notManager("listServices")),
  updateService: (service, version, spec, options) =>
    guard(store, "updateService", [service, version, spec, options], notManager("updateService")),
  removeService: (service) => guard(store, "removeService", [service], notManager("removeService")),
  serviceLogs: (service, options) =>
    guardStream(store, "serviceLogs", [service, options], Stream.fromEffect(notManager("serviceLogs"))),
  listTasks: (options) => guard(store, "listTasks", [options], notManager("listTasks"))
})
