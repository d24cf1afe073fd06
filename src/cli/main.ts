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
import * as fs from "node:fs"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import {
  type Config,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Ref,
  type Result,
  Runtime,
  Stream
} from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type * as ContainerSpec from "../ContainerSpec.js"
import * as DockerEngine from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import * as MemoryEngine from "../MemoryEngine.js"
import * as Supervisor from "../Supervisor.js"
import * as Background from "./background.js"
import * as FleetConfig from "./config.js"
import type * as Fleet from "./Fleet.js"
import * as Instances from "./instances.js"
import * as Logs from "./logs.js"
import * as Outcome from "./outcome.js"
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

/** What `up` takes beyond the fleet's files, profiles and services. */
interface UpOptions extends Project.Request {
  readonly json: boolean
  readonly engine: EngineChoice
  readonly wait: boolean
  readonly waitTimeout: Option.Option<number>
  readonly abortOnContainerExit: boolean
  readonly abortOnContainerFailure: boolean
  readonly exitCodeFrom: Option.Option<string>
  readonly noLogPrefix: boolean
}

/** `up --wait` as the user runs it: the fleet goes to a background `up`, this one reports. */
const launchInBackground = (fleet: Fleet.Fleet, options: UpOptions) =>
  Effect.gen(function* () {
    const { simulated } = yield* chooseEngine(options.engine)
    if (simulated) {
      yield* stderr(
        "effect-docker up: --wait leaves the fleet running after this command: a simulated fleet (MemoryEngine) lives only inside it"
      )
      return yield* new ExitStatus({ code: 2 })
    }
    const app = appName(fleet)
    const instanceId = randomBytes(4).toString("hex")
    const log = Background.logFile(app, instanceId)
    yield* stderr(
      `effect-docker up --wait: app ${app} · instance ${instanceId} · runs in the background (log ${log})`
    )
    const outcome = yield* Background.launch({
      app,
      instanceId,
      progress: (text) => void process.stderr.write(`${text}\n`)
    })
    if (outcome._tag === "Ready") {
      yield* stdout(
        `${app} instance ${instanceId} is up (background pid ${outcome.pid}): \`effect-docker logs --instance ${instanceId} -f\` follows its output, \`effect-docker down --instance ${instanceId}\` stops it`
      )
      return
    }
    if (outcome._tag === "Failed") {
      yield* stderr(`effect-docker: ${outcome.reason} (everything it started is removed)`)
    } else {
      const tail = yield* Effect.sync(() => {
        try {
          return fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-10).join("\n")
        } catch {
          return ""
        }
      })
      yield* stderr(
        `${tail}\neffect-docker: the background up ended (exit ${outcome.code}) before the fleet was up; see ${log}`
      )
    }
    return yield* new ExitStatus({ code: 1 })
  })

/**
 * How the run of the fleet ended: on its own, by Ctrl-C, stopped because a container ended
 * (`--abort-on-container-*`, `--exit-code-from`), or (`--wait`, in the background process)
 * because the fleet cannot come up.
 */
type RunOutcome =
  | {
      readonly _tag: "Finished"
      readonly result: Result.Result<
        ReadonlyArray<Up.ServiceResult>,
        DockerError | Config.ConfigError | ContainerSpec.InvalidSpec
      >
    }
  | { readonly _tag: "Stopped" }
  | { readonly _tag: "Aborted"; readonly trigger: Up.Ended }
  | { readonly _tag: "NotUp"; readonly reason: string }

