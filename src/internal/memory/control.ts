/**
 * The control side of the in-memory engine (`MemoryEngine`): adding images and scripts, fault
 * injection, pokes at running containers (exit, health, output) and the read-outs tests assert
 * on (containers, networks, images, volumes, files, output, events, calls, open streams).
 *
 * @internal
 */
import { Clock, Effect, FiberMap } from "effect"
import type { ContainerFileEntry, MemoryEngineShape, ScriptInput, ScriptTarget } from "../../MemoryEngine.js"
import { normalizeReference } from "../imageReference.js"
import { dropEvents } from "./events.js"
import { faultControl } from "./faults.js"
import { addImageSync, addRegistryImage } from "./images.js"
import { containerInspect, imageInspect, networkInspect } from "./inspect.js"
import { writeLogSync } from "./logs.js"
import { exitSync, setHealthSync } from "./processes.js"
import { readFileSync } from "./reach.js"
import { defaultDirectories, findContainer, runningContainer, type Store, toDefinition } from "./store.js"
import { volumeInspect } from "./volumes.js"

export const makeControl = (
  store: Store
): Omit<MemoryEngineShape, "killNode" | "reviveNode" | "setNodeAvailability"> => ({
  addImage: (image) =>
    Effect.map(Clock.currentTimeMillis, (nowMs) => {
      addImageSync(store, toDefinition(image), nowMs)
    }),
  addRegistryImage: addRegistryImage(store),
  script: (target: ScriptTarget, script: ScriptInput) =>
    Effect.sync(() => {
      if ("container" in target) {
        store.containerScripts.set(target.container, script)
        store.runCounts.delete(`container:${target.container}`)
      } else {
        const reference = normalizeReference(target.image)
        store.imageScripts.set(reference, script)
        store.runCounts.delete(`image:${reference}`)
      }
    }),
  ...faultControl(store),
  dropEvents: dropEvents(store),
  exit: (ref, code) =>
    Effect.gen(function* () {
      const c = yield* runningContainer(store, "exit", ref)
      exitSync(store, c, code, yield* Clock.currentTimeNanos)
      yield* FiberMap.remove(store.processes, c.id)
    }),
  setHealth: (ref, status) =>
    Effect.gen(function* () {
      const c = yield* runningContainer(store, "setHealth", ref)
      setHealthSync(store, c, status, yield* Clock.currentTimeNanos)
    }),
  writeLog: (ref, text, stream) =>
    Effect.gen(function* () {
      const c = yield* runningContainer(store, "writeLog", ref)
      writeLogSync(c, stream ?? "stdout", text, yield* Clock.currentTimeMillis)
    }),
  containers: Effect.sync(() => [...store.containers.values()].map((c) => containerInspect(store, c))),
  networks: Effect.sync(() => [...store.networks.values()].map((n) => networkInspect(store, n, true))),
  images: Effect.sync(() => [...store.images.values()].map(imageInspect)),
  volumes: Effect.sync(() => [...store.volumes.values()].map(volumeInspect)),
  files: (ref) =>
    Effect.map(findContainer(store, "files", ref), (c) =>
      [...c.files.entries()]
        .filter(([path]) => !defaultDirectories.includes(path))
        .map(([path, file]): ContainerFileEntry => ({ path, ...file }))
    ),
  readFile: (ref, path) =>
    Effect.map(findContainer(store, "readFile", ref), (c) => {
      const file = readFileSync(c, path)
      return file === undefined || file.type !== "file" ? undefined : new TextDecoder().decode(file.content)
    }),
  output: (ref) =>
    Effect.map(findContainer(store, "output", ref), (c) =>
      c.logs.map((entry) => ({ stream: entry.stream, text: entry.text }))
    ),
  emittedEvents: Effect.sync(() => [...store.history]),
  calls: Effect.sync(() => [...store.calls]),
  clearCalls: Effect.sync(() => {
    store.calls.length = 0
  }),
  openStreams: Effect.sync(() => ({ ...store.open }))
})
