/**
 * Containers' output as Compose prints it: every line prefixed with its service (and replica)
 * name in a colour of its own, `web-1  | listening on :80`, the containers of an instance
 * merged. What `effect-docker logs` prints, and what `up` prints beside its state lines when
 * the output is not a terminal. Following (`-f`) outlives restarts (the container is reused:
 * its output resumes after the last line shown) and picks up containers started later. On
 * Swarm (`--swarm`) the same, read from the manager's service logs: `web-2  | ...` is the
 * service's replica in slot 2, whichever node it runs on.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Ref, Stream } from "effect"
import {
  type ContainerSummary,
  DockerEngine,
  type DockerEngineShape,
  type LabelFilter,
  type LogLine,
  type ServiceInspect
} from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as Supervisor from "../Supervisor.js"

/**
 * One line of a container's output, with the name it is shown under.
 *
 * @since 0.1.0
 */
export interface Line {
  /** The replica (`web`, `web-2`), with its instance before it when several are shown. */
  readonly name: string
  readonly stream: LogLine["stream"]
  readonly text: string
  /** As the engine recorded it (RFC 3339, nanoseconds). */
  readonly timestamp: string | undefined
}

// Compose's palette: the six colours, then their bright variants (no white, no black).
const PALETTE = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94] as const

/**
 * The colour (an ANSI SGR code) a name is shown in: the same for a name on every run, as a
 * hash of the name picks it.
 *
 * @since 0.1.0
 */
export const colourOf = (name: string): number => {
  let hash = 0
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return PALETTE[hash % PALETTE.length]!
}

/**
 * How lines are printed.
 *
 * @since 0.1.0
 */
export interface Format {
  /** The width the names are padded to (the longest name shown). */
  readonly width: number
  /** `false` with `--no-log-prefix`: the line alone. */
  readonly prefix: boolean
  readonly timestamps: boolean
  readonly color: boolean
}

/**
 * A line as printed: `web-1  | text`, the prefix in the name's colour; with timestamps,
 * `web-1  | 2024-05-01T10:00:00.123456789Z text`.
 *
 * @since 0.1.0
 */
