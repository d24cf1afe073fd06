/**
 * Image references as the engine reads them: `name[:tag]` and `name@digest`, with or without a
 * registry (`localhost:5000/app`, whose port is not a tag). One place for splitting a reference
 * into the `fromImage` and `tag` a pull sends, for Docker Hub's normal form, and for the
 * repository path a registry serves.
 *
 * @internal
 */

/** A reference split for `POST /images/create`: `tag` is a tag or, after `@`, a digest. */
export interface ImageReference {
  readonly name: string
  readonly tag: string
}

/**
 * `name[:tag]` or `name@digest` → its name and tag (`latest` when none is given). A colon before
 * the last `/` belongs to a registry's port, not to a tag.
 *
 * @example
 * ```ts
 * splitReference("localhost:5000/app") // { name: "localhost:5000/app", tag: "latest" }
 * splitReference("busybox@sha256:0123") // { name: "busybox", tag: "sha256:0123" }
 * ```
 */
export const splitReference = (reference: string): ImageReference => {
  const at = reference.indexOf("@")
  if (at !== -1) return { name: reference.slice(0, at), tag: reference.slice(at + 1) }
  const colon = reference.lastIndexOf(":")
  if (colon > reference.lastIndexOf("/")) {
    return { name: reference.slice(0, colon), tag: reference.slice(colon + 1) }
  }
  return { name: reference, tag: "latest" }
}

/**
 * Docker Hub's normal form, as the engine stores tags: `busybox` → `busybox:latest`,
 * `docker.io/library/busybox` → `busybox:latest`; references with a digest are kept as given.
 */
export const normalizeReference = (reference: string): string => {
  let ref = reference.trim()
  if (ref.startsWith("docker.io/library/")) ref = ref.slice("docker.io/library/".length)
  else if (ref.startsWith("docker.io/")) ref = ref.slice("docker.io/".length)
  if (ref.includes("@")) return ref
  const lastSlash = ref.lastIndexOf("/")
  const lastPart = ref.slice(lastSlash + 1)
  return lastPart.includes(":") ? ref : `${ref}:latest`
}

/**
 * The repository path a registry serves a name under, as `docker pull` prints it
 * (`Pulling from …`): the registry host removed, Docker Hub's official images under `library/`.
 *
 * @example
 * ```ts
 * repositoryPath("127.0.0.1:5000/effect-docker/contract") // "effect-docker/contract"
 * repositoryPath("busybox") // "library/busybox"
 * ```
 */
export const repositoryPath = (name: string): string => {
  const parts = name.split("/")
  const first = parts[0] ?? ""
  const hasRegistry =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
  if (hasRegistry) return parts.slice(1).join("/")
  return name.includes("/") ? name : `library/${name}`
}
