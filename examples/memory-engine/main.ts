/**
 * Runs the job on a MemoryEngine in real time (a simulation: no Docker needed), scripted
 * like a flaky night: the database takes 1 s to turn healthy, the worker prints and exits.
 *
 *   npx tsc -p examples/memory-engine && node node_modules/.cache/effect-docker-examples/examples/memory-engine/main.js
 */
import { Console, Effect } from "effect"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import { runJob } from "./app.js"

const simulated = MemoryEngine.layer({
  images: ["busybox:latest"],
  containers: {
    "nightly-db": { health: [{ at: "1 second", status: "healthy" }] },
    "nightly-worker": {
      logs: [{ text: "connecting to db" }, { text: "42 rows exported", at: "1 second" }],
      exit: { after: "2 seconds", code: 0 }
    }
  }
})

const program = runJob({ name: "nightly", image: "busybox:latest", command: ["./report"] }).pipe(
  Effect.tap((lines) => Console.log(`job done (simulated engine): ${lines.join(" / ")}`)),
  Effect.provide(simulated)
)

Effect.runPromise(program).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
