// The README's example, kept here so that the typecheck holds it true.
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import { DockerEngine, RestartPolicy, Supervisor } from "../src/index.js"

const program = Effect.gen(function* () {
  const supervisor = yield* Supervisor.Supervisor
  yield* supervisor
    .run({
      name: "worker",
      image: "busybox:latest",
      command: ["sh", "-c", "sleep 2; exit 1"],
      restartPolicy: RestartPolicy.onFailure({ maxRetries: 2 })
    })
    .pipe(
      Stream.tap((state) => Console.log(state.status, state.restartCount, state.exitCode)),
      Stream.runDrain
    )
})

program.pipe(
  Effect.provide(Supervisor.layer({ app: "demo" })),
  Effect.provide(DockerEngine.layer),
  NodeRuntime.runMain
)
