import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Logs from "../../src/cli/logs.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import * as Supervisor from "../../src/Supervisor.js"

const keys = Supervisor.labelKeys()
const plain: Logs.Format = { width: 5, prefix: true, timestamps: false, color: false }

describe("logs formatting", () => {
  it("prefixes each line with the name padded to the widest, as Compose prints it", () => {
    const line: Logs.Line = {
      name: "web-1",
      stream: "stdout",
      text: "listening",
      timestamp: "2024-05-01T10:00:00.5Z"
    }
    assert.strictEqual(Logs.formatLine(line, { ...plain, width: 7 }), "web-1   | listening")
    assert.strictEqual(
      Logs.formatLine(line, { ...plain, timestamps: true }),
      "web-1 | 2024-05-01T10:00:00.5Z listening"
    )
    assert.strictEqual(Logs.formatLine(line, { ...plain, prefix: false }), "listening")
    assert.strictEqual(
      Logs.formatLine(line, { ...plain, color: true }),
      `\x1b[${Logs.colourOf("web-1")}mweb-1 |\x1b[0m listening`
    )
  })

  it("a name's colour is the same on every run and the names of a fleet do not all share one", () => {
    assert.strictEqual(Logs.colourOf("db"), Logs.colourOf("db"))
    const colours = new Set(["web-1", "web-2", "db", "job", "worker"].map(Logs.colourOf))
    assert.isAtLeast(colours.size, 3)
  })

  it("engine times sort as text once their nanoseconds are padded", () => {
    const times = ["2024-05-01T10:00:00.51Z", "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.123456789Z"]
    assert.deepStrictEqual(
      [...times].sort((a, b) => (Logs.timeKey(a) < Logs.timeKey(b) ? -1 : 1)),
      ["2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.51Z"]
    )
  })

  it("a service takes its replicas, not another service sharing its prefix", () => {
    assert.isTrue(Logs.isOfServices("web-2", ["web"]))
    assert.isTrue(Logs.isOfServices("web", ["web"]))
    assert.isFalse(Logs.isOfServices("web-admin", ["web"]))
    assert.isTrue(Logs.isOfServices("anything", []))
  })
})

/** A container as the Supervisor leaves it, started. */
const startContainer = (instance: string, component: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const { id } = yield* engine.createContainer({
      image: "busybox:latest",
      name: `shop-${instance}-${component}`,
      labels: { [keys.app]: "shop", [keys.instance]: instance, [keys.component]: component }
    })
    yield* engine.startContainer(id)
    return id
  })

const selection: Logs.Selection = { labels: { [keys.app]: "shop" }, services: [], withInstance: false }

describe("logs on MemoryEngine", () => {
  it.effect(
    "the backlog of every container, merged in time order; --tail per container; services narrow",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        yield* startContainer("i1", "web")
        yield* startContainer("i1", "db")
        yield* TestClock.adjust("3 seconds")
        const all = yield* Logs.backlog(engine, selection, undefined)
        assert.deepStrictEqual(
          all.map((line) => Logs.formatLine(line, { ...plain, width: 3 })),
          ["web | w1", "db  | d1", "web | w2"]
        )
        const last = yield* Logs.backlog(engine, selection, 1)
        assert.deepStrictEqual(
          last.map((line) => `${line.name}:${line.text}`),
          ["db:d1", "web:w2"]
        )
        const onlyDb = yield* Logs.backlog(engine, { ...selection, services: ["db"] }, undefined)
        assert.deepStrictEqual(
          onlyDb.map((line) => line.text),
          ["d1"]
        )
      }).pipe(
        Effect.provide(
          MemoryEngine.layer({
            images: ["busybox:latest"],
            containers: {
              "shop-i1-web": { logs: [{ text: "w1" }, { text: "w2", at: "2 seconds" }] },
              "shop-i1-db": { logs: [{ text: "d1", stream: "stderr", at: "1 second" }] }
            }
          })
        )
      )
  )

  it.effect(
    "-f: follows across a restart without repeating a line, and picks up a container started later",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const web = yield* startContainer("i1", "web")
        const seen: Array<string> = []
        const following = yield* Logs.follow(engine, selection, undefined).pipe(
          Stream.runForEach((line) => Effect.sync(() => void seen.push(`${line.name}:${line.text}`))),
          Effect.forkChild
        )
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(seen, ["web:first run"])
        // Exited with 1 after a second; the Supervisor restarts the same container.
        yield* engine.startContainer(web)
        yield* TestClock.adjust("2 seconds")
        yield* startContainer("i1", "job")
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.interrupt(following)
        assert.deepStrictEqual(seen, ["web:first run", "web:second run", "job:migrating"])
      }).pipe(
        Effect.provide(
          MemoryEngine.layer({
            images: ["busybox:latest"],
            containers: {
              "shop-i1-web": [
                { logs: [{ text: "first run" }], exit: { after: "1 second", code: 1 } },
                { logs: [{ text: "second run", at: "1 second" }] }
              ],
              "shop-i1-job": { logs: [{ text: "migrating", at: "500 millis" }] }
            }
          })
        )
      )
  )
})
