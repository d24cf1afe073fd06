/**
 * One spec run as a Swarm service: the service created from the spec, its replicas' states
 * folded from the instance's task polls (`taskStates.ts`) into one merged stream, stats for
 * the replicas on the nodes whose engine it reaches (the single host's stats path), and the service
 * removed (its tasks stopped with their grace period, waited for) when the run ends or its
 * consumer goes away. `run` and `start` (with the handle it returns) are built here.
 *
 * @internal
 */
import {
  Cause,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberMap,
  Queue,
  Ref,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as ContainerSpec from "../../ContainerSpec.js"
import type * as ContainerState from "../../ContainerState.js"
import type { DockerEngineShape, ServiceSpecOptions } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { ContainerHandle, RunError } from "../../Supervisor.js"
import * as Transitions from "../containerState.js"
import * as Stats from "../stats.js"
import { PortNotPublished } from "../supervisorAddress.js"
import { CreateError, NotReadyError } from "../supervisorErrors.js"
import type { StatsStreams } from "../supervisorStats.js"
import * as ServiceLogs from "./serviceLogs.js"
import * as ServiceSpec from "./serviceSpec.js"
import * as TaskStates from "./taskStates.js"
import type { TaskWatch } from "./taskWatch.js"

/** A node's engine, as the Supervisor reaches it: a task's container there has stats and `exec`. @internal */
export interface NodeEngine {
  readonly engine: DockerEngineShape
  readonly stats: StatsStreams
}

/** What a run needs of its instance. @internal */
export interface Instance {
  readonly engine: DockerEngineShape
  readonly context: ServiceSpec.ServiceContext
  readonly watch: TaskWatch
  /** By node id: the manager's own node, and the nodes given in `nodeEngines`. */
  readonly nodeEngines: ReadonlyMap<string, NodeEngine>
  readonly labelPrefix: string | undefined
  /** The filter of the instance's tasks. */
  readonly instanceLabels: Readonly<Record<string, string>>
}

/** How long a removal waits for the service's tasks to go, beyond their grace period. */
const removalSlack = Duration.seconds(30)

/**
 * Removes a service and waits until its tasks have ended or are gone (each stopped within its
 * grace period, then deleted by the manager), so that what follows (the network) finds nothing of it. The
 * tasks are found by the instance's label: a filter naming a removed service is refused. A
 * service already gone is fine; tasks still there after the grace period and some slack are
 * left to the engine.
 *
 * @internal
 */
export const removeAndWait = (
  engine: DockerEngineShape,
  service: { readonly id: string; readonly gracePeriodMs: number },
  instanceLabels: Readonly<Record<string, string>>
) =>
  engine.removeService(service.id).pipe(
    Effect.catchTag("DockerError", (error) =>
      error.reason === "NotFound" ? Effect.void : Effect.fail(error)
    ),
    Effect.andThen(
      engine.listTasks({ labels: instanceLabels }).pipe(
        Effect.repeat({
          schedule: Schedule.spaced("250 millis"),
          // Gone, or ended: a removed job's failed task can linger for minutes, its container stopped.
          until: (tasks) => tasks.every((task) => task.serviceId !== service.id || TaskStates.hasEnded(task))
        }),
        Effect.timeoutOrElse({
          duration: Duration.sum(Duration.millis(service.gracePeriodMs), removalSlack),
          orElse: () =>
            Effect.logWarning("a removed swarm service's tasks are still there").pipe(
              Effect.annotateLogs({ service: service.id })
            )
        })
      )
    ),
    Effect.asVoid
  )

const removeOrLog = (
  engine: DockerEngineShape,
  service: { readonly id: string; readonly gracePeriodMs: number },
  instanceLabels: Readonly<Record<string, string>>
) =>
  removeAndWait(engine, service, instanceLabels).pipe(
    Effect.catchTag("DockerError", (error) =>
      Effect.logWarning("removing a swarm service failed").pipe(
        Effect.annotateLogs({ service: service.id, reason: error.reason, message: error.message })
      )
    )
  )

/** A spec validated and mapped: what `createService` takes and what the fold needs. */
interface Prepared {
  readonly spec: ContainerSpec.ContainerSpec
  readonly serviceSpec: ServiceSpecOptions
  readonly settings: TaskStates.Settings
}

const validate = (
  instance: Instance,
  input: ContainerSpec.Input
): Effect.Effect<Prepared, ContainerSpec.InvalidSpec> =>
  Effect.gen(function* () {
    const spec = yield* ContainerSpec.validate(input, { labelPrefix: instance.labelPrefix })
    const readiness = spec.readiness
    if (readiness !== undefined && typeof readiness !== "string") {
      return yield* new ContainerSpec.InvalidSpec({
        field: "readiness",
        message: "not supported on Swarm: only started, healthy and exited (the replicas run on other nodes)"
      })
    }
    const restart = yield* ServiceSpec.restartOf(spec.restartPolicy)
    const serviceSpec = yield* ServiceSpec.toServiceSpec(instance.context, spec, restart)
    const settings: TaskStates.Settings = {
      name: spec.name,
      image: spec.image,
      replicas: spec.replicas ?? 1,
      restart
    }
    return { spec, serviceSpec, settings }
  })

/**
 * Creates the service (removed when the scope closes) and folds its replicas' states until
 * every slot is finished, handing each state to `publish`. Answers the last state.
 */
const lifecycle = (
  instance: Instance,
  prepared: Prepared,
  publish: (state: ContainerState.ContainerState, slots: TaskStates.Slots) => Effect.Effect<void>,
  onCreated: (serviceId: string) => Effect.Effect<void>
): Effect.Effect<ContainerState.ContainerState | undefined, RunError, Scope.Scope> =>
  Effect.gen(function* () {
    const { engine } = instance
    const { spec, serviceSpec, settings } = prepared
    const created = yield* Effect.uninterruptible(
      engine
        .createService(serviceSpec, spec.registryAuth === undefined ? {} : { auth: spec.registryAuth })
        .pipe(
          Effect.tap((service) =>
            Effect.addFinalizer(() =>
              removeOrLog(
                engine,
                {
                  id: service.id,
                  gracePeriodMs: serviceSpec.taskTemplate.container.stopGracePeriodMs ?? 10_000
                },
                instance.instanceLabels
              )
            )
          )
        )
    ).pipe(Effect.mapError((cause) => new CreateError({ component: spec.name, image: spec.image, cause })))
    yield* onCreated(created.id)
    yield* Effect.logDebug("swarm service created").pipe(
      Effect.annotateLogs({ service: serviceSpec.name, replicas: settings.replicas })
    )
    const slots = yield* Ref.make(TaskStates.empty)
    const last = yield* Ref.make<ContainerState.ContainerState | undefined>(undefined)
    const emit = (state: ContainerState.ContainerState) =>
      Effect.andThen(
        Ref.set(last, state),
        Effect.flatMap(Ref.get(slots), (current) => publish(state, current))
      )
    const statsFibers = yield* FiberMap.make<string>()

    // Stats of a replica whose task runs on a node the Supervisor reaches, as on one host.
    const statsOf = (taskId: string, containerId: string, node: NodeEngine) =>
      node.stats.stream(containerId, spec).pipe(
        Stream.mapAccum(
          () => Stats.initialWindow(spec.statsInterface),
          (window, sample) => {
            const [next, snapshot] = Stats.step(window, sample)
            return [next, [snapshot]]
          }
        ),
        Stream.runForEach((snapshot) =>
          Ref.modify(slots, (current) => {
            const [next, state] = TaskStates.withStats(current, taskId, (state) =>
              Transitions.stats(state, snapshot)
            )
            return [state, next] as const
          }).pipe(Effect.flatMap((state) => (state === undefined ? Effect.void : emit(state))))
        ),
        Effect.catchTag("DockerError", (error) => Effect.logDebug("task stats ended", error.message))
      )

    const onSnapshot = (snapshot: Parameters<typeof TaskStates.step>[1]) =>
      Effect.gen(function* () {
        const states = yield* Ref.modify(slots, (current) => {
          const [next, emitted] = TaskStates.step(current, snapshot, settings)
          return [emitted, next]
        })
        for (const state of states) yield* emit(state)
        const current = yield* Ref.get(slots)
        const localRunning = new Set<string>()
        for (const slot of current.values()) {
          if (slot.final || slot.containerId === undefined) continue
          if (slot.state.status !== "running" || slot.state.task?.stats !== "available") continue
          const node = instance.nodeEngines.get(slot.state.task.nodeId ?? "")
          if (node === undefined) continue
          localRunning.add(slot.taskId)
          yield* FiberMap.run(statsFibers, slot.taskId, statsOf(slot.taskId, slot.containerId, node), {
            onlyIfMissing: true
          })
        }
        for (const [key] of [...statsFibers]) {
          if (!localRunning.has(key)) yield* FiberMap.remove(statsFibers, key)
        }
        return TaskStates.isDone(current, settings)
      })

    const reachableNodes = new Set(instance.nodeEngines.keys())
    yield* instance.watch.watch
    yield* instance.watch.snapshots.pipe(
      Stream.filter((snapshot) => snapshot.tick > 0),
      Stream.mapEffect((snapshot) =>
        onSnapshot({
          tasks: snapshot.tasks.filter((task) => task.serviceId === created.id),
          nodes: snapshot.nodes,
          health: snapshot.health,
          reachableNodes
        })
      ),
      Stream.takeUntil((done) => done),
      Stream.runDrain
    )
    return yield* Ref.get(last)
  })

/** The `run` and `start` of a Swarm Supervisor instance. @internal */
export const make = (instance: Instance) => {
  const run = (input: ContainerSpec.Input): Stream.Stream<ContainerState.ContainerState, RunError> =>
    Stream.callback<ContainerState.ContainerState, RunError>((queue) =>
      Effect.gen(function* () {
        const prepared = yield* validate(instance, input)
        yield* Effect.scoped(
          lifecycle(
            instance,
            prepared,
            (state) => Queue.offer(queue, state).pipe(Effect.asVoid),
            () => Effect.void
          )
        )
        yield* Queue.end(queue)
      })
    )

  const start = Effect.fn("Supervisor.start")(function* (input: ContainerSpec.Input) {
    const prepared = yield* validate(instance, input)
    const { spec, serviceSpec, settings } = prepared
    const latest = yield* SubscriptionRef.make<{
      readonly state: ContainerState.ContainerState | undefined
      readonly slots: TaskStates.Slots
    }>({ state: undefined, slots: TaskStates.empty })
    const serviceId = yield* Ref.make("")
    const fiber = yield* Effect.forkScoped(
      Effect.scoped(
        lifecycle(
          instance,
          prepared,
          (state, slots) => SubscriptionRef.set(latest, { state, slots }),
          (id) => Ref.set(serviceId, id)
        )
      )
    )
    const failed = Fiber.await(fiber).pipe(
      Effect.flatMap((exit) =>
        Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? Effect.failCause(exit.cause)
          : Effect.never
      )
    )
    const readiness = spec.readiness ?? (spec.healthcheck === undefined ? "started" : "healthy")
    const ready = SubscriptionRef.changes(latest).pipe(
      Stream.filter(({ slots }) => {
        const all = [...slots.values()]
        if (readiness === "exited") return TaskStates.isDone(slots, settings)
        return (
          all.length >= settings.replicas &&
          all.every(
            (slot) =>
              slot.state.status === "running" && (readiness === "started" || slot.state.health === "healthy")
          )
        )
      }),
      Stream.runHead,
      Effect.flatMap((found) => (found._tag === "Some" ? Effect.succeed(found.value) : Effect.never))
    )
    const timeout = ContainerSpec.defaultReadinessTimeout
    yield* Effect.raceFirst(ready, failed).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.flatMap(SubscriptionRef.get(latest), ({ state }) =>
            Effect.fail(
              new NotReadyError({
                component: spec.name,
                image: spec.image,
                readiness: `${readiness} (all ${settings.replicas} replicas)`,
                outcome: `not met within ${Duration.format(timeout)} (last: ${state?.status ?? "no task yet"})`,
                lastLogLines: []
              })
            )
          )
      }),
      Effect.onError(() => Fiber.interrupt(fiber))
    )
    // Readiness came from the service's tasks: it was created, its id is set.
    return makeHandle(instance, spec, settings, yield* Ref.get(serviceId), serviceSpec.name, latest, fiber)
  })

  return { run, start }
}

