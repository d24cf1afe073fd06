/**
 * Images in the in-memory engine: local images, the simulated registry, and pulls (progress
 * lines per layer as `docker pull` prints them, scripted delays and failures, the image landing
 * with its `pull` event), plus `inspectImage` and `removeImage`.
 *
 * @internal
 */
import { Clock, Effect, Redacted, Stream } from "effect"
import type { DockerEngineShape, PullImageOptions, PullProgress, RegistryAuth } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { ImageDefinition, MemoryEngineShape } from "../../MemoryEngine.js"
import { normalizeReference, repositoryPath, splitReference } from "../imageReference.js"
import * as Registry from "../registryAuth.js"
import { engineError, makeId, shortId } from "./docker.js"
import { emit } from "./events.js"
import { counted, guard, guardStream } from "./faults.js"
import { imageInspect } from "./inspect.js"
import { findImage, type ImageRecord, millis, nanosToMillis, type Store, toDefinition } from "./store.js"

/** Makes an image present locally (an image already present stays as it is). */
export const addImageSync = (store: Store, definition: ImageDefinition, nowMs: number): ImageRecord => {
  const reference = normalizeReference(definition.reference)
  const existing = store.images.get(reference)
  if (existing !== undefined) return existing
  store.counters.image += 1
  const layerSizes = definition.layers ?? [2_000_000]
  const record: ImageRecord = {
    id: `sha256:${makeId("image", store.counters.image)}`,
    reference,
    definition,
    layerSizes,
    layerIds: layerSizes.map((_, i) => shortId(makeId(`layer/${reference}`, i))),
    createdMs: nowMs
  }
  store.images.set(reference, record)
  if (definition.script !== undefined) store.imageScripts.set(reference, definition.script)
  return record
}

/** The control side's `addRegistryImage`. */
export const addRegistryImage =
  (store: Store): MemoryEngineShape["addRegistryImage"] =>
  (image) =>
    Effect.sync(() => {
      const definition = toDefinition(image)
      store.registry.set(normalizeReference(definition.reference), definition)
      if (definition.script !== undefined)
        store.imageScripts.set(normalizeReference(definition.reference), definition.script)
    })

type PullStep =
  | { readonly _tag: "Line"; readonly line: PullProgress; readonly delayMs: number }
  | { readonly _tag: "Fail"; readonly message: string }
  | { readonly _tag: "Land" }

/** What a pull of `reference` prints and does, step by step, as the engine reports it. */
const pullSteps = (store: Store, definition: ImageDefinition, reference: string): ReadonlyArray<PullStep> => {
  const { name, tag } = splitReference(normalizeReference(reference))
  const path = repositoryPath(name)
  const pull = definition.pull ?? {}
  const delayMs = pull.stepDelay !== undefined ? millis(pull.stepDelay) : 0
  const steps = Math.max(1, pull.steps ?? 3)
  const digest = `sha256:${makeId("digest", reference.length)}`
  const steps0: Array<PullStep> = [
    { _tag: "Line", line: { status: `Pulling from ${path}`, id: tag }, delayMs: 0 }
  ]
  if (store.images.has(reference)) {
    return [
      ...steps0,
      { _tag: "Line", line: { status: `Digest: ${digest}` }, delayMs: 0 },
      { _tag: "Line", line: { status: `Status: Image is up to date for ${reference}` }, delayMs: 0 }
    ]
  }
  const sizes = definition.layers ?? [2_000_000]
  const ids = sizes.map((_, i) => shortId(makeId(`layer/${reference}`, i)))
  const lines: Array<PullStep> = [...steps0]
  for (const id of ids) lines.push({ _tag: "Line", line: { status: "Pulling fs layer", id }, delayMs: 0 })
  for (const [i, id] of ids.entries()) {
    if (pull.fail !== undefined && (pull.fail.afterLayers ?? 0) === i) {
      lines.push({ _tag: "Fail", message: pull.fail.message })
      return lines
    }
    const total = sizes[i] ?? 0
    for (let k = 1; k <= steps; k++) {
      lines.push({
        _tag: "Line",
        line: { status: "Downloading", id, current: Math.round((total * k) / steps), total },
        delayMs
      })
    }
    lines.push({ _tag: "Line", line: { status: "Verifying Checksum", id }, delayMs: 0 })
    lines.push({ _tag: "Line", line: { status: "Download complete", id }, delayMs: 0 })
    for (let k = 1; k <= steps; k++) {
      lines.push({
        _tag: "Line",
        line: { status: "Extracting", id, current: Math.round((total * k) / steps), total },
        delayMs
      })
    }
    lines.push({ _tag: "Line", line: { status: "Pull complete", id }, delayMs: 0 })
  }
  if (pull.fail !== undefined) {
    lines.push({ _tag: "Fail", message: pull.fail.message })
    return lines
  }
  lines.push({ _tag: "Land" })
  lines.push({ _tag: "Line", line: { status: `Digest: ${digest}` }, delayMs: 0 })
  lines.push({
    _tag: "Line",
    line: { status: `Status: Downloaded newer image for ${reference}` },
    delayMs: 0
  })
  return lines
}

