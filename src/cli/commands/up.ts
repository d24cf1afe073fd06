/**
 * `effect-docker up`: runs a fleet with a live view (or plain lines, or NDJSON) until Ctrl-C or
 * until every service has ended; `--abort-on-container-*` and `--exit-code-from` stop it early;
 * `--wait` hands the fleet to a background `up` and reports once it is up.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import {
  type Config,
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
  Stream
} from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type * as ContainerSpec from "../../ContainerSpec.js"
import * as DockerEngine from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"
import * as MemoryEngine from "../../MemoryEngine.js"
import * as Supervisor from "../../Supervisor.js"
import * as Background from "../background.js"
import type * as Fleet from "../Fleet.js"
import * as Logs from "../logs.js"
import * as Outcome from "../outcome.js"
import * as Output from "../output.js"
import * as Project from "../project.js"
import * as Spec from "../spec.js"
import * as Swarm from "../swarm.js"
import * as Up from "../up.js"
import * as View from "../view.js"
import {
  appName,
  chooseEngine,
  type EngineChoice,
  ExitStatus,
  fleetFlags,
  requireSwarmManager,
  stderr,
  stdout
} from "./shared.js"

const describeRunError = (error: Supervisor.RunError): string =>
  error._tag === "InvalidSpec" ? `${error.field}: ${error.message}` : error.message
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
  readonly swarm: boolean
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
    const target: Spec.Target = options.swarm ? "swarm" : "host"
    yield* Spec.validateAll(fleet, target)
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
    if (options.swarm && !simulated) yield* requireSwarmManager
    const app = appName(fleet)
    const instanceId = background ?? randomBytes(4).toString("hex")
    const engineLayer: Layer.Layer<DockerEngine.DockerEngine, DockerError | Config.ConfigError> = simulated
      ? MemoryEngine.layer({
          // A simulated swarm of three nodes: the manager (this engine) and two workers.
          ...(options.swarm ? { swarm: { nodes: 3 } } : {}),
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
    if (options.swarm) {
      const notice = Swarm.dependsOnNotice(fleet)
      if (notice !== undefined) yield* display.message(notice)
    }
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
          // On Swarm the tasks run on other nodes' engines: their output comes through the manager.
          if (plainMode && background === undefined) {
            const engine = yield* DockerEngine.DockerEngine
            const keys = Supervisor.labelKeys()
            const selection: Logs.Selection = {
              labels: { [keys.instance]: instanceId },
              services: [],
              withInstance: false
            }
            yield* (
              options.swarm
                ? Logs.swarmFollow(engine, selection, undefined)
                : Logs.follow(engine, selection, undefined)
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
            (service, replica) => supervisor.run(Spec.toSpecInput(service, replica, target)),
            watched,
            describeRunError,
            { onEnd, oneRunPerService: options.swarm, orderingOnly: options.swarm }
          )
        }).pipe(
          Effect.scoped,
          Effect.provide(
            (options.swarm ? Supervisor.layerSwarm : Supervisor.layer)({
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

/** The `up` command. */
export const upCommand = Command.make(
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
    swarm: Flag.Boolean("swarm").pipe(
      Flag.withDescription(
        "Deploy the fleet as Swarm services on the engine, which must be a swarm manager: deploy.replicas, placement, restart_policy and update_config are Swarm's; depends_on orders the deployment only"
      ),
      Flag.withDefault(false)
    ),
    noLogPrefix: Flag.Boolean("no-log-prefix").pipe(
      Flag.withDescription("Print the containers' output without the service name (when not on a terminal)"),
      Flag.withDefault(false)
    )
  },
  up
).pipe(Command.withDescription("Run a fleet with a live view until Ctrl-C or until every service has ended"))
