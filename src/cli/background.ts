/**
 * `up --wait`: the fleet keeps running after the command returns, so it runs in a background
 * `effect-docker up` of its own (the instance's owner, like every `up`: its containers stay
 * supervised, restarted by their policies, and torn down when it is told to stop). This is
 * both sides of that: the command the user ran launches it, relays its progress and returns
 * once it reports the fleet up (or failed); the background process reports over the IPC
 * channel Node opens between them, and writes its own diagnostics to a log file.
 *
 * `down --instance ID` stops it with SIGTERM (a clean teardown, as Ctrl-C is); the instances it
 * runs carry the {@link backgroundLabel} so `down --all` knows it may stop them.
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Duration, Effect, Option, Schedule } from "effect"
import * as Supervisor from "../Supervisor.js"

/** Set in the background process's environment to the instance id it is to run. */
const INSTANCE_ENV = "EFFECT_DOCKER_BACKGROUND_INSTANCE"

/**
 * The label (under the library's prefix) on every container and network of a background
 * instance: stopping its owner is how it is taken down.
 *
 * @since 0.1.0
 */
export const backgroundLabel = (labelPrefix?: string): string =>
  `${Supervisor.labelKeys(labelPrefix).prefix}cli`

/** @since 0.1.0 */
export const BACKGROUND_VALUE = "up-wait"

/**
 * What the background process tells the command that launched it.
 *
 * @since 0.1.0
 */
export type Message =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Failed"; readonly reason: string }

const isMessage = (value: unknown): value is Message =>
  typeof value === "object" &&
  value !== null &&
  "_tag" in value &&
  (value._tag === "Line" || value._tag === "Ready" || value._tag === "Failed")

/**
 * The instance id this process is to run in the background, when it is the background `up`
 * (launched by {@link launch}, with its IPC channel).
 *
 * @since 0.1.0
 */
export const backgroundInstance = (env: Readonly<Record<string, string | undefined>>): string | undefined =>
  process.send === undefined ? undefined : env[INSTANCE_ENV]

/**
 * Tells the launching command something; nothing once it has returned (and disconnected).
 *
 * @since 0.1.0
 */
export const report = (message: Message): Effect.Effect<void> =>
  Effect.sync(() => {
    if (process.connected && process.send !== undefined) process.send(message)
  })

/**
 * Where the background process of an instance writes its diagnostics.
 *
 * @since 0.1.0
 */
export const logFile = (app: string, instanceId: string): string =>
  path.join(os.tmpdir(), `effect-docker-${app}-${instanceId}.log`)

/**
 * How the wait ended for the launching command.
 *
 * @since 0.1.0
 */
export type Outcome =
  | { readonly _tag: "Ready"; readonly pid: number }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Died"; readonly code: number | null }

const exited = (child: ChildProcess): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/**
 * Launches this same command line in the background for `instanceId`, relays its progress
 * lines to `progress`, and returns once it reports the fleet up (it then runs on alone), or
 * failed (once it has removed what it started). Interrupted (Ctrl-C), it stops the background
 * process and waits for its teardown.
 *
 * @since 0.1.0
 */
export const launch = (options: {
  readonly app: string
  readonly instanceId: string
  readonly progress: (text: string) => void
}): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const log = logFile(options.app, options.instanceId)
    const fd = fs.openSync(log, "a")
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      cwd: process.cwd(),
      env: { ...process.env, [INSTANCE_ENV]: options.instanceId },
      // Its own session: closing this terminal does not stop the fleet.
      detached: true,
      stdio: ["ignore", fd, fd, "ipc"]
    })
    fs.closeSync(fd)
    const outcome = yield* Effect.callback<Outcome>((resume) => {
      let failure: string | undefined
      child.on("message", (message: unknown) => {
        if (!isMessage(message)) return
        if (message._tag === "Line") options.progress(message.text)
        else if (message._tag === "Ready") resume(Effect.succeed({ _tag: "Ready", pid: child.pid ?? 0 }))
        else failure = message.reason
      })
      child.once("exit", (code) =>
        resume(
          Effect.succeed(failure === undefined ? { _tag: "Died", code } : { _tag: "Failed", reason: failure })
        )
      )
      return Effect.suspend(() => {
        child.kill("SIGTERM")
        return exited(child)
      })
    })
    if (outcome._tag === "Ready") {
      child.removeAllListeners()
      child.disconnect()
      child.unref()
    }
    return outcome
  })

/**
 * Stops a background `up` (same host) with SIGTERM and waits up to `timeout` for its process
 * to end, which happens once its teardown is done. Whether it ended.
 *
 * @since 0.1.0
 */
export const stop = (ownerLabel: string | undefined, timeout: Duration.Input): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const owner = Supervisor.ownerOf(ownerLabel)
    if (owner === undefined || owner.status !== "alive") return true
    yield* Effect.sync(() => {
      try {
        process.kill(owner.pid, "SIGTERM")
      } catch {
        // Gone in between: nothing to stop.
      }
    })
    const gone = Effect.sync(() => Supervisor.ownerOf(ownerLabel)?.status !== "alive")
    return yield* gone.pipe(
      Effect.repeat({ until: (isGone) => isGone, schedule: Schedule.spaced("200 millis") }),
      Effect.timeoutOption(timeout),
      Effect.map(Option.isSome)
    )
  })
