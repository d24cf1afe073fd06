/**
 * What the reliability suites share: the second engine (scripts/second-engine.sh: TLS with
 * client certificates on tcp://127.0.0.1:2376, its own data root and bridge) and a way to
 * crash, stop and restart it without touching the engine the other suites run on.
 */
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { ConfigProvider, Effect, Layer } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import type { DockerError } from "../../src/DockerError.js"

const stateDir = process.env.EFFECT_DOCKER_SECOND_ENGINE_STATE ?? "/tmp/effect-docker-engine2"
const script = Path.resolve(import.meta.dirname, "../../scripts/second-engine.sh")

/** The second engine's address, as `DOCKER_HOST` names it. */
export const secondEngineHost = `tcp://127.0.0.1:${process.env.EFFECT_DOCKER_SECOND_ENGINE_PORT ?? "2376"}`

/**
 * Certificate directories (each a `DOCKER_CERT_PATH`) the script makes: `client` is right,
 * `noClientCert` trusts the engine but has no certificate of its own, `wrongCa` trusts another
 * CA than the one that signed the engine's certificate, `stranger` presents a client
 * certificate the engine's CA never signed.
 */
export const certPaths = {
  client: Path.join(stateDir, "certs", "client"),
  noClientCert: Path.join(stateDir, "certs", "no-client-cert"),
  wrongCa: Path.join(stateDir, "certs", "wrong-ca"),
  stranger: Path.join(stateDir, "certs", "stranger")
} as const

/**
 * The second engine, found the way a user's environment names it: `DOCKER_HOST`,
 * `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH` read by `DockerEngine.layer`.
 */
export const secondEngineLayer = (
  certPath: string = certPaths.client
): Layer.Layer<DockerEngine.DockerEngine, DockerError> =>
  Layer.effect(
    DockerEngine.DockerEngine,
    Effect.gen(function* () {
      const options = yield* DockerEngine.optionsFromEnv.pipe(
        Effect.provide(
          ConfigProvider.layer(
            ConfigProvider.fromEnv({
              env: { DOCKER_HOST: secondEngineHost, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certPath }
            })
          )
        ),
        // The options come from a fixed map: a ConfigError here is a bug in this file.
        Effect.orDie
      )
      return yield* DockerEngine.make(options)
    })
  )

/**
 * Runs `scripts/second-engine.sh <action>`: `start` (idempotent), `kill` (SIGKILL dockerd, a
 * crash), `restart` (SIGTERM, as a host shutdown, then start). Resolves when the script is done.
 */
export const secondEngine = (action: "start" | "kill" | "restart"): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    execFile(script, [action], { timeout: 120_000 }, (error, _stdout, stderr) =>
      resume(
        error === null
          ? Effect.void
          : Effect.die(new Error(`second-engine.sh ${action} failed: ${error.message}\n${stderr}`))
      )
    )
  })

/** Milliseconds `effect` took, with its result. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const result = yield* effect
    return { result, elapsedMs: Date.now() - started } as const
  })