const up = (options: UpOptions) =>
  Effect.gen(function* () {
    const fleet = yield* Project.load(options, process.env, process.cwd())
    yield* Spec.validateAll(fleet)
    const flags: Outcome.Flags = {
      wait: options.wait,
      abortOnContainerExit: options.abortOnContainerExit,
      abortOnContainerFailure: options.abortOnContainerFailure,
      exitCodeFrom: Option.getOrUndefined(options.exitCodeFrom),
      json: options.json,
      simulated: options.engine === "memory"
    }
    const problem = Outcome.checkFlags(fleet, flags)
    if (problem !== undefined) {
      yield* stderr(`effect-docker up: ${problem}`)
      return yield* new ExitStatus({ code: 2 })
    }
    const background = options.wait ? Background.backgroundInstance(process.env) : undefined
    if (options.wait && background === undefined) return yield* launchInBackground(fleet, options)

    const { simulated } = yield* chooseEngine(options.engine)
    const app = appName(fleet)
    const instanceId = background ?? randomBytes(4).toString("hex")
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
    const replicas = fleet.services.flatMap(Up.replicaNames)
    const title = `effect-docker up ${fleet.files.join(" + ")} · app ${app} · instance ${instanceId}`
    const plainMode = !options.json && (background !== undefined || !process.stdout.isTTY)
    const display: Output.Display =
      background !== undefined
        ? yield* Output.plain({
            // To the launching command while it waits, and to the log file for good.
            out: {
              write: (text) => {
                process.stdout.write(text)
                Effect.runSync(Background.report({ _tag: "Line", text: text.trimEnd() }))
              }
            },
            simulated
          })
        : options.json
          ? Output.json({ out: process.stdout, err: process.stderr, simulated })
          : process.stdout.isTTY
            ? yield* Output.tty({
                out: process.stdout,
                title,
                services: replicas,
                simulated,
                color: View.useColor(process.env, true),
                columns: () => process.stdout.columns ?? 80
              })
            : yield* Output.plain({ out: process.stdout, simulated })
    if (plainMode) yield* display.message(title)
    const tableLogs =
      options.json || !process.stdout.isTTY || background !== undefined
        ? undefined
        : Logger.layer([
            Logger.make(({ logLevel, message }) => {
              if (!LogLevel.isGreaterThanOrEqualTo(logLevel, "Warn")) return
              const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
              Effect.runFork(display.message(`${logLevel.toLowerCase()}: ${text}`))
            })
          ])

    // What ends the run early, and what `--wait` watches: each replica's latest state and end.
    const mode = Outcome.abortOn(flags)
    const ended = yield* Ref.make<ReadonlyArray<Up.Ended>>([])
    const latest = yield* Ref.make<ReadonlyMap<string, View.ViewState>>(new Map())
    const aborted = yield* Deferred.make<Up.Ended>()
    const verdict = yield* Deferred.make<Outcome.WaitVerdict>()
    const verdictNow = Effect.gen(function* () {
      const endedMap = new Map((yield* Ref.get(ended)).map((e) => [e.service, e] as const))
      return Outcome.waitVerdict(replicas, yield* Ref.get(latest), endedMap)
    })
    const upScope = yield* Effect.scope
    const checkWait = Effect.gen(function* () {
      if (background === undefined || (yield* Deferred.isDone(verdict))) return
      const now = yield* verdictNow
      if (now._tag === "Failed") yield* Deferred.succeed(verdict, now)
      // Up for a second before it counts: a one-shot job that looked running for a moment
      // must be seen to complete (or fail), not reported up.
      if (now._tag === "Ready")
        yield* Effect.sleep("1 second").pipe(
          Effect.andThen(verdictNow),
          Effect.flatMap((later) =>
            later._tag === "Waiting" ? Effect.void : Deferred.succeed(verdict, later)
          ),
          Effect.forkIn(upScope)
        )
    })
    const watched: Up.Output = {
      state: (replica, state) =>
        display
          .state(replica, state)
          .pipe(
            Effect.andThen(Ref.update(latest, (seen) => new Map(seen).set(replica, state))),
            Effect.andThen(checkWait)
          ),
      note: display.note
    }
    const onEnd = (end: Up.Ended) =>
      Effect.gen(function* () {
        yield* Ref.update(ended, (so) => [...so, end])
        if (Outcome.stopsTheFleet(mode, fleet, end)) yield* Deferred.succeed(aborted, end)
        yield* checkWait
      })
    const timeoutSeconds = Option.getOrUndefined(options.waitTimeout)
    if (background !== undefined && timeoutSeconds !== undefined) {
      yield* Effect.gen(function* () {
        yield* Effect.sleep(Duration.seconds(timeoutSeconds))
        const endedMap = new Map((yield* Ref.get(ended)).map((e) => [e.service, e] as const))
        const seen = yield* Ref.get(latest)
        const now = Outcome.waitVerdict(replicas, seen, endedMap)
        yield* Deferred.succeed(
          verdict,
          now._tag === "Waiting"
            ? {
                _tag: "Failed",
                service: now.pending[0] ?? "",
                reason: `not up after ${timeoutSeconds}s: ${Outcome.describePending(now.pending, seen)}`
              }
            : now
        )
      }).pipe(Effect.forkScoped)
    }

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
          // Not a terminal: the containers' output goes with the state lines, as Compose prints it.
          if (plainMode && background === undefined) {
            const engine = yield* DockerEngine.DockerEngine
            const keys = Supervisor.labelKeys()
            yield* Logs.follow(
              engine,
              { labels: { [keys.instance]: instanceId }, services: [], withInstance: false },
              undefined
            ).pipe(
              Stream.runForEach((line) =>
                stdout(
                  Logs.formatLine(line, {
                    width: Math.max(...replicas.map((name) => name.length)),
                    prefix: !options.noLogPrefix,
                    timestamps: false,
                    color: false
                  })
                )
              ),
              Effect.catch((error) => display.message(`logs: ${error.message}`)),
              Effect.forkScoped
            )
          }
          return yield* Up.runFleet(
            fleet,
            (service, replica) => supervisor.run(Spec.toSpecInput(service, replica)),
            watched,
            describeRunError,
            { onEnd }
          )
        }).pipe(
          Effect.scoped,
          Effect.provide(
            Supervisor.layer({
              app,
              instanceId,
              ...(background === undefined
                ? {}
                : { labels: { [Background.backgroundLabel()]: Background.BACKGROUND_VALUE } })
            }).pipe(Layer.provideMerge(engineLayer))
          ),
          // On a TTY a log line would tear the table: warnings go under it, the rest is in the rows.
          tableLogs === undefined ? (effect) => effect : Effect.provide(tableLogs),
          Effect.result,
          restore,
          Effect.forkChild
        )
        const notUp = Deferred.await(verdict).pipe(
          Effect.flatMap((now) =>
            now._tag === "Failed"
              ? Effect.succeed<RunOutcome>({ _tag: "NotUp", reason: now.reason })
              : Effect.andThen(Background.report({ _tag: "Ready" }), Effect.never)
          )
        )
        const outcome = yield* Effect.raceAll<Effect.Effect<RunOutcome>>([
          Fiber.join(fleetFiber).pipe(Effect.map((result) => ({ _tag: "Finished", result }) as const)),
          Deferred.await(stopRequested).pipe(Effect.as({ _tag: "Stopped" } as const)),
          Deferred.await(aborted).pipe(Effect.map((trigger) => ({ _tag: "Aborted", trigger }) as const)),
          notUp
        ])
        if (outcome._tag !== "Finished") {
          if (outcome._tag === "Aborted")
            yield* display.message(
              `${outcome.trigger.service} ended (${outcome.trigger.exitCode === undefined ? "failed" : `exit ${outcome.trigger.exitCode}`}): stopping the fleet`
            )
          if (outcome._tag === "NotUp") yield* Background.report({ _tag: "Failed", reason: outcome.reason })
          yield* display.phase("stopping")
          yield* Fiber.interrupt(fleetFiber)
          yield* display.phase("stopped")
          yield* display.close
          if (outcome._tag === "Stopped") return 0
          if (outcome._tag === "NotUp") {
            yield* stderr(`effect-docker: ${outcome.reason}`)
            return 1
          }
          const status = Outcome.exitStatus(outcome.trigger, flags.exitCodeFrom, yield* Ref.get(ended))
          if (status.message !== undefined) yield* stderr(`effect-docker: ${status.message}`)
          return status.code
        }
        yield* display.phase("stopped")
        yield* display.close
        const result = outcome.result
        if (result._tag === "Failure") {
          yield* stderr(`effect-docker: ${result.failure.message}`)
          yield* Background.report({ _tag: "Failed", reason: result.failure.message })
          return 1
        }
        const failed = result.success.filter((service) => !service.ok)
        for (const service of failed)
          yield* stderr(`effect-docker: ${service.reason ?? `${service.service} failed`}`)
        // Every replica ended before --wait had its verdict (a fleet of jobs): that is the verdict.
        if (failed.length > 0)
          yield* Background.report({
            _tag: "Failed",
            reason: failed.map((f) => f.reason ?? f.service).join("; ")
          })
        else yield* Background.report({ _tag: "Ready" })
        if (flags.exitCodeFrom !== undefined) {
          const from = (yield* Ref.get(ended)).find((end) => end.of === flags.exitCodeFrom)
          return from?.exitCode ?? Up.exitStatus(result.success)
        }
        return Up.exitStatus(result.success)
      })
    )
    // A background up that ended well (stopped by `down`) leaves no log behind; a bad end keeps it.
    if (background !== undefined && code === 0)
      yield* Effect.sync(() => fs.rmSync(Background.logFile(app, instanceId), { force: true }))
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
    ),
    wait: Flag.Boolean("wait").pipe(
      Flag.withDescription(
        "Return once every service is running (healthy when it has a healthcheck) and the jobs completed; the fleet runs on in the background until `down` (exit 1 naming the service that did not come up)"
      ),
      Flag.withDefault(false)
    ),
    waitTimeout: Flag.Int("wait-timeout").pipe(
      Flag.withDescription("With --wait: give up (and remove the fleet) after this many seconds"),
      Flag.optional
    ),
    abortOnContainerExit: Flag.Boolean("abort-on-container-exit").pipe(
      Flag.withDescription("Stop the fleet when any container ends for good; exit with its exit code"),
      Flag.withDefault(false)
    ),
    abortOnContainerFailure: Flag.Boolean("abort-on-container-failure").pipe(
      Flag.withDescription("Stop the fleet when a container fails for good; exit with its exit code"),
      Flag.withDefault(false)
    ),
    exitCodeFrom: Flag.String("exit-code-from").pipe(
      Flag.withDescription("Exit with this service's exit code (implies --abort-on-container-exit)"),
      Flag.optional
    ),
    noLogPrefix: Flag.Boolean("no-log-prefix").pipe(
      Flag.withDescription("Print the containers' output without the service name (when not on a terminal)"),
      Flag.withDefault(false)
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
    volumes: Flag.Boolean("volumes").pipe(
      Flag.withAlias("v"),
      Flag.withDescription(
        "Also remove the app's volumes (the fleet file's top-level volumes, kept across `up` runs otherwise)"
      ),
      Flag.withDefault(false)
    ),
    app: appFlag
  },
  ({ instance, all, force, volumes, app }) =>
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
          // --all would stop containers under processes that still run them: they must ask for
          // it. A background `up --wait` runs until `down`: that is what stops it.
          const live = all && !force ? Instances.withLiveOwner(chosen).filter((i) => !i.background) : []
          if (live.length > 0) {
            const named = live.map((i) => `${i.app}/${i.instance} (owner ${Instances.describeOwner(i)})`)
            yield* stderr(
              `effect-docker down: ${live.length} instance(s) have an owner that still runs: ${named.join(", ")}; nothing removed. Stop them (Ctrl-C in their terminal), remove one with --instance ID, or give --force to remove them all anyway`
            )
            return yield* new ExitStatus({ code: 1 })
          }
          // A background `up` is told to stop (its own teardown, as Ctrl-C): removing its
          // containers under it would have its restart policies fight the removal.
          const owned = chosen.filter((i) => i.background && i.ownerStatus === "alive")
          for (const i of owned) {
            const ended = yield* Background.stop(i.owner, "2 minutes")
            if (!ended)
              yield* stderr(
                `effect-docker down: ${i.app}/${i.instance}: its owner did not stop; removing its containers`
              )
          }
          const ids = new Set(chosen.map((i) => i.instance))
          const left =
            owned.length === 0
              ? chosen
              : (yield* Instances.list(engine, selectionOf(app))).filter((i) => ids.has(i.instance))
          yield* Instances.remove(engine, left)
          // Compose's `down -v`: the app volumes go through a short-lived Supervisor of each app.
          const apps = Option.isSome(app) ? [app.value] : [...new Set(chosen.map((i) => i.app))]
          let removedVolumes = 0
          for (const name of volumes ? apps : []) {
            removedVolumes += yield* Effect.scoped(
              Effect.flatMap(Supervisor.make({ app: name }), (supervisor) => supervisor.removeAppVolumes())
            ).pipe(
              Effect.provideService(DockerEngine.DockerEngine, engine),
              Effect.catchTag("InvalidSpec", (error) =>
                Effect.andThen(stderr(`effect-docker down: ${error.message}`), new ExitStatus({ code: 2 }))
              )
            )
          }
          yield* stdout(
            `removed ${chosen.length} instance(s): ${chosen.reduce((n, i) => n + i.containers.length, 0)} container(s), ${chosen.reduce((n, i) => n + i.networks.length, 0)} network(s)${volumes ? `, ${removedVolumes} volume(s)` : ""}`
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    "Stop and remove an instance (--instance ID) or every instance (--all; --force while an owner runs)"
  )
)

