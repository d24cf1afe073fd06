/**
 * Pulls from a private registry on the real engine: the registry on 127.0.0.1:5001 that
 * scripts/engine-env.sh runs with basic auth (htpasswd) holds one image. Without credentials
 * the pull is `Unauthorized` naming the registry; with them, given to the pull or found in a
 * Docker CLI config (`auths`, a `credsStore` helper), it succeeds. The Docker config read is a
 * temporary one (DOCKER_CONFIG through the ConfigProvider), never the user's.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { liveLayer, removeImageIfPresent } from "../support/live.js"

// The test values scripts/engine-env.sh gives the registry.
const registry = "127.0.0.1:5001"
const reference = `${registry}/effect-docker/private:latest`
const username = "effect-docker"
const password = "effect-docker-secret"

/** A DOCKER_CONFIG directory holding `config` as its config.json, removed with the scope. */
const dockerConfig = (config: unknown) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-docker-config-"))
      Fs.writeFileSync(Path.join(dir, "config.json"), JSON.stringify(config))
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Pulls `reference` with the Docker config in `dir` and returns the last progress line. */
const pull = (dir: string, options?: DockerEngine.PullImageOptions) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const lines = yield* Stream.runCollect(engine.pullImage(reference, options))
    return lines.at(-1)?.status ?? ""
  }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DOCKER_CONFIG: dir } }))))

/** Pulls, checks the image landed, and removes it so the next test pulls again. */
const pullsAndLands = (dir: string, options?: DockerEngine.PullImageOptions) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    yield* Effect.addFinalizer(() => removeImageIfPresent(reference).pipe(Effect.orDie))
    assert.strictEqual(yield* pull(dir, options), `Status: Downloaded newer image for ${reference}`)
    const image = yield* engine.inspectImage(reference)
    assert.include(image.repoTags, reference)
  })

layer(liveLayer, { excludeTestServices: true })("private registry (live engine)", (it) => {
  it.effect("a pull without credentials is Unauthorized, naming the registry; nothing lands", () =>
    Effect.gen(function* () {
      yield* removeImageIfPresent(reference)
      const dir = yield* dockerConfig({ auths: {} })
      const error = yield* Effect.flip(pull(dir))
      assert.strictEqual(error.reason, "Unauthorized")
      assert.strictEqual(error.operation, "pullImage")
      assert.include(error.message, `registry ${registry} wants credentials and none were given`)
      assert.include(error.message, reference)
      const engine = yield* DockerEngine.DockerEngine
      assert.strictEqual((yield* Effect.flip(engine.inspectImage(reference))).reason, "NotFound")
    }).pipe(Effect.scoped)
  )

  it.effect("a pull with the password as a Redacted credential succeeds", () =>
    Effect.gen(function* () {
      const dir = yield* dockerConfig({})
      yield* pullsAndLands(dir, { auth: { username, password: Redacted.make(password) } })
    }).pipe(Effect.scoped)
  )

  it.effect("a pull finds the credentials in the Docker config's auths", () =>
    Effect.gen(function* () {
      const auth = Buffer.from(`${username}:${password}`).toString("base64")
      const dir = yield* dockerConfig({ auths: { [`http://${registry}/v2/`]: { auth } } })
      yield* pullsAndLands(dir)
    }).pipe(Effect.scoped)
  )

  it.effect(
    "a pull gets the credentials from the config's credsStore helper, given the registry on stdin",
    () =>
      Effect.gen(function* () {
        const dir = yield* dockerConfig({ credsStore: "effecttest", auths: {} })
        // The helper answers only for this registry, as a real store keyed by server does.
        const helper = Path.join(dir, "docker-credential-effecttest")
        Fs.writeFileSync(
          helper,
          [
            "#!/bin/sh",
            'read -r server; [ "$1" = get ] || exit 1',
            `if [ "$server" = "${registry}" ]; then echo '{"ServerURL":"${registry}","Username":"${username}","Secret":"${password}"}'; exit 0; fi`,
            "echo 'credentials not found in native keychain'; exit 1"
          ].join("\n"),
          { mode: 0o755 }
        )
        const path = process.env.PATH
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            process.env.PATH = `${dir}${Path.delimiter}${path ?? ""}`
          }),
          () =>
            Effect.sync(() => {
              process.env.PATH = path
            })
        )
        yield* pullsAndLands(dir)
      }).pipe(Effect.scoped)
  )
})