export const formatLine = (line: Line, format: Format): string => {
  const text =
    format.timestamps && line.timestamp !== undefined ? `${line.timestamp} ${line.text}` : line.text
  if (!format.prefix) return text
  const prefix = `${line.name.padEnd(format.width)} |`
  return `${format.color ? `\x1b[${colourOf(line.name)}m${prefix}\x1b[0m` : prefix} ${text}`
}

/**
 * A timestamp that sorts as text: the engine drops trailing zeros of the nanoseconds
 * (`.5Z`, `.123456789Z`), which would sort `.5Z` after `.51Z`.
 *
 * @since 0.1.0
 */
export const timeKey = (timestamp: string | undefined): string => {
  if (timestamp === undefined) return ""
  const match = /^([^.Z+]+)(?:\.(\d+))?/.exec(timestamp)
  if (match === null) return timestamp
  return `${match[1]}.${(match[2] ?? "").padEnd(9, "0").slice(0, 9)}`
}

/** Orders lines by their engine time (a stable sort keeps one source's equal times in order). */
const byTime = (a: Line, b: Line): number =>
  timeKey(a.timestamp) < timeKey(b.timestamp) ? -1 : timeKey(a.timestamp) > timeKey(b.timestamp) ? 1 : 0

/**
 * Whether a container belongs to one of the services asked for (`web` takes `web` and its
 * replicas `web-1`, `web-2`); every container when none is asked for.
 *
 * @since 0.1.0
 */
export const isOfServices = (component: string, services: ReadonlyArray<string>): boolean =>
  services.length === 0 ||
  services.some(
    (service) =>
      component === service ||
      (component.startsWith(`${service}-`) && /^\d+$/.test(component.slice(service.length + 1)))
  )

/**
 * Which containers: by label (an instance, an app), narrowed to some services, and how each is
 * named (with its instance when several instances are shown).
 *
 * @since 0.1.0
 */
export interface Selection {
  readonly labels: LabelFilter
  readonly services: ReadonlyArray<string>
  readonly withInstance: boolean
  readonly labelPrefix?: string | undefined
}

/**
 * What to read: `tail` lines of each container's backlog (all when absent), then, with
 * `follow`, what they write next.
 *
 * @since 0.1.0
 */
export interface ReadOptions {
  readonly follow: boolean
  readonly tail: number | undefined
}

/**
 * The name a container's lines are shown under.
 *
 * @since 0.1.0
 */
export const nameOf = (
  labels: Readonly<Record<string, string>>,
  selection: Selection,
  fallback: string
): string => {
  const keys = Supervisor.labelKeys(selection.labelPrefix)
  const component = labels[keys.component] ?? fallback
  return selection.withInstance ? `${labels[keys.instance] ?? "?"}/${component}` : component
}

/** The selected containers now, oldest first. */
export const containers = (
  engine: DockerEngineShape,
  selection: Selection
): Effect.Effect<ReadonlyArray<ContainerSummary>, DockerError> =>
  engine.listContainers({ all: true, labels: selection.labels }).pipe(
    Effect.map((found) => {
      const keys = Supervisor.labelKeys(selection.labelPrefix)
      return found
        .filter((c) => isOfServices(c.labels[keys.component] ?? "", selection.services))
        .sort((a, b) => a.created - b.created)
    })
  )

const toLine =
  (name: string) =>
  (line: LogLine): Line => ({
    name,
    stream: line.stream,
    text: line.text,
    timestamp: line.timestamp
  })

/**
 * The backlog of every selected container (`tail` lines each), merged in time order.
 *
 * @since 0.1.0
 */
export const backlog = (
  engine: DockerEngineShape,
  selection: Selection,
  tail: number | undefined
): Effect.Effect<ReadonlyArray<Line>, DockerError> =>
  Effect.gen(function* () {
    const found = yield* containers(engine, selection)
    const perContainer = yield* Effect.forEach(
      found,
      (container) =>
        engine.logs(container.id, { timestamps: true, ...(tail === undefined ? {} : { tail }) }).pipe(
          Stream.map(toLine(nameOf(container.labels, selection, container.names[0] ?? container.id))),
          Stream.runCollect,
          // Removed since it was listed: it has nothing more to show.
          Effect.catchTag("DockerError", (error) =>
            error.reason === "NotFound" ? Effect.succeed([]) : Effect.fail(error)
          )
        ),
      { concurrency: 4 }
    )
    // A stable sort: lines of one container with the same time keep their order.
    return perContainer.flat().sort(byTime)
  })

/**
 * The selected containers' output as it is written, until interrupted: each container's
 * backlog (`tail` lines) first, then its new lines; a container that restarts resumes after its
 * last line shown; a container started later is followed from its start.
 *
 * @since 0.1.0
 */
export const follow = (
  engine: DockerEngineShape,
  selection: Selection,
  tail: number | undefined
): Stream.Stream<Line, DockerError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const keys = Supervisor.labelKeys(selection.labelPrefix)
      // The time of the last line shown of each container: a restart resumes after it, a start
      // seen twice (listed and announced) shows nothing twice. The engine's times are in
      // nanoseconds, so two lines of one container do not share one.
      const shown = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
      const sinceSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000) - 1
      // Subscribed before listing: a container started in between is announced, not missed.
      const starts = engine.events({
        labels: selection.labels,
        types: ["container"],
        actions: ["start"],
        since: sinceSeconds
      })
      const found = yield* containers(engine, selection)

      const followOne = (id: string, name: string, backlogTail: number | undefined) =>
        Stream.unwrap(
          Effect.map(Ref.get(shown), (seen) => {
            const last = seen.get(id)
            const since =
              last === undefined ? undefined : Math.floor(Date.parse(`${last.slice(0, 19)}Z`) / 1000)
            return engine
              .logs(id, {
                follow: true,
                timestamps: true,
                ...(last === undefined && backlogTail !== undefined ? { tail: backlogTail } : {}),
                ...(since === undefined || Number.isNaN(since) ? {} : { since })
              })
              .pipe(
                Stream.filterEffect((line) =>
                  Ref.modify(shown, (current): [boolean, ReadonlyMap<string, string>] => {
                    const previous = current.get(id)
                    const key = timeKey(line.timestamp)
                    if (previous !== undefined && key <= previous) return [false, current]
                    return [true, new Map(current).set(id, key)]
                  })
                ),
                Stream.map(toLine(name)),
                // Gone (removed after it exited): its output ends here.
                Stream.catchTag("DockerError", (error) =>
                  error.reason === "NotFound" ? Stream.empty : Stream.fail(error)
                )
              )
          })
        )

      const listed = found.map((container) =>
        followOne(container.id, nameOf(container.labels, selection, container.names[0] ?? container.id), tail)
      )
      const later = starts.pipe(
        Stream.filter((event) => isOfServices(event.attributes[keys.component] ?? "", selection.services)),
        Stream.flatMap(
          (event) =>
            followOne(
              event.actorId,
              nameOf(event.attributes, selection, event.attributes.name ?? event.actorId),
              undefined
            ),
          { concurrency: "unbounded" }
        )
      )
      // Pairwise merges: `Stream.mergeAll` held every line back here under the TestClock.
      return listed.reduce((merged, one) => Stream.merge(merged, one), later)
    })
  )

// ---------------------------------------------------------------------------------------------
// Swarm (`--swarm`): the tasks run on other nodes' engines, so their output is read from the
// manager, a service at a time (every task of it, on every node), each line under its replica.
// ---------------------------------------------------------------------------------------------

/**
 * The selected Swarm services now (by label, narrowed to some fleet services), oldest first.
 *
 * @since 0.3.0
 */