const logsCommand = Command.make(
  "logs",
  {
    // `-f` is --follow here, as in Compose (whose -f FILE goes before the command).
    files: Flag.String("file").pipe(
      Flag.withDescription(
        "The fleet file whose app to show (default: COMPOSE_FILE, else compose.yaml, ...)"
      ),
      Flag.atLeast(0)
    ),
    profiles: fleetFlags.profiles,
    services: Argument.String("service").pipe(
      Argument.withDescription("Only these services (and their replicas)"),
      Argument.variadic()
    ),
    follow: Flag.Boolean("follow").pipe(
      Flag.withAlias("f"),
      Flag.withDescription("Keep printing what the containers write, across restarts, until Ctrl-C"),
      Flag.withDefault(false)
    ),
    tail: Flag.Int("tail").pipe(
      Flag.withAlias("n"),
      Flag.withDescription("Only the last N lines of each container (default: all)"),
      Flag.optional
    ),
    timestamps: Flag.Boolean("timestamps").pipe(
      Flag.withAlias("t"),
      Flag.withDescription("Show the time each line was written"),
      Flag.withDefault(false)
    ),
    noLogPrefix: Flag.Boolean("no-log-prefix").pipe(
      Flag.withDescription("Print the lines without the service name"),
      Flag.withDefault(false)
    ),
    instance: Flag.String("instance").pipe(Flag.withDescription("Only this instance"), Flag.optional),
    app: Flag.String("app").pipe(
      Flag.withDescription("Only this app's instances (default: the fleet file's app, else every app)"),
      Flag.optional
    )
  },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function* () {
        const keys = Supervisor.labelKeys()
        // Which app: --app, else the fleet file's (as Compose reads the project), else all.
        const app = Option.isSome(options.app)
          ? options.app.value
          : Option.isSome(options.instance)
            ? undefined
            : yield* Project.load(
                { files: options.files, args: [], profiles: options.profiles },
                process.env,
                process.cwd()
              ).pipe(
                Effect.map(appName),
                Effect.catchTag("FleetError", (error) =>
                  options.files.length > 0
                    ? Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
                    : Effect.succeed(undefined)
                )
              )
        const labels = {
          [keys.app]: app ?? (true as const),
          ...(Option.isSome(options.instance) ? { [keys.instance]: options.instance.value } : {})
        }
        const instances = yield* Instances.list(engine, { app })
        const only = Option.getOrUndefined(options.instance)
        const shown = only === undefined ? instances : instances.filter((i) => i.instance === only)
        if (only !== undefined && shown.length === 0) {
          yield* stderr(`effect-docker logs: no instance ${only}`)
          return yield* new ExitStatus({ code: 1 })
        }
        const selection: Logs.Selection = {
          labels,
          services: options.services,
          withInstance: shown.length > 1
        }
        const names = shown.flatMap((i) =>
          i.containers.map((c) => Logs.nameOf(c.labels, selection, c.names[0] ?? c.id))
        )
        const format: Logs.Format = {
          width: Math.max(0, ...names.map((name) => name.length)),
          prefix: !options.noLogPrefix,
          timestamps: options.timestamps,
          color: View.useColor(process.env, process.stdout.isTTY === true)
        }
        const tail = Option.getOrUndefined(options.tail)
        if (!options.follow) {
          for (const line of yield* Logs.backlog(engine, selection, tail))
            yield* stdout(Logs.formatLine(line, format))
          return
        }
        yield* Logs.follow(engine, selection, tail).pipe(
          Stream.runForEach((line) => stdout(Logs.formatLine(line, format)))
        )
      })
    )
).pipe(
  Command.withDescription(
    "Print the containers' output, merged, each line after its service's name (-f follows, across restarts)"
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
  Command.withSubcommands([upCommand, configCommand, psCommand, logsCommand, downCommand, sweepCommand])
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
