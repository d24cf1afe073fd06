/**
 * The engine contract on the real engine, in real time: what MemoryEngine must match.
 */

import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll } from "vitest"
import type * as DockerEngine from "../../src/DockerEngine.js"
import { type Behaviour, type ContractEnvironment, engineContract } from "../contract/engineContract.js"
import { engineRestartContract } from "../contract/engineContractRestart.js"
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

const env: ContractEnvironment<never> = {
  name: "live",
  advance: (duration) => Effect.sleep(duration),
  during: (effect) => effect,
  image: "busybox:latest",
  pullImage: registryImage("contract"),
  missingImage: "127.0.0.1:5000/effect-docker/contract-missing:latest",
  labels,
  program: (_name, behaviour) => Effect.succeed(programOf(behaviour))
}

layer(liveLayer, { excludeTestServices: true, concurrent: true })("engine contract (live engine)", (it) => {
  engineContract(env, (name, body) => it.effect(name, () => Effect.scoped(body()), 30_000))
  engineRestartContract(env, (name, body) => it.effect(name, () => Effect.scoped(body()), 30_000))
})

afterAll(() => Effect.runPromise(assertNoLeftovers(labels).pipe(Effect.provide(liveLayer))))
