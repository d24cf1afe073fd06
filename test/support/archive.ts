/**
 * Reads a file back out of a container on the real engine (`GET /containers/{id}/archive`),
 * so tests can check what a copy put there: its bytes and its mode. Test-only: the library
 * itself never reads files out of a container.
 */
import type { Readable } from "node:stream"
import Dockerode from "dockerode"
import { Effect } from "effect"
import * as TarStream from "tar-stream"

/** A file read back from a container. */
export interface ReadBack {
  readonly content: Uint8Array
  /** Permission bits. */
  readonly mode: number
}

/** The file at `path` in container `id`, or undefined when the engine has none there. */
export const readFileFromContainer = (id: string, path: string): Effect.Effect<ReadBack | undefined, Error> =>
  Effect.tryPromise({
    try: async () => {
      // dockerode reads DOCKER_HOST (or the local socket) as the suites' engine does.
      const docker = new Dockerode()
      let archive: Readable
      try {
        archive = (await docker.getContainer(id).getArchive({ path })) as unknown as Readable
      } catch (cause) {
        if ((cause as { readonly statusCode?: number }).statusCode === 404) return undefined
        throw cause
      }
      const extract = TarStream.extract()
      archive.pipe(extract)
      let found: ReadBack | undefined
      for await (const entry of extract) {
        const chunks: Array<Buffer> = []
        for await (const chunk of entry) chunks.push(chunk as Buffer)
        if (found === undefined && entry.header.type === "file") {
          found = { content: new Uint8Array(Buffer.concat(chunks)), mode: (entry.header.mode ?? 0) & 0o7777 }
        }
      }
      return found
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })
