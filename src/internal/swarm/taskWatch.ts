/**
 * The Swarm Supervisor's one view of its tasks. Swarm has no task events, so the instance
 * polls: one `listTasks` filtered by the instance label per tick for all its services and
 * replicas (never one per replica), every `taskPollInterval` while any run is watching, and at
 * once when the engine reports a `service` or `node` event (a hint, not a source of states).
 * Each tick also reads the health of the task containers the engine itself runs (one
 * `listContainers`), and the nodes' hostnames when a task names a node not known yet. Runs
 * read the latest observation from a `SubscriptionRef`.
 *
 * @internal
 */
import type { Duration } from "effect"
import { Effect, Queue, Ref, type Scope, Stream, SubscriptionRef } from "effect"
import type { Health } from "../../ContainerState.js"
import type { DockerEngineShape, Task } from "../../DockerEngine.js"
import * as Events from "../supervisorEvents.js"

/** One tick's view of the instance's tasks. @internal */
export interface Snapshot {
  /** Counts the ticks: a run skips what it saw. */
  readonly tick: number
  readonly tasks: ReadonlyArray<Task>
  readonly nodes: ReadonlyMap<string, string>
  readonly health: ReadonlyMap<string, Health>
}

/** The instance's poller. @internal */
export interface TaskWatch {
  /** The latest snapshot, then every new one. */
  readonly snapshots: Stream.Stream<Snapshot>
  /** Polls while the returned scope is open (a run watching its service). */
  readonly watch: Effect.Effect<void, never, Scope.Scope>
  /** Polls now, without waiting for the interval. */
  readonly pollNow: Effect.Effect<void>
  /** How many times the `service`/`node` events stream has connected. */
  readonly hintConnections: Effect.Effect<number>
}

/** The health in a container summary's status text (`Up 3 seconds (healthy)`). @internal */
export const healthOfStatus = (status: string): Health | undefined => {
  if (status.includes("(healthy)")) return "healthy"
  if (status.includes("(unhealthy)")) return "unhealthy"
  if (status.includes("(health: starting)")) return "starting"
  return undefined
}

/**
 * Starts the poller in the current scope (the instance's): it ends with it.
 *
 * @internal
 */
export const make = (
  engine: DockerEngineShape,
  options: {
    readonly labels: Readonly<Record<string, string>>
    readonly interval: Duration.Duration
  }
): Effect.Effect<TaskWatch, never, Scope.Scope> =>
  Effect.gen(function* () {
    const latest = yield* SubscriptionRef.make<Snapshot>({
      tick: 0,
      tasks: [],
      nodes: new Map(),
      health: new Map()
    })
    const watchers = yield* Ref.make(0)
    const hints = yield* Queue.sliding<void>(1)
    const connections = yield* Ref.make(0)

    const nodesOf = (known: ReadonlyMap<string, string>, tasks: ReadonlyArray<Task>) =>
      tasks.every((task) => task.nodeId === undefined || known.has(task.nodeId))
        ? Effect.succeed(known)
        : Effect.map(engine.listNodes(), (nodes) => new Map(nodes.map((node) => [node.id, node.hostname])))

    const poll = Effect.gen(function* () {
      const previous = yield* SubscriptionRef.get(latest)
      const tasks = yield* engine.listTasks({ labels: options.labels })
      const nodes = yield* nodesOf(previous.nodes, tasks)
      const containers = yield* engine.listContainers({ all: true, labels: options.labels })
      const health = new Map<string, Health>()
      for (const container of containers) {
        const known = healthOfStatus(container.status)
        if (known !== undefined) health.set(container.id, known)
      }
      yield* SubscriptionRef.set(latest, { tick: previous.tick + 1, tasks, nodes, health })
    }).pipe(
      // A failed tick is retried at the next one: the runs keep their last states meanwhile.
      Effect.catchTag("DockerError", (error) =>
        Effect.logWarning("polling the swarm's tasks failed").pipe(
          Effect.annotateLogs({ reason: error.reason, message: error.message })
        )
      )
    )

    const loop = Effect.gen(function* () {
      if ((yield* Ref.get(watchers)) > 0) yield* poll
      yield* Effect.raceFirst(Effect.sleep(options.interval), Queue.take(hints))
    }).pipe(Effect.forever)
    yield* Effect.forkScoped(loop)

    // Swarm reports services and nodes (not tasks) as events: each is a reason to poll now.
    const hintsStream = Stream.unwrap(
      Effect.as(
        Ref.update(connections, (count) => count + 1),
        engine.events({ types: ["service", "node"] })
      )
    ).pipe(
      Stream.retry(Events.defaultReconnect),
      Stream.runForEach(() => Queue.offer(hints, undefined)),
      Effect.catchTag("DockerError", (error) =>
        Effect.logDebug("swarm events ended; polling on the interval only", error.message)
      )
    )
    yield* Effect.forkScoped(hintsStream)

    const pollNow = Queue.offer(hints, undefined).pipe(Effect.asVoid)

    return {
      snapshots: SubscriptionRef.changes(latest),
      watch: Effect.acquireRelease(
        Ref.update(watchers, (count) => count + 1).pipe(Effect.andThen(pollNow)),
        () => Ref.update(watchers, (count) => count - 1)
      ),
      pollNow,
      hintConnections: Ref.get(connections)
    }
  })
