/**
 * What integration suites share: the real engine from the environment, labels that mark
 * what a test created, and the end-of-suite check that nothing was left behind.
 */
import { randomBytes } from "node:crypto"
import { assert } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { DockerError } from "../../src/DockerError.js"

/**
 * The real engine `DOCKER_HOST` (or the local socket) names. Building it fails, with the
 * engine's own error, when the engine does not answer a ping: integration tests never skip.
 */
export const liveLayer: Layer.Layer<DockerEngine.DockerEngine, DockerError> = Layer.effect(
  DockerEngine.DockerEngine,
  Effect.gen(function* () {
    const engine = yield* DockerEngine.make(yield* DockerEngine.optionsFromEnv.pipe(Effect.orDie))
    yield* engine.ping.pipe(
      Effect.mapError(
        (error) =>
          new DockerError({
            ...error,
            message: `integration tests need a running Docker engine (scripts/engine-env.sh start): ${error.message}`
          })
      )
    )
    return engine
  })
)

/**
 * Labels for everything a suite creates: an app label per suite and a test label unique to
 * this process, so leftovers can be found and concurrent runs do not see each other.
 */
export const testLabels = (suite: string): Record<string, string> => ({
  "dev.effect-docker.app": `test-${suite}`,
  "dev.effect-docker.test": `${suite}-${process.pid}-${randomBytes(4).toString("hex")}`
})

/** Fails (an assertion) when any container or network carrying all of `labels` remains. */
export const assertNoLeftovers = (labels: Record<string, string>) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const containers = yield* engine.listContainers({ all: true, labels })
    const networks = yield* engine.listNetworks({ labels })
    assert.deepStrictEqual(
      {
        containers: containers.map((container) => container.names.join(",")),
        networks: networks.map((network) => network.name)
      },
      { containers: [], networks: [] },
      `leftovers with labels ${JSON.stringify(labels)}`
    )
  })

/** The suite's own image in the local test registry (scripts/engine-env.sh pushes it). */
export const registryImage = (repo: string): string => `127.0.0.1:5000/effect-docker/${repo}:latest`

/** Removes an image (forced) so the next pull downloads it; no error when it is not there. */
export const removeImageIfPresent = (reference: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    yield* engine
      .removeImage(reference, { force: true })
      .pipe(
        Effect.catchTag("DockerError", (error) =>
          error.reason === "NotFound" ? Effect.void : Effect.fail(error)
        )
      )
  })
