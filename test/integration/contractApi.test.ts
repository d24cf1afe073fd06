/**
 * The exec and volume contract on the real engine, in real time: what MemoryEngine must match.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll } from "vitest"
import * as DockerEngine from "../../src/DockerEngine.js"
import { type ApiContractEnvironment, engineContractApi } from "../contract/engineContractApi.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const labels = testLabels("contract-api")

/** Runs until stopped and exits 143 on SIGTERM (sh as PID 1 only reacts to a trapped signal). */
const runsUntilTerm = ["sh", "-c", "trap 'exit 143' TERM; sleep 3600 & wait"]

const env: ApiContractEnvironment<never> = {
  name: "live",
  advance: (duration) => Effect.sleep(duration),
  image: "busybox:latest",
  labels,
  runs: () => Effect.succeed({ cmd: runsUntilTerm })
}

layer(liveLayer, { excludeTestServices: true, concurrent: true })(
  "exec and volume contract (live engine)",
  (it) => {
    engineContractApi(env, (name, body) => it.effect(name, () => Effect.scoped(body()), 30_000))
  }
)

afterAll(() =>
  Effect.runPromise(
    Effect.gen(function* () {
      yield* assertNoLeftovers(labels)
      const engine = yield* DockerEngine.DockerEngine
      const volumes = yield* engine.listVolumes({ labels })
      assert.deepStrictEqual(
        volumes.map((volume) => volume.name),
        [],
        `volumes left with labels ${JSON.stringify(labels)}`
      )
    }).pipe(Effect.provide(liveLayer))
  )
)
