/**
 * The engine contract on MemoryEngine, under TestClock: a fresh engine per test, and after
 * each test (its scope closed) nothing labelled remains.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import { type Behaviour, type ContractEnvironment, engineContract, type Register } from "./engineContract.js"
import { type Behaviour2, type ContractEnvironment2, engineContract2 } from "./engineContract2.js"
import { engineContractReach, type ReachEnvironment } from "./engineContractReach.js"
import { engineRestartContract } from "./engineContractRestart.js"

const labels = {
  "dev.effect-docker.app": "test-contract-memory",
  "dev.effect-docker.test": "contract-memory"
}
const pullImage = "127.0.0.1:5000/effect-docker/contract:latest"
const privateImage = { reference: "127.0.0.1:5001/effect-docker/private:latest", username: "effect-docker" }

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

const failingPullImage = "127.0.0.1:5000/effect-docker/contract-broken:latest"
const brokenLayer = "filesystem layer verification failed for digest sha256:0123"

const script2Of = (behaviour: Behaviour2): MemoryEngine.Script => {
  switch (behaviour._tag) {
    case "PrintsLater":
      return {
        logs: [{ text: behaviour.early }, { text: behaviour.late, at: `${behaviour.afterSeconds} seconds` }],
        onStopSignal: "exit"
      }
    case "Degrades":
      return {
        health: [
          { at: "500 millis", status: "healthy" },
          { at: `${behaviour.healthyForSeconds + 0.5} seconds`, status: "unhealthy" }
        ],
        onStopSignal: "exit"
      }
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
  privateImage,
  labels,
  program: (name, behaviour) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: name }, scriptOf(behaviour))
      return behaviour._tag === "Checked"
        ? { healthcheck: { test: ["CMD", behaviour.passes ? "true" : "false"], intervalMs: 500, retries: 1 } }
        : {}
    }),
  readFile: (id, path) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const file = (yield* memory.files(id)).find((entry) => entry.path === path && entry.type === "file")
      return file === undefined ? undefined : { content: file.content, mode: file.mode }
    })
}

const env2: ContractEnvironment2<MemoryEngine.MemoryEngine> = {
  ...env,
  program2: (name, behaviour) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: name }, script2Of(behaviour))
      return behaviour._tag === "Degrades"
        ? { healthcheck: { test: ["CMD", "test", "-f", "/tmp/healthy"], intervalMs: 500, retries: 1 } }
        : {}
    }),
  dropEvents: (options) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.dropEvents(options)
    }),
  failingPull: Effect.gen(function* () {
    const memory = yield* MemoryEngine.MemoryEngine
    yield* memory.addRegistryImage({
      reference: failingPullImage,
      layers: [1_000_000, 1_000_000],
      pull: { fail: { message: brokenLayer, afterLayers: 1 }, stepDelay: "20 millis" }
    })
    return { reference: failingPullImage, message: "filesystem layer verification failed" }
  })
}

const memoryLayer = MemoryEngine.layer({
  images: ["busybox:latest"],
  registry: [
    { reference: pullImage, layers: [5_000_000], pull: { stepDelay: "20 millis" } },
    {
      reference: privateImage.reference,
      auth: { username: privateImage.username, password: "effect-docker-secret" }
    }
  ]
})

const reachEnv: ReachEnvironment<MemoryEngine.MemoryEngine> = {
  ...env,
  writeFile: (id, path, content) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.copyFiles(id, [{ path, content }])
    }),
  readText: (id, path) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      return yield* memory.readFile(id, path)
    }),
  removeVolume: (name) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.removeVolume(name, { force: true })
    })
}

describe("engine contract (MemoryEngine)", () => {
  const register = (name: string, body: Parameters<Register<MemoryEngine.MemoryEngine>>[1]) =>
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
  engineContract(env, register)
  engineContract2(env2, register)
  engineContractReach(reachEnv, register)
  engineRestartContract(env, register)
})