/**
 * What dockerd 20.10 says (with a 500) when a registry with basic auth refuses a pull, or
 * `undefined` when the registry lets it through.
 */
const authRefusal = (
  definition: ImageDefinition,
  reference: string,
  auth: RegistryAuth | undefined
): string | undefined => {
  const wanted = definition.auth
  if (wanted === undefined) return undefined
  if (auth === undefined) {
    const { name, tag } = splitReference(reference)
    const host = Registry.registryHost(reference)
    return `Head "https://${host === "docker.io" ? "registry-1.docker.io" : host}/v2/${repositoryPath(name)}/manifests/${tag}": no basic auth credentials`
  }
  const accepted =
    "username" in auth &&
    auth.username === wanted.username &&
    Redacted.value(auth.password) === wanted.password
  return accepted ? undefined : "unauthorized: authentication required"
}

/** The engine's image operations. */
export const imageOperations = (
  store: Store
): Pick<DockerEngineShape, "pullImage" | "inspectImage" | "removeImage"> => ({
  pullImage: (reference: string, options?: PullImageOptions) =>
    guardStream(
      store,
      "pullImage",
      options === undefined ? [reference] : [reference, options],
      Stream.unwrap(
        Effect.sync(() => {
          const normalized = normalizeReference(reference)
          const definition = store.registry.get(normalized)
          if (definition === undefined) {
            return Stream.fail(
              engineError(
                "pullImage",
                404,
                `manifest for ${reference} not found: manifest unknown: manifest unknown`
              )
            )
          }
          const refused = authRefusal(definition, normalized, options?.auth)
          if (refused !== undefined) {
            return Stream.fail(
              Registry.pullFailure(
                reference,
                Registry.explicitOnly(reference, options?.auth),
                engineError("pullImage", 500, refused)
              )
            )
          }
          return counted(
            store,
            "pulls",
            Stream.fromIterable(pullSteps(store, definition, normalized)).pipe(
              Stream.mapEffect((step) =>
                Effect.gen(function* () {
                  if (step._tag === "Fail") {
                    return yield* Effect.fail(
                      new DockerError({
                        reason: "ServerError",
                        operation: "pullImage",
                        message: step.message.includes(reference)
                          ? step.message
                          : `${reference}: ${step.message}`
                      })
                    )
                  }
                  if (step._tag === "Land") {
                    const nowNanos = yield* Clock.currentTimeNanos
                    addImageSync(store, { ...definition, reference: normalized }, nanosToMillis(nowNanos))
                    emit(store, nowNanos, "image", "pull", normalized, { name: normalized })
                    return undefined
                  }
                  if (step.delayMs > 0) yield* Effect.sleep(step.delayMs)
                  return step.line
                })
              ),
              Stream.filter((line): line is PullProgress => line !== undefined)
            )
          )
        })
      )
    ),
  inspectImage: (reference: string) =>
    guard(
      store,
      "inspectImage",
      [reference],
      Effect.map(findImage(store, "inspectImage", reference), imageInspect)
    ),
  removeImage: (reference: string, removeOptions?: { readonly force?: boolean }) =>
    guard(
      store,
      "removeImage",
      [reference, removeOptions],
      Effect.gen(function* () {
        const image = yield* findImage(store, "removeImage", reference)
        const user = [...store.containers.values()].find((c) => c.imageId === image.id)
        if (user !== undefined && removeOptions?.force !== true) {
          return yield* Effect.fail(
            engineError(
              "removeImage",
              409,
              `conflict: unable to remove repository reference "${reference}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(image.id)}`
            )
          )
        }
        const nowNanos = yield* Clock.currentTimeNanos
        store.images.delete(image.reference)
        emit(store, nowNanos, "image", "untag", image.id, { name: image.id })
        emit(store, nowNanos, "image", "delete", image.id, { name: image.id })
      })
    )
})
