/**
 * The in-memory engine's state: the records of containers, networks, volumes and images, the scripts,
 * faults and recorded calls, the event log, and the lookups by id, name or prefix that every
 * operation starts with.
 *
 * State lives in plain maps mutated only inside `Effect.sync` blocks (one JavaScript turn), so
 * a snapshot plus a subscription, or a state change plus its events, is atomic.
 *
 * @internal
 */
import { type Cause, type Deferred, Duration, Effect, type FiberMap, type Queue, type Scope } from "effect"
import type {
  CreateContainerOptions,
  EngineEvent,
  EventsOptions,
  LogLine,
  WaitResult
} from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import type { Call, ImageDefinition, Operation, Options, Script, ScriptInput } from "../../MemoryEngine.js"
import { normalizeReference } from "../imageReference.js"
import { engineError, zeroTime } from "./docker.js"
import type { BoundPort, MountRecord } from "./reach.js"
import type { SwarmState } from "./swarmState.js"

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

export interface ImageRecord {
  readonly id: string
  readonly reference: string
  readonly definition: ImageDefinition
  readonly layerIds: ReadonlyArray<string>
  readonly layerSizes: ReadonlyArray<number>
  readonly createdMs: number
}

export interface NetworkRecord {
  readonly id: string
  readonly name: string
  readonly driver: string
  readonly internal: boolean
  readonly labels: Readonly<Record<string, string>>
  readonly predefined: boolean
  /** Second and third octet of its /16 (172.17 for the default bridge); 0 = no addresses. */
  readonly subnet: number
  nextHost: number
}

export interface Attachment {
  /** As given: the engine names it when the network is gone by the time the container starts. */
  readonly networkName: string
  readonly aliases: ReadonlyArray<string>
  ipAddress: string
}

export interface LogEntry {
  readonly stream: "stdout" | "stderr"
  readonly text: string
  readonly timeMs: number
}

export interface Waiter {
  readonly condition: "next-exit" | "not-running" | "removed"
  readonly deferred: Deferred.Deferred<WaitResult>
}

export interface LogFollower {
  readonly queue: Queue.Queue<LogLine, DockerError | Cause.Done>
  readonly stdout: boolean
  readonly stderr: boolean
  readonly timestamps: boolean
}

export interface FileRecord {
  readonly type: "file" | "directory" | "symlink"
  readonly mode: number
  readonly content: Uint8Array
}

/**
 * A volume: it lives until `removeVolume`, whatever happens to the containers that mount it.
 * `files` is its content, for the containers that will mount it.
 */
export interface VolumeRecord {
  readonly name: string
  readonly driver: string
  readonly labels: Readonly<Record<string, string>>
  readonly options: Readonly<Record<string, string>>
  readonly createdMs: number
  readonly files: Map<string, FileRecord>
}

export interface ContainerRecord {
  readonly id: string
  readonly name: string
  readonly image: string
  readonly imageId: string
  readonly imageReference: string
  readonly options: CreateContainerOptions
  readonly createdMs: number
  readonly healthcheck: ReadonlyArray<string> | undefined
  /** `restarting`: exited, and the engine's restart policy starts it again after `restartDelayMs`. */
  status: "created" | "running" | "restarting" | "exited"
  removed: boolean
  exitCode: number
  oomKilled: boolean
  /** The engine's error for the last exit (`State.Error`), "" when none. */
  error: string
  startedMs: number | undefined
  finishedMs: number | undefined
  pid: number
  health: { status: string; failingStreak: number } | undefined
  /** By network id. */
  readonly networks: Map<string, Attachment>
  readonly logs: Array<LogEntry>
  readonly files: Map<string, FileRecord>
  /** Binds, volumes and tmpfs, as created. */
  readonly mounts: ReadonlyArray<MountRecord>
  /** Host ports bound at the last start; empty while not running. */
  ports: ReadonlyArray<BoundPort>
  /** Names of the volumes it mounts: while it exists (running or not) they cannot be removed. */
  readonly volumes: ReadonlySet<string>
  /** Restarts made by the engine's restart policy since the last start through the API. */
  restartCount: number
  /** The last restart delay (Docker's: 100 ms, doubled per restart, back to 100 ms after a 10 s run). */
  restartDelayMs: number
  /** Stopped or killed through the API: its restart policy does not bring it back. */
  manuallyStopped: boolean
  /** Incremented at every start, so a stale process fiber can tell it is no longer current. */
  run: number
  script: Script
  exited: Deferred.Deferred<void>
  readonly waiters: Set<Waiter>
  readonly followers: Set<LogFollower>
  cpuTotal: number
  lastSampleMs: number
}

