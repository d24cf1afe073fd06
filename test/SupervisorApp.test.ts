import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

describe("Supervisor app name (MemoryEngine)", () => {
  it.effect(
    "building the layer with an app Docker would refuse in a name fails with InvalidSpec and creates nothing",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        for (const options of [{ app: "bad name!" }, { app: "demo", instanceId: "a b" }]) {
          const error = yield* Layer.build(Supervisor.layer(options)).pipe(Effect.scoped, Effect.flip)
          assert.strictEqual(error._tag, "InvalidSpec")
          assert.strictEqual(
            error._tag === "InvalidSpec" ? error.field : undefined,
            options.instanceId === undefined ? "app" : "instanceId"
          )
        }
        assert.deepStrictEqual(yield* memory.networks, [])
        assert.deepStrictEqual(yield* memory.containers, [])
        // A valid app builds, on the same engine.
        const supervisor = yield* Layer.build(Supervisor.layer({ app: "good.app_1", instanceId: "i1" })).pipe(
          Effect.map(() => "built"),
          Effect.scoped
        )
        assert.strictEqual(supervisor, "built")
      }).pipe(Effect.provide(MemoryEngine.layer()))
  )
})
