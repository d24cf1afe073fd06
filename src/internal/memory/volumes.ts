/**
 * Volumes in the in-memory engine: created with labels and driver options, kept by name
 * independently of every container (removing or re-creating a container leaves them), listed
 * by label, and refused removal while a container that mounts them exists.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import type { DockerEngineShape, VolumeInspect } from "../../DockerEngine.js"
import { engineError, makeId, matchesLabels } from "./docker.js"
import { emit } from "./events.js"
import { guard } from "./faults.js"
import { findVolume, iso, nanosToMillis, type Store, type VolumeRecord } from "./store.js"

const validName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

export const volumeInspect = (volume: VolumeRecord): VolumeInspect => ({
  name: volume.name,
  driver: volume.driver,
  mountpoint: `/var/lib/docker/volumes/${volume.name}/_data`,
  labels: volume.labels,
  options: volume.options,
  scope: "local",
  createdAt: iso(volume.createdMs)
})

/** The containers (running or not) that mount the volume: while there are any, it stays. */
export const volumeUsers = (store: Store, name: string): ReadonlyArray<string> =>
  [...store.containers.values()].filter((c) => c.volumes.has(name)).map((c) => c.id)

/** The engine's volume operations. */
export const volumeOperations = (
  store: Store
): Pick<DockerEngineShape, "createVolume" | "inspectVolume" | "listVolumes" | "removeVolume"> => {
  const createVolume: DockerEngineShape["createVolume"] = (createOptions = {}) =>
    guard(
      store,
      "createVolume",
      [createOptions],
      Effect.gen(function* () {
        const nowNanos = yield* Clock.currentTimeNanos
        const driver = createOptions.driver ?? "local"
        const name = createOptions.name ?? makeId("volume", store.counters.volume + 1)
        if (!validName.test(name)) {
          return yield* Effect.fail(
            engineError(
              "createVolume",
              400,
              `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`
            )
          )
        }
        if (driver !== "local") {
          return yield* Effect.fail(
            engineError(
              "createVolume",
              404,
              `create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`
            )
          )
        }
        // An existing name is handed back as it is (its labels kept), and `create` emitted again.
        const existing = store.volumes.get(name)
        const volume: VolumeRecord = existing ?? {
          name,
          driver,
          labels: createOptions.labels ?? {},
          options: createOptions.driverOptions ?? {},
          createdMs: nanosToMillis(nowNanos),
          files: new Map()
        }
        if (existing === undefined) {
          store.counters.volume += 1
          store.volumes.set(name, volume)
        }
        emit(store, nowNanos, "volume", "create", name, { driver })
        return volumeInspect(volume)
      })
    )

  const inspectVolume: DockerEngineShape["inspectVolume"] = (name) =>
    guard(store, "inspectVolume", [name], Effect.map(findVolume(store, "inspectVolume", name), volumeInspect))

  const listVolumes: DockerEngineShape["listVolumes"] = (listOptions) =>
    guard(
      store,
      "listVolumes",
      [listOptions],
      Effect.sync(() =>
        [...store.volumes.values()]
          .filter((volume) => matchesLabels(volume.labels, listOptions?.labels))
          .map(volumeInspect)
      )
    )

  const removeVolume: DockerEngineShape["removeVolume"] = (name, removeOptions) =>
    guard(
      store,
      "removeVolume",
      [name, removeOptions],
      Effect.gen(function* () {
        const volume = store.volumes.get(name)
        if (volume === undefined) {
          if (removeOptions?.force === true) return
          return yield* findVolume(store, "removeVolume", name).pipe(Effect.asVoid)
        }
        const users = volumeUsers(store, name)
        if (users.length > 0) {
          return yield* Effect.fail(
            engineError("removeVolume", 409, `remove ${name}: volume is in use - [${users.join(", ")}]`)
          )
        }
        store.volumes.delete(name)
        emit(store, yield* Clock.currentTimeNanos, "volume", "destroy", name, { driver: volume.driver })
      })
    )

  return { createVolume, inspectVolume, listVolumes, removeVolume }
}
