import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Output from "../../src/cli/output.js"
import type * as View from "../../src/cli/view.js"

const sink = () => {
  const written: Array<string> = []
  return { written, sink: { write: (text: string) => void written.push(text) } }
}

const state = (overrides: Partial<View.ViewState> = {}): View.ViewState => ({
  id: "id",
  name: "web",
  image: "busybox",
  status: "running",
  pull: undefined,
  health: "starting",
  cpuPercent: 1,
  memoryUsed: 1024,
  memoryLimit: 2048,
  rxRate: 0,
  txRate: 0,
  restartCount: 0,
  startedAt: new Date(),
  exitCode: undefined,
  error: undefined,
  ...overrides
})

describe("displays", () => {
  it.effect("json: stdout carries only NDJSON states; notes and messages go to stderr", () =>
    Effect.gen(function* () {
      const out = sink()
      const err = sink()
      const display = Output.json({ out: out.sink, err: err.sink, simulated: false })
      yield* display.state("web", state())
      yield* display.note("job", { status: "waiting", text: "for web (healthy)", tone: "info" })
      yield* display.message("hello")
      yield* display.phase("stopping")
      assert.strictEqual(out.written.length, 1)
      assert.strictEqual((JSON.parse(out.written[0]!) as { service: string }).service, "web")
      assert.deepStrictEqual(err.written, [
        "job: waiting for web (healthy)\n",
        "hello\n",
        "stopping: removing every container\n"
      ])
    })
  )

  it.effect("plain: a line per significant change, none per stats sample", () =>
    Effect.gen(function* () {
      const out = sink()
      const display = yield* Output.plain({ out: out.sink, simulated: true })
      yield* display.state("web", state())
      yield* display.state("web", state({ cpuPercent: 50 }))
      yield* display.state("web", state({ health: "healthy" }))
      const lines = out.written.map((line) => line.replace(/^\d\d:\d\d:\d\d /, ""))
      assert.deepStrictEqual(lines, [
        "simulated: running on MemoryEngine, no real containers\n",
        "web: running, health starting\n",
        "web: running, health healthy\n"
      ])
    })
  )

  it.effect("tty: draws in place, shows the teardown, starts over after a resize, restores the cursor", () =>
    Effect.gen(function* () {
      const out = sink()
      let columns = 100
      yield* Effect.scoped(
        Effect.gen(function* () {
          const display = yield* Output.tty({
            out: out.sink,
            title: "effect-docker up demo.yaml",
            services: ["web", "job"],
            simulated: false,
            color: false,
            columns: () => columns
          })
          yield* display.state("web", state())
          yield* display.close
          assert.match(out.written.join(""), /web\s+running\s+starting/)
          yield* display.phase("stopping")
          assert.match(out.written.at(-1)!, /web\s+stopping/)
          columns = 60
          yield* display.close
          assert.isTrue(out.written.at(-1)!.startsWith("\x1b[H\x1b[2J"))
        })
      )
      assert.strictEqual(out.written[0], "\x1b[?25l")
      assert.strictEqual(out.written.at(-1), "\x1b[?25h")
    })
  )
})
