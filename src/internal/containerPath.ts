/**
 * The one check of where a file copied into a container may go: an absolute, normalised path
 * naming a file, without `..` and without NUL. Each caller (the spec's validation, the tar
 * writer, the fleet file reader) words the problem for its own reader.
 *
 * @internal
 */
import * as Path from "node:path"

/**
 * What is wrong with a container file path, checked in this order: `nul` (contains NUL),
 * `relative` (not absolute), `parent` (a `..` segment), `directory` (`/` or a trailing `/`),
 * `notNormalised` (`//` or a `.` segment).
 */
export type ContainerPathIssue = "nul" | "relative" | "parent" | "directory" | "notNormalised"

/** The first problem of `path` as a file's place in a container, or `undefined` when it can be one. */
export const containerPathIssue = (path: string): ContainerPathIssue | undefined => {
  if (path.includes("\0")) return "nul"
  if (!path.startsWith("/")) return "relative"
  if (path.split("/").includes("..")) return "parent"
  if (path.endsWith("/")) return "directory"
  if (Path.posix.normalize(path) !== path) return "notNormalised"
  return undefined
}
