/**
 * The engine contract on the real engine, in real time: what MemoryEngine must match.
 */

import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll } from "vitest"
import * as DockerEngine from "../../src/DockerEngine.js"
import {
  type Behaviour,
  type ContractEnvironment,
  engineContract,
  type Register,
  uniqueName
} from "../contract/engineContract.js"
import { type Behaviour2, type ContractEnvironment2, engineContract2 } from "../contract/engineContract2.js"
import { engineContractReach, type ReachEnvironment } from "../contract/engineContractReach.js"
import { engineRestartContract } from "../contract/engineContractRestart.js"
import { readFileFromContainer } from "../support/archive.js"
import { brokenLayerMessage, brokenRegistry } from "../support/brokenRegistry.js"
import { assertNoLeftovers, liveLayer, registryImage, testLabels } from "../support/live.js"

const labels = testLabels("contract")

/** Runs until stopped and exits 143 on SIGTERM (sh as PID 1 only reacts to a trapped signal). */
const runsUntilTerm = ["sh", "-c", "trap 'exit 143' TERM; sleep 3600 & wait"]

const programOf = (behaviour: Behaviour): Partial<DockerEngine.CreateContainerOptions> => {
  switch (behaviour._tag) {
    case "Runs":
      // PID 1 without a handler ignores SIGTERM: plain `sleep` must be killed.
      return { cmd: behaviour.onStop === "exit" ? runsUntilTerm : ["sleep", "3600"] }
    case "Exits":
      return { cmd: ["sh", "-c", `sleep ${behaviour.seconds}; exit ${behaviour.code}`] }
    case "Prints": {
      const out = behaviour.stdout.map((line) => `echo ${line};`).join(" ")
      const err = behaviour.stderr.map((line) => `echo ${line} >&2;`).join(" ")
      // stdout and stderr are copied to the log by separate readers: a pause keeps their order.
      return {
        cmd: ["sh", "-c", `${out} sleep 0.2; ${err} sleep ${behaviour.seconds}; exit ${behaviour.code}`]
      }
    }
    case "Checked":
      return {
        cmd: runsUntilTerm,
        healthcheck: {
          test: ["CMD", behaviour.passes ? "true" : "false"],
          intervalMs: 500,
          timeoutMs: 2000,
          retries: 1
        }
      }
  }
}

const program2Of = (behaviour: Behaviour2): Partial<DockerEngine.CreateContainerOptions> => {
  switch (behaviour._tag) {
    case "PrintsLater":
      return {
        cmd: [
          "sh",
          "-c",
          `trap 'exit 143' TERM; echo ${behaviour.early}; sleep ${behaviour.afterSeconds}; echo ${behaviour.late}; sleep 3600 & wait`
        ]
      }
    case "Degrades":
      return {
        cmd: [
          "sh",
          "-c",
          `trap 'exit 143' TERM; touch /tmp/healthy; sleep ${behaviour.healthyForSeconds}; rm /tmp/healthy; sleep 3600 & wait`
        ],
        healthcheck: {
          test: ["CMD", "test", "-f", "/tmp/healthy"],
          intervalMs: 500,
          timeoutMs: 2000,
          retries: 1
        }
      }
  }
}

/** Runs busybox `nslookup host` on `network`: exit 0 when the engine's DNS knows the name. */
const resolves = (network: string, host: string, labels: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const { id } = yield* Effect.acquireRelease(
      engine.createContainer({
        image: "busybox:latest",
        name: uniqueName("resolver"),
        labels,
        cmd: ["nslookup", host],
        networkMode: network
      }),
      ({ id }) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
    yield* engine.startContainer(id)
    const { exitCode } = yield* engine.waitContainer(id, { condition: "not-running" })
    return exitCode === 0
  })

const env: ContractEnvironment<never> = {
  name: "live",
  advance: (duration) => Effect.sleep(duration),
  during: (effect) => effect,
  image: "busybox:latest",
  pullImage: registryImage("contract"),
  missingImage: "127.0.0.1:5000/effect-docker/contract-missing:latest",
  // scripts/engine-env.sh: the registry with basic auth and its one image.
  privateImage: { reference: "127.0.0.1:5001/effect-docker/private:latest", username: "effect-docker" },
  labels,
  program: (_name, behaviour) => Effect.succeed(programOf(behaviour)),
  readFile: (id, path) => readFileFromContainer(id, path)
}

const env2: ContractEnvironment2<never> = {
  ...env,
  program2: (_name, behaviour) => Effect.succeed(program2Of(behaviour)),
  resolves,
  failingPull: Effect.map(brokenRegistry, (reference) => ({ reference, message: brokenLayerMessage }))
}

const reachEnv: ReachEnvironment<never> = {
  ...env,
  writeFile: (id, path, content) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const result = yield* engine.exec(id, ["sh", "-c", 'printf %s "$1" > "$2"', "sh", content, path])
      if (result.exitCode !== 0) return yield* Effect.fail(new Error(`writing ${path}: ${result.stderr}`))
    }),
  readText: (id, path) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const result = yield* engine.exec(id, ["cat", path])
      return result.exitCode === 0 ? result.stdout : undefined
    }),
  removeVolume: (name) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.removeVolume(name, { force: true })
    })
}

layer(liveLayer, { excludeTestServices: true, concurrent: true })("engine contract (live engine)", (it) => {
  const register =
    (timeout: number): Register<never> =>
    (name, body) =>
      it.effect(name, () => Effect.scoped(body()), timeout)
  engineContract(env, register(30_000))
  engineContract2(env2, register(30_000))
  // Several containers and `docker exec` calls each: more time on a loaded engine.
  engineContractReach(reachEnv, register(90_000))
  engineRestartContract(env, register(30_000))
})

afterAll(() => Effect.runPromise(assertNoLeftovers(labels).pipe(Effect.provide(liveLayer))))
