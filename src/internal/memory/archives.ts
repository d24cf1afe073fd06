/**
 * Files in the in-memory engine's containers: tar archives extracted into a container's file
 * tree as the engine extracts them (`putArchive`), and `copyFiles` with its path and size
 * checks, packed with tar-stream as the live engine packs them.
 *
 * @internal
 */
import * as Posix from "node:path/posix"
import { Effect, Stream } from "effect"
import * as Tar from "tar-stream"
import type { ContainerFile, DockerEngineShape } from "../../DockerEngine.js"
import { engineError, invalidPathReason } from "./docker.js"
import { guard } from "./faults.js"
import { isDirectory, writeEntrySync } from "./reach.js"
import { type ContainerRecord, findContainer, type Store } from "./store.js"

export const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = chunks.reduce((n, c) => n + c.length, 0)
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Parses a tar archive with tar-stream, as the engine extracts it. */
const parseTar = (operation: string, bytes: Uint8Array) =>
  Effect.tryPromise({
    try: async () => {
      const extract = Tar.extract()
      const entries: Array<{ readonly header: Tar.Header; readonly content: Uint8Array }> = []
      const reading = (async () => {
        for await (const entry of extract) {
          const chunks: Array<Uint8Array> = []
          for await (const chunk of entry) chunks.push(chunk as Uint8Array)
          entries.push({ header: entry.header, content: concatBytes(chunks) })
        }
      })()
      extract.end(bytes)
      await reading
      return entries
    },
    catch: (cause) => engineError(operation, 400, `Error processing tar file: ${String(cause)}`)
  })

/** Packs files with tar-stream, as the live engine's `copyFiles` does. */
const packTar = (
  files: ReadonlyArray<{ readonly path: string; readonly content: Uint8Array; readonly mode: number }>
) =>
  Effect.promise(async () => {
    const pack = Tar.pack()
    for (const file of files) {
      pack.entry({ name: file.path.slice(1), mode: file.mode, size: file.content.length }, file.content)
    }
    pack.finalize()
    const chunks: Array<Uint8Array> = []
    for await (const chunk of pack) chunks.push(chunk as Uint8Array)
    return concatBytes(chunks)
  })

/** Extracts an archive under `path`, creating missing parent directories. */
const extractInto = (operation: string, c: ContainerRecord, path: string, bytes: Uint8Array) =>
  Effect.gen(function* () {
    const entries = yield* parseTar(operation, bytes)
    for (const { header, content } of entries) {
      const target = Posix.join(path, header.name).replace(/\/+$/, "") || "/"
      const type = header.type === "directory" ? "directory" : header.type === "symlink" ? "symlink" : "file"
      // Through the mounts, as the engine extracts: into a volume, a host path, or the container's own tree.
      const refused = writeEntrySync(c, target, {
        type,
        mode: header.mode ?? 0o644,
        content: type === "symlink" ? new TextEncoder().encode(header.linkname ?? "") : content
      })
      if (refused !== undefined) return yield* Effect.fail(engineError(operation, 400, refused))
    }
  })

/** The engine's `putArchive` and `copyFiles`. */
export const archiveOperations = (store: Store): Pick<DockerEngineShape, "putArchive" | "copyFiles"> => ({
  putArchive: <E>(ref: string, path: string, tar: Stream.Stream<Uint8Array, E>) =>
    guard(
      store,
      "putArchive",
      [ref, path],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "putArchive", ref)
        const normalized = Posix.normalize(path).replace(/(.)\/+$/, "$1")
        if (!isDirectory(c, normalized)) {
          return yield* Effect.fail(
            engineError("putArchive", 404, `Could not find the file ${path} in container ${ref}`)
          )
        }
        const chunks = yield* Stream.runCollect(tar)
        yield* extractInto("putArchive", c, normalized, concatBytes(chunks))
      })
    ),
  copyFiles: (ref: string, files: ReadonlyArray<ContainerFile>) =>
    guard(
      store,
      "copyFiles",
      [ref, files.map((f) => f.path)],
      Effect.gen(function* () {
        const c = yield* findContainer(store, "copyFiles", ref)
        const contents: Array<{ path: string; content: Uint8Array; mode: number }> = []
        for (const file of files) {
          const invalid = invalidPathReason(file.path)
          if (invalid !== undefined) {
            return yield* Effect.fail(
              engineError("copyFiles", 400, `invalid path ${JSON.stringify(file.path)}: ${invalid}`)
            )
          }
          const content =
            "content" in file
              ? typeof file.content === "string"
                ? new TextEncoder().encode(file.content)
                : file.content
              : concatBytes(yield* Stream.runCollect(file.stream))
          if ("size" in file && content.length !== file.size) {
            return yield* Effect.fail(
              engineError(
                "copyFiles",
                400,
                `${file.path}: ${content.length} bytes streamed, ${file.size} declared`
              )
            )
          }
          contents.push({ path: file.path, content, mode: file.mode ?? 0o644 })
        }
        yield* extractInto("copyFiles", c, "/", yield* packTar(contents))
      })
    )
})