const makeHandle = (
  instance: Instance,
  spec: ContainerSpec.ContainerSpec,
  settings: TaskStates.Settings,
  serviceId: string,
  serviceName: string,
  latest: SubscriptionRef.SubscriptionRef<{
    readonly state: ContainerState.ContainerState | undefined
    readonly slots: TaskStates.Slots
  }>,
  fiber: Fiber.Fiber<ContainerState.ContainerState | undefined, RunError>
): ContainerHandle => {
  const current = Effect.map(
    SubscriptionRef.get(latest),
    ({ state }) => state as ContainerState.ContainerState
  )
  return {
    id: serviceId,
    name: serviceName,
    state: current,
    // The latest state, then every change, ending once every replica's slot is finished.
    states: SubscriptionRef.changes(latest).pipe(
      Stream.takeUntil(({ slots }) => TaskStates.isDone(slots, settings)),
      Stream.flatMap(({ state }) => (state === undefined ? Stream.empty : Stream.make(state)))
    ),
    stop: Fiber.interrupt(fiber),
    // Every replica's output, from every node, through the manager; each line with its slot.
    logs: (options) => ServiceLogs.withSlots(instance.engine, serviceId, options),
    exec: (command, options) =>
      Effect.flatMap(SubscriptionRef.get(latest), ({ slots }) => {
        const local = [...slots.values()].find(
          (slot) => slot.state.status === "running" && slot.state.task?.stats === "available"
        )
        const node = instance.nodeEngines.get(local?.state.task?.nodeId ?? "")
        return local?.containerId === undefined || node === undefined
          ? Effect.fail(
              new DockerError({
                reason: "NotFound",
                operation: "exec",
                message: `no replica of ${spec.name} runs on a node the Supervisor reaches (the manager's, or one of nodeEngines): exec reaches only those on Swarm`
              })
            )
          : node.engine.exec(local.containerId, command, options)
      }),
    port: (containerPort, protocol = "tcp") =>
      Effect.fail(
        new PortNotPublished({
          component: spec.name,
          containerPort,
          protocol,
          message: `on Swarm a port is published per node (or on every node through the routing mesh): connect to a node's address at the service's published port`
        })
      ),
    await: Fiber.await(fiber).pipe(
      Effect.flatMap((exit) => {
        if (Exit.isSuccess(exit) && exit.value !== undefined) return Effect.succeed(exit.value)
        if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return current
        return Effect.failCause(exit.cause)
      })
    )
  }
}
