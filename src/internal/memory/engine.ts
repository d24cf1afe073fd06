/**
 * The in-memory engine assembled: a store, the predefined networks, the `DockerEngine`
 * operations of each room (containers, exec, logs, stats, archives, images, networks,
 * volumes, events, swarm) and the control side, seeded from the options. `src/MemoryEngine.ts` loads this module lazily,
 * so importing `effect-docker` for production use does not load the in-memory engine.
 *
 * @internal
 */
import { Clock, Effect, FiberMap } from "effect"
import type { DockerEngineShape, Version } from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import type { MemoryEngineShape, Options } from "../../MemoryEngine.js"
import { archiveOperations } from "./archives.js"
import { containerOperations } from "./containers.js"
import { makeControl } from "./control.js"
import { events } from "./events.js"
import { execOperations } from "./exec.js"
import { guard } from "./faults.js"
import { addImageSync, imageOperations } from "./images.js"
import { logs } from "./logs.js"
import { addPredefinedNetworks, networkOperations } from "./networks.js"
import { statsOperations } from "./stats.js"
import { makeStore, toDefinition } from "./store.js"
import { initSwarm, swarmControl, swarmOperations } from "./swarm.js"
import { volumeOperations } from "./volumes.js"

/** What `version` reports: the engine this project's CI runs. */
const memoryVersion: Version = {
  version: "20.10.24",
  apiVersion: "1.41",
  minApiVersion: "1.12",
  os: "linux",
  arch: "amd64",
  kernelVersion: "memory"
}

export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const processes = yield* FiberMap.make<string>()
    const store = makeStore(options, scope, processes)
    addPredefinedNetworks(store)

    const version: Effect.Effect<Version, DockerError> = guard(
      store,
      "version",
      [],
      Effect.succeed(memoryVersion)
    )

    const engine: DockerEngineShape = {
      ping: guard(store, "ping", [], Effect.void),
      version,
      ...containerOperations(store),
      ...execOperations(store),
      ...statsOperations(store),
      logs: logs(store),
      ...archiveOperations(store),
      ...imageOperations(store),
      ...networkOperations(store),
      ...volumeOperations(store),
      events: events(store),
      ...swarmOperations(store)
    }
    const control: MemoryEngineShape = { ...makeControl(store), ...swarmControl(store) }

    const nowMs = yield* Clock.currentTimeMillis
    for (const image of options.images ?? []) addImageSync(store, toDefinition(image), nowMs)
    for (const image of options.registry ?? []) yield* control.addRegistryImage(image)
    for (const [name, script] of Object.entries(options.containers ?? {}))
      store.containerScripts.set(name, script)
    yield* initSwarm(store, options.swarm)

    return { engine, control }
  })