export const swarmServices = (
  engine: DockerEngineShape,
  selection: Selection
): Effect.Effect<ReadonlyArray<ServiceInspect>, DockerError> =>
  engine.listServices({ labels: selection.labels }).pipe(
    Effect.map((found) => {
      const keys = Supervisor.labelKeys(selection.labelPrefix)
      return found
        .filter((service) => isOfServices(service.spec.labels[keys.component] ?? "", selection.services))
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
    })
  )

/** How many replicas a service has: its rows are `web-1` ... `web-n` when more than one. */
const replicaCount = (service: ServiceInspect): number => {
  const mode = service.spec.mode
  if (mode === undefined) return 1
  switch (mode._tag) {
    case "Replicated":
      return mode.replicas
    case "ReplicatedJob":
      return mode.totalCompletions ?? 1
    case "Global":
      return 1
  }
}

/**
 * The name a line of a Swarm service is shown under: its replica (`web-2`, as `up` names its
 * rows) when the service has several and the line's slot is known, else the service.
 *
 * @since 0.3.0
 */
export const replicaNameOf = (service: ServiceInspect, selection: Selection, line: LogLine): string => {
  const base = nameOf(service.spec.labels, selection, service.spec.name)
  const slot = line.task?.slot
  return replicaCount(service) > 1 && slot !== undefined ? `${base}-${slot}` : base
}

/** The names a service's lines can be shown under: for the width of the prefixes. */
export const replicaNamesOf = (service: ServiceInspect, selection: Selection): ReadonlyArray<string> => {
  const base = nameOf(service.spec.labels, selection, service.spec.name)
  const count = replicaCount(service)
  return count <= 1 ? [base] : Array.from({ length: count }, (_, i) => `${base}-${i + 1}`)
}

const serviceLines = (
  engine: DockerEngineShape,
  service: ServiceInspect,
  selection: Selection,
  options: ReadOptions
): Stream.Stream<Line, DockerError> =>
  Supervisor.serviceLogs(service.id, {
    follow: options.follow,
    timestamps: true,
    ...(options.tail === undefined ? {} : { tail: options.tail })
  }).pipe(
    Stream.provideService(DockerEngine, engine),
    Stream.map((line) => ({
      name: replicaNameOf(service, selection, line),
      stream: line.stream,
      text: line.text,
      timestamp: line.timestamp
    })),
    // Removed since it was listed: it has nothing more to show.
    Stream.catchTag("DockerError", (error) =>
      error.reason === "NotFound" ? Stream.empty : Stream.fail(error)
    )
  )

/**
 * The backlog of every selected Swarm service (`tail` lines each), merged in time order.
 *
 * @since 0.3.0
 */
export const swarmBacklog = (
  engine: DockerEngineShape,
  selection: Selection,
  tail: number | undefined
): Effect.Effect<ReadonlyArray<Line>, DockerError> =>
  Effect.gen(function* () {
    const found = yield* swarmServices(engine, selection)
    const perService = yield* Effect.forEach(
      found,
      (service) => Stream.runCollect(serviceLines(engine, service, selection, { follow: false, tail })),
      { concurrency: 4 }
    )
    return perService.flat().sort(byTime)
  })

/**
 * The selected Swarm services' output as it is written, until interrupted: each service's
 * backlog (`tail` lines) and then its new lines, from every task (a replaced task's
 * replacement too: the manager follows the service); a service created later is followed
 * from its start.
 *
 * @since 0.3.0
 */
export const swarmFollow = (
  engine: DockerEngineShape,
  selection: Selection,
  tail: number | undefined
): Stream.Stream<Line, DockerError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const followed = yield* Ref.make<ReadonlySet<string>>(new Set())
      const sinceSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000) - 1
      // Subscribed before listing: a service created in between is announced, not missed. A
      // service event carries its name only: the services are listed again by label.
      const creates = engine.events({ types: ["service"], actions: ["create"], since: sinceSeconds })
      const found = yield* swarmServices(engine, selection)
      const fresh = (services: ReadonlyArray<ServiceInspect>) =>
        Ref.modify(followed, (seen): [ReadonlyArray<ServiceInspect>, ReadonlySet<string>] => {
          const unseen = services.filter((service) => !seen.has(service.id))
          return [unseen, new Set([...seen, ...unseen.map((service) => service.id)])]
        })
      const listed = (yield* fresh(found)).map((service) =>
        serviceLines(engine, service, selection, { follow: true, tail })
      )
      const later = creates.pipe(
        Stream.mapEffect(() => Effect.flatMap(swarmServices(engine, selection), fresh)),
        Stream.flatMap(
          (services) =>
            Stream.fromIterable(services).pipe(
              Stream.flatMap(
                (service) => serviceLines(engine, service, selection, { follow: true, tail: undefined }),
                { concurrency: "unbounded" }
              )
            ),
          { concurrency: "unbounded" }
        )
      )
      return listed.reduce((merged, one) => Stream.merge(merged, one), later)
    })
  )
