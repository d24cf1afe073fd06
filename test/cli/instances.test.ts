import * as os from "node:os"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Instances from "../../src/cli/instances.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as Labels from "../../src/internal/labels.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"

const keys = Labels.keys()

/** An instance as the Supervisor leaves it: a labelled network and one container per service. */
const makeInstance = (app: string, instance: string, owner: string, services: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const labels = Labels.instanceLabels(keys, { app, instance, owner })
    yield* engine.createNetwork({ name: `${app}-${instance}`, labels })
    for (const service of services) {
      const { id } = yield* engine.createContainer({
        image: "busybox:latest",
        name: `${app}-${instance}-${service}`,
        labels: { ...labels, [keys.component]: service },
        networkMode: `${app}-${instance}`
      })
      yield* engine.startContainer(id)
    }
  })

const deadOwner = `${os.hostname()}/2147483646/1`
const otherHost = "elsewhere.example/1234/1"

describe("ps, sweep, down on MemoryEngine", () => {
  it.effect("lists instances with their owner's status; sweep removes only the dead one's", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* makeInstance("shop", "dead0001", deadOwner, ["web", "worker"])
      yield* makeInstance("shop", "live0001", Labels.currentOwner(), ["web"])
      yield* makeInstance("shop", "away0001", otherHost, ["web"])
      yield* makeInstance("other", "dead0002", deadOwner, ["db"])

      const listed = yield* Instances.list(engine, { app: "shop" })
      assert.deepStrictEqual(
        listed.map((i) => [i.instance, i.ownerStatus, i.containers.length, i.networks.length]).sort(),
        [
          ["away0001", "elsewhere", 1, 1],
          ["dead0001", "gone", 2, 1],
          ["live0001", "alive", 1, 1]
        ]
      )
      const table = Instances.render(listed)
      assert.match(table[0]!, /^APP\s+INSTANCE\s+OWNER\s+SERVICE\s+STATE\s+STATUS$/)
      assert.isTrue(
        table.some((line) => /^shop\s+dead0001\s+gone \(pid 2147483646\)\s+web\s+running/.test(line))
      )
      assert.isTrue(
        table.some((line) => /^shop\s+away0001\s+elsewhere \(pid 1234 on elsewhere\.example\)/.test(line))
      )

      // down --all asks for --force for these: a live owner here, and one another host may run.
      assert.deepStrictEqual(
        Instances.withLiveOwner(listed)
          .map((i) => i.instance)
          .sort(),
        ["away0001", "live0001"]
      )

      const swept = yield* Instances.sweep(engine, { app: "shop" })
      assert.deepStrictEqual(swept, { instances: 1, containers: 2, networks: 1 })
      const left = yield* Instances.list(engine, {})
      assert.deepStrictEqual(left.map((i) => i.instance).sort(), ["away0001", "dead0002", "live0001"])

      const removed = yield* Instances.remove(
        engine,
        left.filter((i) => i.instance === "live0001")
      )
      assert.deepStrictEqual(removed, { containers: 1, networks: 1 })
      assert.deepStrictEqual(
        (yield* engine.listContainers({ all: true, labels: { [keys.instance]: "live0001" } })).length,
        0
      )
      assert.deepStrictEqual(Instances.render([]), ["no instances"])
    }).pipe(Effect.provide(MemoryEngine.layer({ images: ["busybox:latest"] })))
  )
})
