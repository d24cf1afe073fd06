import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import * as DockerEngine from "../src/DockerEngine.js"

// No engine is needed: these engines are never there (an absent socket), or never built.
const ping = Effect.gen(function* () {
  const engine = yield* DockerEngine.DockerEngine
  return yield* engine.ping
})

const withEnv = (env: Record<string, string>) =>
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("DockerEngine.layerConfig", () => {
  it.effect("takes a Config per option; the options left out keep their defaults", () =>
    Effect.gen(function* () {
      const layer = DockerEngine.layerConfig({ host: Config.String("MY_APP_DOCKER_HOST") })
      const error = yield* ping.pipe(
        Effect.provide(layer.pipe(withEnv({ MY_APP_DOCKER_HOST: "unix:///nonexistent/effect-docker.sock" }))),
        Effect.flip
      )
      assert.strictEqual(error._tag, "DockerError")
      if (error._tag === "DockerError") {
        assert.strictEqual(error.reason, "Unavailable")
        assert.include(error.message, "unix:///nonexistent/effect-docker.sock")
      }
    })
  )

  it.effect("takes one Config of all the options, as before", () =>
    Effect.gen(function* () {
      const layer = DockerEngine.layerConfig(
        Config.all({
          host: Config.String("MY_APP_DOCKER_HOST"),
          connectTimeout: Config.Duration("MY_APP_TIMEOUT")
        })
      )
      const error = yield* ping.pipe(
        Effect.provide(
          layer.pipe(withEnv({ MY_APP_DOCKER_HOST: "ftp://nowhere", MY_APP_TIMEOUT: "1 second" }))
        ),
        Effect.flip
      )
      assert.strictEqual(error._tag, "DockerError")
      if (error._tag === "DockerError") {
        assert.strictEqual(error.reason, "BadRequest")
        assert.include(error.message, "ftp://nowhere")
      }
    })
  )

  it.effect("fails with a ConfigError when a named option is missing", () =>
    Effect.gen(function* () {
      const layer = DockerEngine.layerConfig({ host: Config.String("MY_APP_DOCKER_HOST") })
      const error = yield* ping.pipe(Effect.provide(layer.pipe(withEnv({}))), Effect.flip)
      assert.notStrictEqual(error._tag, "DockerError")
    })
  )
})

describe("DockerEngine errors", () => {
  it.effect("Unavailable carries the socket error as its cause", () =>
    Effect.gen(function* () {
      const error = yield* ping.pipe(
        Effect.provide(DockerEngine.layerWith({ host: "unix:///nonexistent/effect-docker.sock" })),
        Effect.flip
      )
      assert.strictEqual(error.reason, "Unavailable")
      assert.instanceOf(error.cause, Error)
      assert.propertyVal(error.cause, "code", "ENOENT")
      assert.propertyVal(error.cause, "syscall", "connect")
      // The cause is not one of the error's fields: its JSON has none of the socket error's.
      assert.notInclude(JSON.stringify(error), "syscall")
    })
  )
})
