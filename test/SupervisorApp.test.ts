import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

describe("Supervisor app name (MemoryEngine)", () => {
  it.effect(
    "building the layer with an app Docker would refuse in a name fails with InvalidSpec and creates nothing",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const builtInNetworks = yield* memory.networks
        for (const options of [{ app: "bad name!" }, { app: "demo", instanceId: "a b" }]) {
          // Checked before the build's scope closes: a release could hide what the build created.
          yield* Effect.scoped(
            Effect.gen(function* () {
              const error = yield* Layer.build(Supervisor.layer(options)).pipe(Effect.flip)
              assert.strictEqual(error._tag, "InvalidSpec")
              assert.strictEqual(
                error._tag === "InvalidSpec" ? error.field : undefined,
                options.instanceId === undefined ? "app" : "instanceId"
              )
              assert.deepStrictEqual(yield* memory.networks, builtInNetworks)
              assert.deepStrictEqual(yield* memory.containers, [])
            })
          )
        }
        // A valid app builds, on the same engine, and names its network with it.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(Supervisor.layer({ app: "good.app_1", instanceId: "i1" }))
            assert.strictEqual(Context.get(context, Supervisor.Supervisor).network, "good.app_1-i1")
            const networks = yield* memory.networks
            assert.isTrue(networks.some((network) => network.name === "good.app_1-i1"))
          })
        )
      }).pipe(Effect.provide(MemoryEngine.layer()))
  )
})
