/**
 * The `effect-docker` command line: `up`, `ps`, `down`, `sweep`, built with `effect/cli`.
 *
 * Exit status: 0 when everything ended well or the user pressed Ctrl-C (after a clean
 * teardown), 1 when a service failed for good or the engine failed, 2 for a bad fleet file or
 * bad flags.
 *
 * @example
 * ```ts
 * import * as NodeServices from "@effect/platform-node/NodeServices"
 * import { Effect } from "effect"
 * import * as Main from "./cli/main.js"
 *
 * Main.program.pipe(Effect.provide(NodeServices.layer), Main.runMain)
 * ```
 *
 * @since 0.1.0
 */

import { randomBytes } from "node:crypto"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import {
  type Config,
  Data,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Runtime
} from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as DockerEngine from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as MemoryEngine from "../MemoryEngine.js"
import * as Supervisor from "../Supervisor.js"
import * as FleetConfig from "./config.js"
import type * as Fleet from "./Fleet.js"
import * as Instances from "./instances.js"
import * as Output from "./output.js"
import * as Project from "./project.js"
import * as Spec from "./spec.js"
import * as Up from "./up.js"
import * as View from "./view.js"

/**
 * Ends the program with an exit status, after the CLI has said why.
 *
 * @since 0.1.0
 */
export class ExitStatus extends Data.TaggedError("ExitStatus")<{ readonly code: number }> {
  override readonly [Runtime.errorExitCode]: number = this.code
  override readonly [Runtime.errorReported] = false
}

const stderr = (text: string) => Effect.sync(() => void process.stderr.write(`${text}\n`))
const stdout = (text: string) => Effect.sync(() => void process.stdout.write(`${text}\n`))

/** `demo.yaml` → `demo`: the app label and the container name prefix, when the file has no `name`. */
export const appName = (fleet: Fleet.Fleet): string => Project.appName(fleet)

const describeRunError = (error: Supervisor.RunError): string =>
  error._tag === "InvalidSpec" ? `${error.field}: ${error.message}` : error.message

// ---------------------------------------------------------------------------------------------
// up
// ---------------------------------------------------------------------------------------------

type EngineChoice = "docker" | "memory" | "auto"

/**
 * The engine to run on: Docker (the default) or MemoryEngine, as asked; `auto` is Docker when it
 * answers, else MemoryEngine with a notice. Never simulated unless asked: a CI job without an
 * engine must fail, not pass on a simulation.
 */
const chooseEngine = (choice: EngineChoice) =>
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

