/**
 * The engine's model of the images API group: pull progress, image inspect, registry
 * credentials and the options of pull and remove. Re-exported by `DockerModel`; no service
 * and no I/O here.
 */
import { Schema } from "effect"
import { Labels } from "./system.js"

/**
 * One line of image pull progress. Lines without an `id` are about the whole image;
 * lines with one are about a layer (`Pulling fs layer`, `Downloading`, `Download complete`,
 * `Extracting`, `Pull complete`, `Already exists`). A line that carries an error fails the
 * pull stream instead.
 *
 * @category models
 * @since 0.1.0
 */
export const PullProgress = Schema.Struct({
  status: Schema.String,
  /** The layer id, when the line is about a layer. */
  id: Schema.optionalKey(Schema.String),
  current: Schema.optionalKey(Schema.Number),
  total: Schema.optionalKey(Schema.Number)
})
/**
 * @category models
 * @since 0.1.0
 */
export type PullProgress = typeof PullProgress.Type

/**
 * An image as `inspect` shows it.
 *
 * @category models
 * @since 0.1.0
 */
export const ImageInspect = Schema.Struct({
  id: Schema.String,
  repoTags: Schema.Array(Schema.String),
  size: Schema.Number,
  cmd: Schema.optionalKey(Schema.Array(Schema.String)),
  entrypoint: Schema.optionalKey(Schema.Array(Schema.String)),
  /** The image's own healthcheck test, when it has one. */
  healthcheck: Schema.optionalKey(Schema.Array(Schema.String)),
  labels: Labels
})
/**
 * @category models
 * @since 0.1.0
 */
export type ImageInspect = typeof ImageInspect.Type

/**
 * Options for `removeImage`.
 *
 * @category options
 * @since 0.1.0
 */
export interface RemoveImageOptions {
  /** Remove it even when tagged more than once or used by a stopped container. */
  readonly force?: boolean
}

/**
 * Credentials for a private registry: a user name and password (or access token), or the
 * identity token a `docker login` with an OAuth registry stores. Secrets are `Redacted`: they
 * are revealed only into the engine's `X-Registry-Auth` header, never into logs, errors,
 * spans or states. `serverAddress` defaults to the registry of the image reference
 * (`https://index.docker.io/v1/` for Docker Hub).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { DockerModel } from "effect-docker"
 *
 * const auth: DockerModel.RegistryAuth = { username: "ci", password: Redacted.make(process.env.TOKEN ?? "") }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export const RegistryAuth = Schema.Union([
  Schema.Struct({
    username: Schema.String,
    password: Schema.Redacted(Schema.String),
    serverAddress: Schema.optionalKey(Schema.String)
  }),
  Schema.Struct({
    identityToken: Schema.Redacted(Schema.String),
    serverAddress: Schema.optionalKey(Schema.String)
  })
])
/**
 * @category options
 * @since 0.1.0
 */
export type RegistryAuth = typeof RegistryAuth.Type

/**
 * Options for `pullImage`.
 *
 * @category options
 * @since 0.1.0
 */
export interface PullImageOptions {
  /**
   * The registry's credentials. Without them, the live engine uses those the Docker CLI's
   * config holds for the image's registry (`$DOCKER_CONFIG/config.json` or
   * `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`), if any.
   */
  readonly auth?: RegistryAuth | undefined
}
