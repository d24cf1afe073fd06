/**
 * The one error the cgroup stats reader fails with: why the kernel's counters could not be
 * read for a container, so a caller can fall back to the engine's stats.
 *
 * @internal
 */
import { Schema } from "effect"

/**
 * Why the counters could not be read.
 *
 * - `NotLinux`: cgroups and `/proc` exist only on Linux (Docker Desktop's containers live in a VM).
 * - `NoPermission`: a file exists but this process may not read it (rootless, another user).
 * - `Gone`: the process or its cgroup no longer exists: the container exited. Streams end on it.
 * - `Missing`: the process is alive but a file it needs is not there (a controller not
 *   mounted, not enabled, or a kernel without the file).
 * - `Malformed`: a file's text is not what the kernel writes; `path` names it.
 * - `NotContainer`: the process's cgroup is not the container's (its id is not in the path):
 *   the pid belongs to another machine (a VM) or was reused.
 * - `Unreadable`: any other I/O error.
 *
 * @category errors
 * @internal
 */
export const CgroupUnavailableReason = Schema.Literals([
  "NotLinux",
  "NoPermission",
  "Gone",
  "Missing",
  "Malformed",
  "NotContainer",
  "Unreadable"
])

/** @internal */
export type CgroupUnavailableReason = typeof CgroupUnavailableReason.Type

/**
 * The container's stats cannot be read from its cgroup.
 *
 * @category errors
 * @internal
 */
export class CgroupUnavailable extends Schema.TaggedError<CgroupUnavailable>()("CgroupUnavailable", {
  reason: CgroupUnavailableReason,
  /** The file (as the machine names it, not under a test root) the reason is about. */
  path: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}
