/**
 * Files to copy into a container, as a tar archive built with tar-stream and streamed:
 * entries are written one after another while the archive is being uploaded, and a
 * streamed entry's bytes go through with backpressure, never collected first.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type * as TarStream from "tar-stream"
import { DockerError } from "../DockerError.js"
import type { ContainerFile } from "../DockerModel.js"
import { type ContainerPathIssue, containerPathIssue } from "./containerPath.js"

const PROBLEM: Readonly<Record<ContainerPathIssue, string>> = {
  nul: "contains a NUL byte",
  relative: "is not absolute",
  parent: "contains `..`",
  directory: "names a directory, not a file",
  notNormalised: "is not normalised"
}

/** Why `path` cannot be a file's place in a container, or `undefined` when it can. */
export const invalidPath = (path: string): string | undefined => {
  const issue = containerPathIssue(path)
  return issue === undefined ? undefined : PROBLEM[issue]
}

/** A `BadRequest` for the first file whose path is invalid, before anything is sent. */
export const validateFiles = (
  operation: string,
  files: ReadonlyArray<ContainerFile>
): Effect.Effect<void, DockerError> => {
  for (const file of files) {
    const problem = invalidPath(file.path)
    if (problem !== undefined) {
      return Effect.fail(
        new DockerError({
          reason: "BadRequest",
          operation,
          message: `invalid file path ${JSON.stringify(file.path)}: it ${problem}`
        })
      )
    }
  }
  return Effect.void
}

const tarError = (operation: string, path: string, cause: unknown): DockerError =>
  new DockerError({
    reason: "BadRequest",
    operation,
    message: `could not add ${path} to the archive: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/** What both Node's and streamx's (tar-stream's) writables offer. */
export interface ByteSink {
  write(chunk: Uint8Array): boolean
  once(event: "drain", listener: () => void): unknown
}

/** Writes `chunk`, waiting for `drain` when the writable asks for it. */
export const write = (writable: ByteSink, chunk: Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (writable.write(chunk)) resume(Effect.void)
    else writable.once("drain", () => resume(Effect.void))
  })

const addEntry = (
  operation: string,
  pack: TarStream.Pack,
  file: ContainerFile
): Effect.Effect<void, DockerError> =>
  Effect.suspend(() => {
    const name = file.path.slice(1)
    const mode = file.mode ?? 0o644
    const mtime = new Date()
    if ("content" in file) {
      const content = typeof file.content === "string" ? Buffer.from(file.content) : Buffer.from(file.content)
      return Effect.callback<void, DockerError>((resume) => {
        pack.entry({ name, mode, mtime, type: "file", size: content.length }, content, (error) =>
          resume(error ? Effect.fail(tarError(operation, file.path, error)) : Effect.void)
        )
      })
    }
    let entry: ReturnType<TarStream.Pack["entry"]> | undefined
    const finished = new Promise<void>((resolve, reject) => {
      entry = pack.entry({ name, mode, mtime, type: "file", size: file.size }, (error) =>
        error ? reject(error) : resolve()
      )
    })
    // Awaited below; this only keeps an abandoned entry (interruption) from an unhandled rejection.
    finished.catch(() => undefined)
    const writable = entry!
    return file.stream.pipe(
      Stream.runForEach((chunk) => write(writable, chunk)),
      Effect.andThen(Effect.sync(() => writable.end(null))),
      Effect.andThen(
        Effect.tryPromise({ try: () => finished, catch: (cause) => tarError(operation, file.path, cause) })
      ),
      Effect.onError(() => Effect.sync(() => writable.destroy()))
    )
  })

/** Adds every file to `pack`, in order, then finalizes it. */
export const writeEntries = (
  operation: string,
  pack: TarStream.Pack,
  files: ReadonlyArray<ContainerFile>
): Effect.Effect<void, DockerError> =>
  Effect.forEach(files, (file) => addEntry(operation, pack, file), { discard: true }).pipe(
    Effect.andThen(Effect.sync(() => pack.finalize()))
  )
