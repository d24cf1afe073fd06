/**
 * A registry (Distribution API v2, the few routes a pull uses) on 127.0.0.1 that serves one
 * image whose second layer is corrupt: its bytes do not match its digest. The engine downloads
 * the first layer, finds the second one wrong and fails the pull mid-stream with a
 * verification error, which it does not retry. 127.0.0.0/8 registries are insecure (plain
 * HTTP) for dockerd by default.
 */
import { createHash } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { gzipSync } from "node:zlib"
import { Effect, type Scope } from "effect"
import * as TarStream from "tar-stream"

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

const tarOf = (name: string, content: string): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const pack = TarStream.pack()
    const chunks: Array<Buffer> = []
    pack.on("data", (chunk: unknown) => {
      if (Buffer.isBuffer(chunk)) chunks.push(chunk)
    })
    pack.on("end", () => resolve(Buffer.concat(chunks)))
    pack.on("error", reject)
    pack.entry({ name, mode: 0o644 }, content)
    pack.finalize()
  })

/** The message the engine fails the pull with (a prefix: the digest follows). */
export const brokenLayerMessage = "filesystem layer verification failed"

/**
 * Serves `<host>/effect-docker/broken:latest` while the scope is open; gives its reference.
 */
export const brokenRegistry: Effect.Effect<string, Error, Scope.Scope> = Effect.gen(function* () {
  const firstTar = yield* Effect.promise(() => tarOf("first.txt", "the first layer\n".repeat(4096)))
  const secondTar = yield* Effect.promise(() => tarOf("second.txt", "the second layer\n".repeat(4096)))
  const first = gzipSync(firstTar)
  const second = gzipSync(secondTar)
  // Served in place of `second`: same size, other bytes.
  const corrupt = Buffer.from(second.map((byte, index) => (index > 64 ? byte ^ 0xff : byte)))
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["true"] },
      rootfs: { type: "layers", diff_ids: [sha256(firstTar), sha256(secondTar)] }
    })
  )
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        size: config.length,
        digest: sha256(config)
      },
      layers: [first, second].map((layer) => ({
        mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
        size: layer.length,
        digest: sha256(layer)
      }))
    })
  )
  const blobs = new Map<string, Buffer>([
    [sha256(config), config],
    [sha256(first), first],
    [sha256(second), corrupt]
  ])
  const repository = "effect-docker/broken"
  const server = Http.createServer((request, response) => {
    const url = request.url ?? ""
    const send = (status: number, body: Buffer, type: string, digest?: string) => {
      response.writeHead(status, {
        "Content-Type": type,
        "Content-Length": body.length,
        "Docker-Distribution-Api-Version": "registry/2.0",
        ...(digest === undefined ? {} : { "Docker-Content-Digest": digest })
      })
      response.end(request.method === "HEAD" ? undefined : body)
    }
    if (url === "/v2/" || url === "/v2") return send(200, Buffer.from("{}"), "application/json")
    if (
      url === `/v2/${repository}/manifests/latest` ||
      url === `/v2/${repository}/manifests/${sha256(manifest)}`
    ) {
      return send(200, manifest, "application/vnd.docker.distribution.manifest.v2+json", sha256(manifest))
    }
    const blob = url.startsWith(`/v2/${repository}/blobs/`)
      ? blobs.get(url.slice(url.lastIndexOf("/") + 1))
      : undefined
    if (blob !== undefined) return send(200, blob, "application/octet-stream")
    return send(
      404,
      Buffer.from(JSON.stringify({ errors: [{ code: "NOT_FOUND", message: url }] })),
      "application/json"
    )
  })
  const port = yield* Effect.acquireRelease(
    Effect.callback<number, Error>((resume) => {
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  return `127.0.0.1:${port}/${repository}:latest`
})