const up = (options: Project.Request & { readonly json: boolean; readonly engine: EngineChoice }) =>
  Effect.gen(function* () {
    const fleet = yield* Project.load(options, process.env, process.cwd())
    yield* Spec.validateAll(fleet)
    const { simulated } = yield* chooseEngine(options.engine)
    const app = appName(fleet)
    const instanceId = randomBytes(4).toString("hex")
    const engineLayer: Layer.Layer<DockerEngine.DockerEngine, DockerError | Config.ConfigError> = simulated
      ? MemoryEngine.layer({
          images: [...new Set(fleet.services.map((service) => service.image))],
          containers: Object.fromEntries(
            fleet.services.flatMap((service) =>
              Up.replicaNames(service).map((replica) => [
                `${app}-${instanceId}-${replica}`,
                Spec.simulationScript(service, fleet)
              ])
            )
          )
        })
      : DockerEngine.layer
    const title = `effect-docker up ${fleet.files.join(" + ")} · app ${app} · instance ${instanceId}`
    const display: Output.Display = options.json
      ? Output.json({ out: process.stdout, err: process.stderr, simulated })
      : process.stdout.isTTY
        ? yield* Output.tty({
            out: process.stdout,
            title,
            services: fleet.services.flatMap(Up.replicaNames),
            simulated,
            color: View.useColor(process.env, true),
            columns: () => process.stdout.columns ?? 80
          })
        : yield* Output.plain({ out: process.stdout, simulated })
    if (!options.json && !process.stdout.isTTY) yield* display.message(title)
    const tableLogs =
      options.json || !process.stdout.isTTY
        ? undefined
        : Logger.layer([
            Logger.make(({ logLevel, message }) => {
              if (!LogLevel.isGreaterThanOrEqualTo(logLevel, "Warn")) return
              const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
              Effect.runFork(display.message(`${logLevel.toLowerCase()}: ${text}`))
            })
          ])

    // Ctrl-C (and SIGTERM) start the teardown; the runtime's own interrupt waits until the
    // region below is done, so the view can show the teardown, and a second Ctrl-C cannot
    // cut it short and leave containers behind.
    const code = yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const stopRequested = yield* Deferred.make<void>()
        let signals = 0
        const onSignal = () => {
          signals++
          if (signals === 1) Deferred.doneUnsafe(stopRequested, Exit.void)
          else
            Effect.runFork(
              display.message("Still removing containers: Ctrl-C again is ignored until that is done.")
            )
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            process.on("SIGINT", onSignal)
            process.on("SIGTERM", onSignal)
          }),
          () =>
            Effect.sync(() => {
              process.off("SIGINT", onSignal)
              process.off("SIGTERM", onSignal)
            })
        )
        const fleetFiber = yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          return yield* Up.runFleet(
            fleet,
            (service, replica) => supervisor.run(Spec.toSpecInput(service, replica)),
            display,
            describeRunError
          )
        }).pipe(
          Effect.provide(Supervisor.layer({ app, instanceId }).pipe(Layer.provide(engineLayer))),
          // On a TTY a log line would tear the table: warnings go under it, the rest is in the rows.
          tableLogs === undefined ? (effect) => effect : Effect.provide(tableLogs),
          Effect.result,
          restore,
          Effect.forkChild
        )
        const outcome = yield* Effect.raceFirst(
          Fiber.join(fleetFiber).pipe(Effect.map((result) => ({ _tag: "Finished", result }) as const)),
          Deferred.await(stopRequested).pipe(Effect.as({ _tag: "Stopped" } as const))
        )
        if (outcome._tag === "Stopped") {
          yield* display.phase("stopping")
          yield* Fiber.interrupt(fleetFiber)
          yield* display.phase("stopped")
          yield* display.close
          return 0
        }
        yield* display.phase("stopped")
        yield* display.close
        const result = outcome.result
        if (result._tag === "Failure") {
          yield* stderr(`effect-docker: ${result.failure.message}`)
          return 1
        }
        const failed = result.success.filter((service) => !service.ok)
        for (const service of failed)
          yield* stderr(`effect-docker: ${service.reason ?? `${service.service} failed`}`)
        return Up.exitStatus(result.success)
      })
    )
    if (code !== 0) return yield* new ExitStatus({ code })
  }).pipe(
    Effect.scoped,
    Effect.catchTag("FleetError", (error) =>
      Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
    )
  )

// ---------------------------------------------------------------------------------------------
// ps, down, sweep
// ---------------------------------------------------------------------------------------------

