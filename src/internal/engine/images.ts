/**
 * The Engine API's image endpoints (`/images/...`): pull with streamed progress, inspect and
 * remove, and how an image reference becomes a path or a pull's `fromImage` and `tag`.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Image
 * @internal
 */
import { Effect, Stream } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { PullImageOptions, RemoveImageOptions } from "../../DockerModel.js"
import { splitReference } from "../imageReference.js"
import * as Ndjson from "../ndjson.js"
import * as RegistryAuth from "../registryAuth.js"
import * as Wire from "../wire.js"
import type { Transport } from "./transport.js"

/**
 * The image operations of the engine.
 *
 * @internal
 */
export type Images = Pick<DockerEngineShape, "pullImage" | "inspectImage" | "removeImage">

// Image references keep their slashes: the engine routes `/images/{name:.*}/json`.
const imagePath = (reference: string): string => reference.split("/").map(encodeURIComponent).join("/")

/** `name[:tag]` or `name@digest` → the `fromImage` and `tag` of `POST /images/create`. */
const createQuery = (reference: string): { readonly fromImage: string; readonly tag: string } => {
  const { name, tag } = splitReference(reference)
  return { fromImage: name, tag }
}

/**
 * The image endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ call, decoded, bytes }: Transport): Images => {
  const pullImage = (reference: string, options?: PullImageOptions) =>
    Stream.unwrap(
      Effect.map(RegistryAuth.resolve(reference, options?.auth), (resolved) =>
        bytes("pullImage", {
          method: "POST",
          path: "/images/create",
          query: createQuery(reference),
          ...(resolved.credential !== undefined
            ? { registryAuth: RegistryAuth.header(resolved.credential.auth, resolved.host) }
            : {})
        }).pipe(
          Ndjson.decode("pullImage", Wire.WirePullLine),
          Stream.mapEffect((line) => {
            const error = Wire.pullLineError(line)
            return error === undefined
              ? Effect.succeed(Wire.toPullProgress(line))
              : Effect.fail(
                  new DockerError({ reason: "ServerError", operation: "pullImage", message: error })
                )
          }),
          Stream.mapError((error) => {
            const named = error.message.includes(reference)
              ? error
              : new DockerError(
                  { ...error, message: `${reference}: ${error.message}` },
                  { cause: error.cause }
                )
            return RegistryAuth.pullFailure(reference, resolved, named)
          }),
          Stream.withSpan("DockerEngine.pullImage", {
            attributes: {
              reference,
              registry: resolved.host,
              credentials: resolved.credential === undefined ? "none" : "sent"
            }
          })
        )
      )
    )

  const inspectImage = Effect.fn("DockerEngine.inspectImage")(function* (reference: string) {
    yield* Effect.annotateCurrentSpan({ reference })
    return yield* decoded(
      "inspectImage",
      { method: "GET", path: `/images/${imagePath(reference)}/json` },
      Wire.WireImageInspect,
      Wire.toImageInspect
    )
  })

  const removeImage = Effect.fn("DockerEngine.removeImage")(function* (
    reference: string,
    remove?: RemoveImageOptions
  ) {
    yield* Effect.annotateCurrentSpan({ reference })
    yield* call("removeImage", {
      method: "DELETE",
      path: `/images/${imagePath(reference)}`,
      query: { force: remove?.force }
    })
  })

  return { pullImage, inspectImage, removeImage }
}
