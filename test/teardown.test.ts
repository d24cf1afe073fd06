import * as os from "node:os"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, References, Scope } from "effect"
import * as DockerEngine from "../src/DockerEngine.js"
import * as Labels from "../src/internal/labels.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "teardown"
const keys = Labels.keys()
const deadOwner = `${os.hostname()}/2147483646/1`

/** Runs `body` with every log line at warning level or above collected into `warnings`. */
const capturingWarnings = <A, E, R>(body: (warnings: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const warnings: Array<string> = []
  const capture = Logger.make((options) => {
    if (options.logLevel === "Warn") warnings.push(String(Logger.formatSimple.log(options)))
  })
  return body(warnings).pipe(
    Effect.provide(Logger.layer([capture])),
    Effect.provideService(References.MinimumLogLevel, "All")
  )
}

describe("teardown (MemoryEngine)", () => {
  it.effect("remove(allInstances()) stops another live instance's containers and says whose", () =>
    capturingWarnings((warnings) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const mine = yield* Supervisor.make({ app, instanceId: "mine0001" })
        const other = yield* Supervisor.make({ app, instanceId: "live0001" })
        yield* other
          .start({ name: "web", image, command: ["sleep", "60"], stopTimeout: "1 second" })
          .pipe(Scope.provide(yield* Scope.make()))
        // An instance whose process is gone: removed without a word, as removeStale would.
        const { id } = yield* engine.createContainer({
          image,
          name: `${app}-dead0001-web`,
          labels: Labels.containerLabels(keys, {
            app,
            instance: "dead0001",
            owner: deadOwner,
            component: "web"
          })
        })
        yield* engine.startContainer(id)

        assert.strictEqual(yield* mine.remove(), 0, "this instance has no container")
        assert.deepStrictEqual(warnings, [], "removing one's own containers warns of nothing")

        assert.strictEqual(yield* mine.remove(Supervisor.allInstances()), 2)
        assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: { [keys.app]: app } }), [])
        assert.strictEqual(warnings.length, 1, warnings.join("\n"))
        assert.include(
          warnings[0],
          `removing the containers of 1 other live instance(s): live0001 (owner ${Labels.currentOwner()}, 1 container(s))`
        )
        assert.notInclude(warnings[0], "dead0001")
      })
    ).pipe(Effect.scoped, Effect.provide(MemoryEngine.layer({ images: [image] })))
  )
})
