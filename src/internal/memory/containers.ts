/**
 * The container lifecycle operations of the in-memory engine: create (names, image, network
 * attachment), start (a new run and its process fiber), stop and kill (signals, grace, the
 * stop timeout), remove, inspect, list and wait.
 *
 * @internal
 */
import { Clock, Deferred, Effect, FiberMap } from "effect"
import type { CreateContainerOptions, DockerEngineShape, WaitResult } from "../../DockerEngine.js"
import { engineError, isValidContainerName, makeId, matchesLabels, parseSignal } from "./docker.js"
import { containerAttributes, emit } from "./events.js"
import { guard } from "./faults.js"
import { containerInspect, containerSummary } from "./inspect.js"
import {
  exitAfter,
  gracefulExitCode,
  removeSync,
  signalSync,
  startRun,
  stopRestartingSync,
  waitResultOf
} from "./processes.js"
import { bindPortsSync, mountsOf, removeAnonymousVolumesSync, resetTmpfsSync } from "./reach.js"
import {
  type ContainerRecord,
  defaultDirectories,
  findContainer,
  lookupImage,
  lookupNetwork,
  nanosToMillis,
  type Store,
  type Waiter
} from "./store.js"

/**
 * Creates a container, as `createContainer` does but outside the call record and fault
 * injection: what the engine itself creates (a swarm task's container) goes through here.
 */
