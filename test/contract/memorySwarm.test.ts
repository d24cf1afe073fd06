/**
 * The Swarm contract on MemoryEngine with a simulated 3-node swarm, under TestClock: a fresh
 * engine per test, and after each test (its scope closed, the removals' grace periods passed)
 * no labelled service, task or container remains.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import type { Register } from "./engineContract.js"
import {
  engineContractSwarm,
  type SwarmContractEnvironment,
  type TaskBehaviour
} from "./engineContractSwarm.js"

const labels = {
  "dev.effect-docker.app": "test-contract-swarm-memory",
  "dev.effect-docker.test": "contract-swarm-memory"
}

/** One image per behaviour, scripted: a task's container name is the engine's to choose. */
const imageOf = (behaviour: TaskBehaviour): string =>
  behaviour._tag === "Runs"
    ? "swarm-runs:latest"
    : `swarm-exits-${behaviour.seconds}-${behaviour.code}:latest`

const env: SwarmContractEnvironment<MemoryEngine.MemoryEngine> = {
  name: "memory",
  advance: (duration) => TestClock.adjust(duration),
  labels,
  program: (behaviour) =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const image = imageOf(behaviour)
      yield* memory.addImage({
        reference: image,
        script:
          behaviour._tag === "Runs"
            ? { onStopSignal: "exit" }
            : { exit: { after: `${behaviour.seconds} seconds`, code: behaviour.code } }
      })
      return { image }
    }),
  outsideSwarm: Effect.map(MemoryEngine.make({ images: ["busybox:latest"] }), ({ engine }) => engine)
}

const memoryLayer = MemoryEngine.layer({ images: ["busybox:latest"], swarm: { nodes: 3 } })

describe("engine contract, Swarm (MemoryEngine, 3 nodes)", () => {
  const register: Register<MemoryEngine.MemoryEngine> = (name, body) =>
    it.effect(name, () =>
      Effect.gen(function* () {
        yield* Effect.scoped(body())
        // Removed services stop their tasks' containers within the stop grace period.
        yield* TestClock.adjust("2 seconds")
        const engine = yield* DockerEngine.DockerEngine
        const services = yield* engine.listServices({ labels })
        const tasks = yield* engine.listTasks({ labels })
        const containers = yield* engine.listContainers({ all: true, labels })
        if (services.length > 0 || tasks.length > 0 || containers.length > 0) {
          return yield* Effect.die(new Error(`leftovers: ${JSON.stringify({ services, tasks, containers })}`))
        }
      }).pipe(Effect.provide(memoryLayer))
    )
  engineContractSwarm(env, register)
})
