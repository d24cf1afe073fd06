/**
 * The exec and volume contract on MemoryEngine, under TestClock: a fresh engine per test, and
 * after each test (its scope closed) no labelled container, network or volume remains.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import { type ApiContractEnvironment, busyboxExec, engineContractApi } from "./engineContractApi.js"

const labels = {
  "dev.effect-docker.app": "test-contract-api-memory",
  "dev.effect-docker.test": "contract-api-memory"
}

const env: ApiContractEnvironment<MemoryEngine.MemoryEngine> = {
  name: "memory",
  advance: (duration) => TestClock.adjust(duration),
  image: "busybox:latest",
  labels,
  runs: (name) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: name }, { onStopSignal: "exit", exec: busyboxExec })
      return {}
    })
}

const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"] })

describe("exec and volume contract (MemoryEngine)", () => {
  engineContractApi(env, (name, body) =>
    it.effect(name, () =>
      Effect.gen(function* () {
        yield* Effect.scoped(body())
        const engine = yield* DockerEngine.DockerEngine
        const left = yield* engine.listContainers({ all: true, labels })
        const networks = yield* engine.listNetworks({ labels })
        const volumes = yield* engine.listVolumes({ labels })
        if (left.length > 0 || networks.length > 0 || volumes.length > 0) {
          return yield* Effect.die(new Error(`leftovers: ${JSON.stringify({ left, networks, volumes })}`))
        }
      }).pipe(Effect.provide(memoryLayer))
    )
  )
})
