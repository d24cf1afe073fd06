/**
 * What the `effect-docker` commands share: the {@link ExitStatus} that ends the program, the
 * stdout/stderr line writers, the engine for `ps`/`down`/`logs`/`sweep` ({@link withEngine}),
 * the engine `up` runs on ({@link chooseEngine}), and the flags several commands take
 * (`--app`, `-f FILE`, `--profile`).
 *
 * @since 0.1.0
 */
import { Data, Effect, Option, Runtime } from "effect"
import { Flag } from "effect/cli"
import * as DockerEngine from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import type * as Fleet from "../Fleet.js"
import type * as Instances from "../instances.js"
import * as Project from "../project.js"

/**
 * Ends the program with an exit status, after the CLI has said why.
 *
 * @since 0.1.0
 */
export class ExitStatus extends Data.TaggedError("ExitStatus")<{ readonly code: number }> {
  override readonly [Runtime.errorExitCode]: number = this.code
  override readonly [Runtime.errorReported] = false
}

/** Writes one line to stderr. */
export const stderr = (text: string) => Effect.sync(() => void process.stderr.write(`${text}\n`))
/** Writes one line to stdout. */
export const stdout = (text: string) => Effect.sync(() => void process.stdout.write(`${text}\n`))

/** `demo.yaml` → `demo`: the app label and the container name prefix, when the file has no `name`. */
export const appName = (fleet: Fleet.Fleet): string => Project.appName(fleet)

/** How `--engine` chooses: Docker, the simulated MemoryEngine, or Docker when it answers. */
export type EngineChoice = "docker" | "memory" | "auto"

/**
 * The engine to run on: Docker (the default) or MemoryEngine, as asked; `auto` is Docker when it
 * answers, else MemoryEngine with a notice. Never simulated unless asked: a CI job without an
 * engine must fail, not pass on a simulation.
 */
export const chooseEngine = (choice: EngineChoice) =>
  Effect.gen(function* () {
    if (choice === "memory") return { simulated: true } as const
    const reachable = yield* Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      yield* engine.ping.pipe(Effect.timeout("5 seconds"))
    }).pipe(Effect.provide(DockerEngine.layer), Effect.result)
    if (reachable._tag === "Success") return { simulated: false } as const
    const why = "message" in reachable.failure ? String(reachable.failure.message) : String(reachable.failure)
    if (choice === "docker") {
      yield* stderr(why)
      yield* stderr(
        "(--engine memory, or --engine auto, runs the fleet on the simulated MemoryEngine instead)"
      )
      return yield* new ExitStatus({ code: 1 })
    }
    yield* stderr(`${why.split("\n")[0]} Running the fleet on MemoryEngine (simulated).`)
    return { simulated: true } as const
  })

/**
 * `--swarm` needs the engine to manage a swarm: otherwise it says so and ends with 1, before
 * anything is deployed.
 */
export const requireSwarmManager = Effect.gen(function* () {
  const engine = yield* DockerEngine.DockerEngine
  yield* engine.swarmInspect
}).pipe(
  Effect.provide(DockerEngine.layer),
  Effect.catchTag("DockerError", (error) =>
    Effect.andThen(
      stderr(
        error.reason === "NotSwarmManager"
          ? "effect-docker: --swarm needs a swarm manager: the engine (DOCKER_HOST or the local socket) is not one (docker swarm init makes it one, or point DOCKER_HOST at a manager node)"
          : `effect-docker: ${error.message}`
      ),
      new ExitStatus({ code: 1 })
    )
  ),
  Effect.catchTag("ConfigError", (error) =>
    Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
  )
)

/** Runs `f` on the Docker engine: an engine failure is said on stderr and ends with 1, a bad engine config with 2. */
export const withEngine = <A>(
  f: (engine: DockerEngine.DockerEngineShape) => Effect.Effect<A, DockerError | ExitStatus>
) =>
  Effect.gen(function* () {
    return yield* f(yield* DockerEngine.DockerEngine)
  }).pipe(
    Effect.provide(DockerEngine.layer),
    Effect.catchTag("DockerError", (error) =>
      Effect.andThen(stderr(error.message), new ExitStatus({ code: 1 }))
    ),
    Effect.catchTag("ConfigError", (error) =>
      Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
    )
  )

export const appFlag = Flag.String("app").pipe(
  Flag.withDescription("Only this app's instances (default: every app)"),
  Flag.optional
)

/** `--app` as an {@link Instances.Selection}. */
export const selectionOf = (app: Option.Option<string>): Instances.Selection => ({
  app: Option.getOrUndefined(app)
})

/** `-f FILE` (repeatable, merged in order) and `--profile NAME` (repeatable), as Compose takes them. */
export const fleetFlags = {
  files: Flag.String("file").pipe(
    Flag.withAlias("f"),
    Flag.withDescription(
      "A fleet file (Compose subset, YAML or JSON); repeat to merge several (default: COMPOSE_FILE, else compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)"
    ),
    Flag.atLeast(0)
  ),
  profiles: Flag.String("profile").pipe(
    Flag.withDescription("Enable the services of this profile; repeatable (default: COMPOSE_PROFILES)"),
    Flag.atLeast(0)
  )
}
