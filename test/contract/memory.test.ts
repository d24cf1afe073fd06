/**
 * The engine contract on MemoryEngine, under TestClock: a fresh engine per test, and after
 * each test (its scope closed) nothing labelled remains.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Fiber, type Scope } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import { type Behaviour, type ContractEnvironment, engineContract } from "./engineContract.js"
import { engineRestartContract } from "./engineContractRestart.js"

const labels = {
  "dev.effect-docker.app": "test-contract-memory",
  "dev.effect-docker.test": "contract-memory"
}
const pullImage = "127.0.0.1:5000/effect-docker/contract:latest"

const scriptOf = (behaviour: Behaviour): MemoryEngine.Script => {
  switch (behaviour._tag) {
    case "Runs":
      return { onStopSignal: behaviour.onStop }
    case "Exits":
      return { exit: { after: `${behaviour.seconds} seconds`, code: behaviour.code } }
    case "Prints":
      return {
        logs: [
          ...behaviour.stdout.map((text) => ({ text })),
          ...behaviour.stderr.map((text) => ({ text, stream: "stderr" as const }))
        ],
        exit: { after: `${behaviour.seconds} seconds`, code: behaviour.code }
      }
    case "Checked":
      return behaviour.passes ? {} : { health: [{ at: "500 millis", status: "unhealthy" }] }
  }
}

const env: ContractEnvironment<MemoryEngine.MemoryEngine> = {
  name: "memory",
  advance: (duration) => TestClock.adjust(duration),
  during: (effect, duration) =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(effect)
      yield* TestClock.adjust(duration)
      return yield* Fiber.join(fiber)
    }),
  image: "busybox:latest",
  pullImage,
  missingImage: "127.0.0.1:5000/effect-docker/contract-missing:latest",
  labels,
  program: (name, behaviour) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: name }, scriptOf(behaviour))
      return behaviour._tag === "Checked"
        ? { healthcheck: { test: ["CMD", behaviour.passes ? "true" : "false"], intervalMs: 500, retries: 1 } }
        : {}
    })
}

const memoryLayer = MemoryEngine.layer({
  images: ["busybox:latest"],
  registry: [{ reference: pullImage, layers: [5_000_000], pull: { stepDelay: "20 millis" } }]
})

/** Runs a contract test on a fresh engine, then checks that nothing labelled is left. */
const register = (
  name: string,
  body: () => Effect.Effect<
    void,
    unknown,
    DockerEngine.DockerEngine | Scope.Scope | MemoryEngine.MemoryEngine
  >
) =>
  it.effect(name, () =>
    Effect.gen(function* () {
      yield* Effect.scoped(body())
      const engine = yield* DockerEngine.DockerEngine
      const left = yield* engine.listContainers({ all: true, labels })
      const networks = yield* engine.listNetworks({ labels })
      if (left.length > 0 || networks.length > 0) {
        return yield* Effect.die(new Error(`leftovers: ${JSON.stringify({ left, networks })}`))
      }
    }).pipe(Effect.provide(memoryLayer))
  )

describe("engine restart policies contract (MemoryEngine)", () => {
  engineRestartContract(env, register)
})

describe("engine contract (MemoryEngine)", () => {
  engineContract(env, (name, body) =>
    it.effect(name, () =>
      Effect.gen(function* () {
        yield* Effect.scoped(body())
        const engine = yield* DockerEngine.DockerEngine
        const left = yield* engine.listContainers({ all: true, labels })
        const networks = yield* engine.listNetworks({ labels })
        if (left.length > 0 || networks.length > 0) {
          return yield* Effect.die(new Error(`leftovers: ${JSON.stringify({ left, networks })}`))
        }
      }).pipe(Effect.provide(memoryLayer))
    )
  )
})