const withEngine = <A>(
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

const appFlag = Flag.String("app").pipe(
  Flag.withDescription("Only this app's instances (default: every app)"),
  Flag.optional
)

const selectionOf = (app: Option.Option<string>): Instances.Selection => ({ app: Option.getOrUndefined(app) })

/** `-f FILE` (repeatable, merged in order) and `--profile NAME` (repeatable), as Compose takes them. */
const fleetFlags = {
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

const upCommand = Command.make(
  "up",
  {
    ...fleetFlags,
    args: Argument.String("service").pipe(
      Argument.withDescription(
        "Only these services and what they depend on (a fleet file here is read as -f FILE)"
      ),
      Argument.variadic()
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Write one NDJSON ContainerState per change on stdout instead of the live view"),
      Flag.withDefault(false)
    ),
    engine: Flag.Literals("engine", ["docker", "memory", "auto"]).pipe(
      Flag.withDescription(
        "docker (DOCKER_HOST or the local socket; exit 1 when it does not answer), memory (simulated) or auto (docker when it answers, else memory)"
      ),
      Flag.withDefault("docker")
    )
  },
  up
).pipe(Command.withDescription("Run a fleet with a live view until Ctrl-C or until every service has ended"))

const configCommand = Command.make(
  "config",
  {
    ...fleetFlags,
    args: Argument.String("service").pipe(
      Argument.withDescription("Only these services and what they depend on"),
      Argument.variadic()
    )
  },
  (options) =>
    Effect.gen(function* () {
      const fleet = yield* Project.load(options, process.env, process.cwd())
      yield* Effect.sync(() => void process.stdout.write(FleetConfig.render(fleet, appName(fleet))))
    }).pipe(
      Effect.catchTag("FleetError", (error) =>
        Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
      )
    )
).pipe(
  Command.withDescription("Print the fleet as understood (interpolated, merged, defaults filled in) as YAML")
)

const psCommand = Command.make(
  "ps",
  {
    app: appFlag,
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("One JSON object per instance"),
      Flag.withDefault(false)
    )
  },
  ({ app, json }) =>
    withEngine((engine) =>
      Effect.gen(function* () {
        const instances = yield* Instances.list(engine, selectionOf(app))
        if (json) {
          for (const instance of instances) yield* stdout(JSON.stringify(instance))
        } else {
          for (const line of Instances.render(instances)) yield* stdout(line)
        }
      })
    )
).pipe(Command.withDescription("List the instances and their containers (status, health, age, owner alive)"))

const downCommand = Command.make(
  "down",
  {
    instance: Flag.String("instance").pipe(Flag.withDescription("Remove this instance"), Flag.optional),
    all: Flag.Boolean("all").pipe(
      Flag.withDescription("Remove every instance (refused while an owner runs, unless --force)"),
      Flag.withDefault(false)
    ),
    force: Flag.Boolean("force").pipe(
      Flag.withDescription("With --all: also remove the instances whose process still runs"),
      Flag.withDefault(false)
    ),
    app: appFlag
  },
  ({ instance, all, force, app }) =>
    Effect.gen(function* () {
      if (Option.isSome(instance) === all) {
        yield* stderr("effect-docker down: give either --instance ID or --all")
        return yield* new ExitStatus({ code: 2 })
      }
      yield* withEngine((engine) =>
        Effect.gen(function* () {
          const found = yield* Instances.list(engine, selectionOf(app))
          const chosen = Option.isSome(instance) ? found.filter((i) => i.instance === instance.value) : found
          if (Option.isSome(instance) && chosen.length === 0) {
            yield* stderr(`effect-docker down: no instance ${instance.value}`)
            return yield* new ExitStatus({ code: 1 })
          }
          // --all would stop containers under processes that still run them: they must ask for it.
          const live = all && !force ? Instances.withLiveOwner(chosen) : []
          if (live.length > 0) {
            const named = live.map((i) => `${i.app}/${i.instance} (owner ${Instances.describeOwner(i)})`)
            yield* stderr(
              `effect-docker down: ${live.length} instance(s) have an owner that still runs: ${named.join(", ")}; nothing removed. Stop them (Ctrl-C in their terminal), remove one with --instance ID, or give --force to remove them all anyway`
            )
            return yield* new ExitStatus({ code: 1 })
          }
          const removed = yield* Instances.remove(engine, chosen)
          yield* stdout(
            `removed ${chosen.length} instance(s): ${removed.containers} container(s), ${removed.networks} network(s)`
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    "Stop and remove an instance (--instance ID) or every instance (--all; --force while an owner runs)"
  )
)

const sweepCommand = Command.make("sweep", { app: appFlag }, ({ app }) =>
  withEngine((engine) =>
    Effect.gen(function* () {
      const removed = yield* Instances.sweep(engine, selectionOf(app))
      yield* stdout(
        `removed ${removed.instances} stale instance(s): ${removed.containers} container(s), ${removed.networks} network(s)`
      )
    })
  )
).pipe(Command.withDescription("Remove the instances whose process is gone (crashed, killed)"))

/**
 * The whole command tree.
 *
 * @since 0.1.0
 */
export const cli = Command.make("effect-docker").pipe(
  Command.withDescription("Run and supervise Docker containers as Effect resources"),
  Command.withSubcommands([upCommand, configCommand, psCommand, downCommand, sweepCommand])
)

/**
 * The CLI over `process.argv`. Bad flags (help already shown) end with exit status 2.
 *
 * @since 0.1.0
 */
export const program = Command.run(cli, { version: "0.1.0" }).pipe(
  Effect.catchIf(
    (error): error is Exclude<typeof error, ExitStatus> => error._tag !== "ExitStatus",
    (error) =>
      error._tag === "ShowHelp" && error.errors.length === 0 ? Effect.void : new ExitStatus({ code: 2 })
  ),
  // Logs go to stderr: with --json, stdout carries only NDJSON.
  Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatSimple)]))
)

/**
 * `NodeRuntime.runMain` with one change: an interrupt (Ctrl-C before `up` took over the
 * signal) ends with 0, as a teardown the user asked for, not 130.
 *
 * @since 0.1.0
 */
export const runMain = <E, A>(effect: Effect.Effect<A, E>): void =>
  NodeRuntime.runMain(effect, {
    teardown: (exit, onExit) => Runtime.defaultTeardown(exit, (code) => onExit(code === 130 ? 0 : code))
  })