export const createContainerSync = (store: Store, createOptions: CreateContainerOptions) =>
  Effect.gen(function* () {
    const nowNanos = yield* Clock.currentTimeNanos
    const name = createOptions.name?.replace(/^\//, "")
    if (name !== undefined && !isValidContainerName(name)) {
      return yield* Effect.fail(
        engineError(
          "createContainer",
          400,
          `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`
        )
      )
    }
    if (name !== undefined) {
      const taken = [...store.containers.values()].find((c) => c.name === name)
      if (taken !== undefined) {
        return yield* Effect.fail(
          engineError(
            "createContainer",
            409,
            `Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`
          )
        )
      }
    }
    const image = lookupImage(store, createOptions.image)
    if (image === undefined) {
      return yield* Effect.fail(engineError("createContainer", 404, `No such image: ${createOptions.image}`))
    }
    const mode = createOptions.networkMode ?? "bridge"
    const networkName = mode === "default" ? "bridge" : mode
    // Like Docker, an unknown network is only an error when the container starts.
    const attachTo = networkName.startsWith("container:") ? undefined : lookupNetwork(store, networkName)
    store.counters.container += 1
    store.counters.name += 1
    const id = makeId("container", store.counters.container)
    const healthcheck = createOptions.healthcheck?.test ?? image.definition.healthcheck
    const mounts = mountsOf(store, createOptions, nowNanos)
    const record: ContainerRecord = {
      id,
      name: name ?? `memory_container_${store.counters.name}`,
      image: createOptions.image,
      imageId: image.id,
      imageReference: image.reference,
      options: createOptions,
      createdMs: nanosToMillis(nowNanos),
      healthcheck: healthcheck !== undefined && healthcheck[0] !== "NONE" ? healthcheck : undefined,
      status: "created",
      removed: false,
      exitCode: 0,
      oomKilled: false,
      error: "",
      restartCount: 0,
      restartDelayMs: 0,
      manuallyStopped: false,
      startedMs: undefined,
      finishedMs: undefined,
      pid: 0,
      health: undefined,
      networks: new Map(),
      logs: [],
      files: new Map(
        defaultDirectories.map((dir) => [dir, { type: "directory", mode: 0o755, content: new Uint8Array() }])
      ),
      mounts,
      ports: [],
      volumes: new Set(
        mounts.flatMap((mount) => (mount.type === "volume" && mount.name !== undefined ? [mount.name] : []))
      ),
      run: 0,
      script: {},
      exited: Deferred.makeUnsafe<void>(),
      waiters: new Set(),
      followers: new Set(),
      cpuTotal: 0,
      lastSampleMs: 0
    }
    if (!networkName.startsWith("container:")) {
      const userNetwork = attachTo === undefined || !attachTo.predefined
      record.networks.set(attachTo?.id ?? `missing:${networkName}`, {
        networkName,
        aliases: userNetwork ? (createOptions.networkAliases ?? []) : [],
        ipAddress: ""
      })
    }
    store.containers.set(id, record)
    emit(store, nowNanos, "container", "create", id, containerAttributes(record))
    return { id, warnings: [] as ReadonlyArray<string> }
  })

/** Starts a container, as `startContainer` does but outside the call record and fault injection. */
export const startContainerNow = (store: Store, ref: string) =>
  Effect.gen(function* () {
    const c = yield* findContainer(store, "startContainer", ref)
    if (c.status === "running" || c.status === "restarting") return
    for (const [networkId, attachment] of c.networks) {
      if (!store.networks.has(networkId)) {
        return yield* Effect.fail(
          engineError("startContainer", 404, `network ${attachment.networkName} not found`)
        )
      }
    }
    const portTaken = bindPortsSync(store, c)
    if (portTaken !== undefined) return yield* Effect.fail(engineError("startContainer", 500, portTaken))
    resetTmpfsSync(c)
    // A start through the API begins the restart policy's count and backoff afresh.
    c.restartCount = 0
    c.restartDelayMs = 0
    c.manuallyStopped = false
    yield* startRun(store, c)
  })

/** Stops a container, as `stopContainer` does but outside the call record and fault injection. */
export const stopContainerNow = (store: Store, ref: string, stopOptions?: { readonly timeout?: number }) =>
  Effect.gen(function* () {
    const c = yield* findContainer(store, "stopContainer", ref)
    if (c.status === "restarting") {
      stopRestartingSync(store, c, yield* Clock.currentTimeNanos)
      return
    }
    if (c.status !== "running") return
    c.manuallyStopped = true
    const signal = parseSignal(c.options.stopSignal ?? "SIGTERM") ?? 15
    const timeoutMs = (stopOptions?.timeout ?? c.options.stopTimeout ?? 10) * 1000
    const run = c.run
    const graceMs = signalSync(store, c, signal, yield* Clock.currentTimeNanos)
    if (c.run === run && c.status === "running") {
      if (graceMs !== undefined && graceMs <= timeoutMs) {
        yield* exitAfter(store, c, run, graceMs, gracefulExitCode(c, signal))
      } else {
        yield* Effect.raceFirst(Effect.sleep(timeoutMs), Deferred.await(c.exited))
        if (c.run === run && c.status === "running") signalSync(store, c, 9, yield* Clock.currentTimeNanos)
      }
    }
    yield* FiberMap.remove(store.processes, c.id)
    if (!c.removed)
      emit(store, yield* Clock.currentTimeNanos, "container", "stop", c.id, containerAttributes(c))
  })

/** The engine's container operations. */
export const containerOperations = (
  store: Store
): Pick<
  DockerEngineShape,
  | "createContainer"
  | "startContainer"
  | "stopContainer"
  | "killContainer"
  | "removeContainer"
  | "inspectContainer"
  | "listContainers"
  | "waitContainer"
> => {
  const { containers, processes } = store

  const createContainer = (createOptions: CreateContainerOptions) =>
    guard(store, "createContainer", [createOptions], createContainerSync(store, createOptions))

  const startContainer = (ref: string) => guard(store, "startContainer", [ref], startContainerNow(store, ref))

  const stopContainer = (ref: string, stopOptions?: { readonly timeout?: number }) =>
    guard(store, "stopContainer", [ref, stopOptions], stopContainerNow(store, ref, stopOptions))

  const killContainer = (ref: string, killOptions?: { readonly signal?: string }) =>
    guard(
      store,
      "killContainer",
      [ref, killOptions],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "killContainer", ref)
        const signalName = killOptions?.signal ?? "SIGKILL"
        const signal = parseSignal(signalName)
        if (signal === undefined) {
          return yield* Effect.fail(engineError("killContainer", 400, `Invalid signal: ${signalName}`))
        }
        if (c.status === "restarting") {
          // Docker only tells the restart monitor not to start it again.
          if (signal === 9 || signal === parseSignal(c.options.stopSignal ?? "SIGTERM"))
            stopRestartingSync(store, c, yield* Clock.currentTimeNanos)
          return
        }
        if (c.status !== "running") {
          return yield* Effect.fail(
            engineError(
              "killContainer",
              409,
              `Cannot kill container: ${ref}: Container ${c.id} is not running`
            )
          )
        }
        const run = c.run
        if (signal === 9 || signal === parseSignal(c.options.stopSignal ?? "SIGTERM"))
          c.manuallyStopped = true
        const graceMs = signalSync(store, c, signal, yield* Clock.currentTimeNanos)
        if (graceMs !== undefined) {
          yield* Effect.forkIn(exitAfter(store, c, run, graceMs, gracefulExitCode(c, signal)), store.scope)
        } else if (c.status !== "running") {
          yield* FiberMap.remove(processes, c.id)
        }
      })
    )

  const removeContainer = (
    ref: string,
    removeOptions?: { readonly force?: boolean; readonly volumes?: boolean }
  ) =>
    guard(
      store,
      "removeContainer",
      [ref, removeOptions],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "removeContainer", ref)
        const nowNanos = yield* Clock.currentTimeNanos
        if (c.status === "running" || c.status === "restarting") {
          if (removeOptions?.force !== true) {
            return yield* Effect.fail(
              engineError(
                "removeContainer",
                409,
                `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`
              )
            )
          }
          c.manuallyStopped = true
          if (c.status === "running") signalSync(store, c, 9, nowNanos)
        }
        yield* FiberMap.remove(processes, c.id)
        if (!c.removed) removeSync(store, c, nowNanos)
        if (removeOptions?.volumes === true) removeAnonymousVolumesSync(store, c, nowNanos)
      })
    )

  const inspectContainer = (ref: string) =>
    guard(
      store,
      "inspectContainer",
      [ref],
      Effect.map(findContainer(store, "inspectContainer", ref), (c) => containerInspect(store, c))
    )

  const listContainers = (listOptions?: {
    readonly all?: boolean
    readonly labels?: Readonly<Record<string, string | true>>
  }) =>
    guard(
      store,
      "listContainers",
      [listOptions],
      Effect.map(Clock.currentTimeMillis, (nowMs) =>
        [...containers.values()]
          .filter(
            (c) =>
              (listOptions?.all === true || c.status === "running" || c.status === "restarting") &&
              matchesLabels(c.options.labels ?? {}, listOptions?.labels)
          )
          .reverse()
          .map((c) => containerSummary(c, nowMs))
      )
    )

  const waitContainer = (
    ref: string,
    waitOptions?: { readonly condition?: "next-exit" | "not-running" | "removed" }
  ) =>
    guard(
      store,
      "waitContainer",
      [ref, waitOptions],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "waitContainer", ref)
        const condition = waitOptions?.condition ?? "next-exit"
        // A restarting container counts as running, as on Docker: `not-running` waits for its next stop.
        if (condition === "not-running" && c.status !== "running" && c.status !== "restarting")
          return waitResultOf(c)
        const waiter: Waiter = { condition, deferred: Deferred.makeUnsafe<WaitResult>() }
        c.waiters.add(waiter)
        return yield* Deferred.await(waiter.deferred).pipe(
          Effect.ensuring(Effect.sync(() => c.waiters.delete(waiter)))
        )
      })
    )

  return {
    createContainer,
    startContainer,
    stopContainer,
    killContainer,
    removeContainer,
    inspectContainer,
    listContainers,
    waitContainer
  }
}
