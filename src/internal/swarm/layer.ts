/**
 * The Swarm entry points of the `Supervisor` module (re-exported there): {@link layerSwarm},
 * the same Supervisor service on a swarm manager, and {@link serviceLogs}. Kept apart from
 * Supervisor.ts so that file holds the single-host service; `Supervisor` is read only when a
 * layer is built, so the import cycle with Supervisor.ts is never touched at load time.
 *
 * @internal
 */
import { Effect, Layer, Stream } from "effect"
import type * as ContainerSpec from "../../ContainerSpec.js"
import { DockerEngine, type LogLine, type ServiceLogsOptions } from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import { Supervisor } from "../../Supervisor.js"
import * as SwarmLogs from "./serviceLogs.js"
import * as Swarm from "./swarmSupervisor.js"

/**
 * Options of a Swarm Supervisor instance ({@link layerSwarm}): those of {@link Options} but the
 * events reconnection and the published host, `taskPollInterval` (default 1 second), the
 * time between the instance's polls of its tasks (one request for all its services), and
 * `nodeEngines`: engines of other nodes, keyed by node hostname, address or id (connection
 * options, or an engine already built), through which the replicas on those nodes get stats
 * and `exec` as those on the manager's node do. A key naming no node is an `InvalidSpec`.
 *
 * @category models
 * @since 0.3.0
 */
export type SwarmOptions = Swarm.SwarmOptions

/**
 * The same {@link Supervisor} service on Docker Swarm: the engine must be a swarm manager
 * (else the layer fails with `DockerError` reason `NotSwarmManager`). Each spec runs as a
 * service of `replicas` tasks (default 1) on the instance's attachable overlay network, and
 * `run` merges every replica's states into one stream, each with its `task` (slot, node, task
 * id). Swarm restarts tasks by the spec's `restartPolicy` (`never` runs each slot once; a
 * policy Swarm cannot express is an `InvalidSpec`); a replaced task shows as `restarting`,
 * then `running` with one more restart. Stats are read for the replicas on the manager's own
 * node and on the nodes given in `nodeEngines` (`task.stats: "available"`); elsewhere they stay
 * `undefined`.
 *
 * Differences from the single-host Supervisor: `list`, `isRunning` and `remove` act on
 * services (one summary per service; `remove` answers how many services), `removeStale`
 * counts stale services as `containers`, `files` and most host-only spec fields are refused
 * (`InvalidSpec`), `start`'s readiness is `started`, `healthy` or `exited` of every replica, a
 * handle's `id` is the service's, `handle.exec` reaches a replica on the manager's node or a
 * node of `nodeEngines` only (else `DockerError` `NotFound`), `handle.logs` is every replica's
 * output on every node (through the manager's service logs), each line's `task` with its slot
 * and node, and `handle.port` always fails with `PortNotPublished`
 * (connect to a node's address at the service's published port). Releasing the layer removes
 * every service of the instance at once, waits for their tasks to stop (each within its stop
 * grace period), then removes the network.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { DockerEngine, Supervisor } from "effect-docker"
 *
 * const program = Effect.gen(function*() {
 *   const supervisor = yield* Supervisor.Supervisor
 *   yield* supervisor.run({ name: "web", image: "127.0.0.1:5000/web:1", replicas: 3 }).pipe(
 *     Stream.tap((state) => Effect.log(state.task?.slot, state.task?.node, state.status)),
 *     Stream.runDrain
 *   )
 * })
 *
 * program.pipe(Effect.provide(Supervisor.layerSwarm({ app: "demo" })), Effect.provide(DockerEngine.layer))
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerSwarm = (
  options: SwarmOptions
): Layer.Layer<Supervisor, DockerError | ContainerSpec.InvalidSpec, DockerEngine> =>
  Layer.effect(
    Supervisor,
    Effect.map(Swarm.make(options), (shape) => Supervisor.of(shape))
  )

/**
 * A Swarm service's output (every task's, from every node, through the manager), each line's
 * `task` with its replica slot: what a {@link layerSwarm} handle's `logs` gives, for a service
 * by id or name without a handle (one another process deployed, as `effect-docker logs --swarm`
 * reads them). The slot is looked up in the service's tasks once per task not seen yet.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Supervisor } from "effect-docker"
 *
 * const lines = Supervisor.serviceLogs("shop-1a2b3c4d-web", { tail: 10 }) // Stream<LogLine, DockerError, DockerEngine>
 * ```
 *
 * @category swarm
 * @since 0.3.0
 */
export const serviceLogs = (
  service: string,
  options?: ServiceLogsOptions
): Stream.Stream<LogLine, DockerError, DockerEngine> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const engine = yield* DockerEngine
      return SwarmLogs.withSlots(engine, service, options)
    })
  )