export interface Subscriber {
  readonly queue: Queue.Queue<EngineEvent, DockerError | Cause.Done>
  readonly options: EventsOptions
  readonly untilNanos: bigint | undefined
}

export interface BufferedEvent {
  readonly event: EngineEvent
  readonly nanos: bigint
}

/** A pending injected failure: it fails the next `remaining` calls of its operation. */
export interface Fault {
  remaining: number
  readonly error: DockerError
}

/** Streams held open by consumers, by kind (what `openStreams` reports). */
export interface OpenCounts {
  events: number
  stats: number
  logs: number
  pulls: number
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

export interface Store {
  /** The scope of the engine: processes and graceful shutdowns are fibers in it. */
  readonly scope: Scope.Scope
  /** One process fiber per running container, by container id. */
  readonly processes: FiberMap.FiberMap<string>
  readonly cpus: number
  readonly memoryTotal: number
  readonly cgroup: "v1" | "v2"
  readonly eventsBuffer: number

  readonly containers: Map<string, ContainerRecord>
  readonly networks: Map<string, NetworkRecord>
  /** By name. */
  readonly volumes: Map<string, VolumeRecord>
  /** By normalised reference. */
  readonly images: Map<string, ImageRecord>
  readonly registry: Map<string, ImageDefinition>
  readonly containerScripts: Map<string, ScriptInput>
  readonly imageScripts: Map<string, ScriptInput>
  /** Starts so far per script key (`container:<name>`, `image:<reference>`). */
  readonly runCounts: Map<string, number>
  readonly faults: Map<Operation, Array<Fault>>
  readonly delays: Map<Operation, Duration.Input>
  readonly calls: Array<Call>
  /** Every event emitted, for `emittedEvents`. */
  readonly history: Array<EngineEvent>
  /** The last `eventsBuffer` events, for `since` replays. */
  buffer: Array<BufferedEvent>
  readonly subscribers: Set<Subscriber>
  readonly open: OpenCounts
  readonly counters: {
    container: number
    network: number
    image: number
    pid: number
    subnet: number
    name: number
    volume: number
    /** The next host port to try for a random binding. */
    hostPort: number
    exec: number
  }
  lastEventNanos: bigint
  /** The swarm this engine manages; undefined outside a swarm (`swarmInit` makes one). */
  swarm: SwarmState | undefined
}

export const makeStore = (
  options: Options,
  scope: Scope.Scope,
  processes: FiberMap.FiberMap<string>
): Store => ({
  scope,
  processes,
  cpus: options.cpus ?? 2,
  memoryTotal: options.memoryTotal ?? 8 * 1024 * 1024 * 1024,
  cgroup: options.cgroup ?? "v1",
  eventsBuffer: options.eventsBuffer ?? 256,
  containers: new Map(),
  networks: new Map(),
  volumes: new Map(),
  images: new Map(),
  registry: new Map(),
  containerScripts: new Map(),
  imageScripts: new Map(),
  runCounts: new Map(),
  faults: new Map(),
  delays: new Map(),
  calls: [],
  history: [],
  buffer: [],
  subscribers: new Set(),
  open: { events: 0, stats: 0, logs: 0, pulls: 0 },
  counters: {
    container: 0,
    network: 0,
    image: 0,
    pid: 100,
    subnet: 18,
    name: 0,
    volume: 0,
    exec: 0,
    hostPort: 32768
  },
  lastEventNanos: -1n,
  swarm: undefined
})

// ---------------------------------------------------------------------------------------------
// Small conversions
// ---------------------------------------------------------------------------------------------

export const toDefinition = (image: string | ImageDefinition): ImageDefinition =>
  typeof image === "string" ? { reference: image } : image

export const millis = (input: Duration.Input): number => Duration.toMillis(input)

export const iso = (ms: number | undefined): string =>
  ms === undefined ? zeroTime : new Date(ms).toISOString()

export const nanosToMillis = (nanos: bigint): number => Number(nanos / 1_000_000n)

/** The directories every container has; `files` leaves them out. */
export const defaultDirectories = ["/", "/bin", "/dev", "/etc", "/proc", "/root", "/sys", "/tmp"]

// ---------------------------------------------------------------------------------------------
// Lookups: by id, by name, or by an unambiguous id prefix, as the engine resolves them
// ---------------------------------------------------------------------------------------------

export const lookupContainer = (store: Store, ref: string): ContainerRecord | undefined => {
  const byId = store.containers.get(ref)
  if (byId !== undefined) return byId
  const name = ref.startsWith("/") ? ref.slice(1) : ref
  for (const c of store.containers.values()) if (c.name === name) return c
  if (ref.length === 0) return undefined
  const matches = [...store.containers.values()].filter((c) => c.id.startsWith(ref))
  return matches.length === 1 ? matches[0] : undefined
}

export const findContainer = (store: Store, operation: string, ref: string) =>
  Effect.suspend(() => {
    const c = lookupContainer(store, ref)
    return c === undefined
      ? Effect.fail(engineError(operation, 404, `No such container: ${ref}`))
      : Effect.succeed(c)
  })

export const lookupNetwork = (store: Store, ref: string): NetworkRecord | undefined => {
  const byId = store.networks.get(ref)
  if (byId !== undefined) return byId
  for (const n of store.networks.values()) if (n.name === ref) return n
  if (ref.length === 0) return undefined
  const matches = [...store.networks.values()].filter((n) => n.id.startsWith(ref))
  return matches.length === 1 ? matches[0] : undefined
}

export const findNetwork = (store: Store, operation: string, ref: string) =>
  Effect.suspend(() => {
    const n = lookupNetwork(store, ref)
    return n === undefined
      ? Effect.fail(engineError(operation, 404, `network ${ref} not found`))
      : Effect.succeed(n)
  })

export const lookupImage = (store: Store, ref: string): ImageRecord | undefined => {
  const byRef = store.images.get(normalizeReference(ref))
  if (byRef !== undefined) return byRef
  const hex = ref.replace(/^sha256:/, "")
  if (hex.length === 0) return undefined
  const matches = [...store.images.values()].filter((i) => i.id.slice("sha256:".length).startsWith(hex))
  return matches.length >= 1 && /^[0-9a-f]+$/.test(hex) ? matches[0] : undefined
}

export const findImage = (store: Store, operation: string, ref: string) =>
  Effect.suspend(() => {
    const image = lookupImage(store, ref)
    return image === undefined
      ? Effect.fail(engineError(operation, 404, `No such image: ${ref}`))
      : Effect.succeed(image)
  })

export const findVolume = (store: Store, operation: string, name: string) =>
  Effect.suspend(() => {
    const volume = store.volumes.get(name)
    return volume === undefined
      ? Effect.fail(engineError(operation, 404, `get ${name}: no such volume`))
      : Effect.succeed(volume)
  })

/** A container that must be running for a control poke (`exit`, `setHealth`, `writeLog`). */
export const runningContainer = (store: Store, operation: string, ref: string) =>
  Effect.flatMap(findContainer(store, operation, ref), (c) =>
    c.status === "running"
      ? Effect.succeed(c)
      : Effect.fail(engineError(operation, 409, `Container ${c.id} is not running`))
  )
