/**
 * `exec` in the in-memory engine: the command answered by the container's script (its
 * `exec` function), Docker's own answer for a command the container does not have, the
 * `exec_create`, `exec_start` and `exec_die` events, and a command that outlives an
 * interrupted caller, as on Docker, where closing the stream does not stop the exec.
 *
 * @internal
 */
import { Clock, Deferred, Effect, Fiber } from "effect"
import type { DockerEngineShape, ExecOptions, ExecResult } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { ExecReply } from "../../MemoryEngine.js"
import { engineError, makeId } from "./docker.js"
import { containerAttributes, emit } from "./events.js"
import { guard } from "./faults.js"
import { type ContainerRecord, findContainer, millis, type Store } from "./store.js"

/** What Docker answers for a command that is not in the container (runc's message, exit 126). */
export const commandNotFound = (command: string): ExecReply => ({
  exitCode: 126,
  stdout: `OCI runtime exec failed: exec failed: unable to start container process: exec: ${JSON.stringify(command)}: executable file not found in $PATH: unknown\n`
})

// What the live engine's frame decoder gives back: line endings as `\n`.
const lineEndings = (text: string): string => text.replace(/\r\n/g, "\n")

/** The reply as the caller receives it: with a terminal, stderr arrives inside stdout. */
const toResult = (reply: ExecReply, options: ExecOptions): ExecResult => {
  const stdout = reply.stdout ?? ""
  const stderr = reply.stderr ?? ""
  return options.tty === true
    ? { exitCode: reply.exitCode ?? 0, stdout: lineEndings(stdout + stderr), stderr: "" }
    : { exitCode: reply.exitCode ?? 0, stdout: lineEndings(stdout), stderr: lineEndings(stderr) }
}

/** Runs the command of one exec to its end; a container that stops first kills it (137). */
const run = (
  store: Store,
  c: ContainerRecord,
  execId: string,
  command: ReadonlyArray<string>,
  options: ExecOptions
) =>
  Effect.gen(function* () {
    const reply = c.script.exec?.(command, options) ?? commandNotFound(command[0] ?? "")
    const containerRun = c.run
    if (reply.after !== undefined) {
      yield* Effect.raceFirst(Effect.sleep(millis(reply.after)), Deferred.await(c.exited))
    }
    const killed = c.run !== containerRun || c.status !== "running"
    const result = killed ? { exitCode: 137, stdout: "", stderr: "" } : toResult(reply, options)
    emit(
      store,
      yield* Clock.currentTimeNanos,
      "container",
      "exec_die",
      c.id,
      containerAttributes(c, { execID: execId, exitCode: String(result.exitCode) })
    )
    return result
  })

/** The engine's `exec`. */
export const execOperations = (store: Store): Pick<DockerEngineShape, "exec"> => ({
  exec: (ref, command, options = {}) =>
    guard(
      store,
      "exec",
      [ref, command, options],
      Effect.gen(function* () {
        if (command.length === 0) {
          return yield* new DockerError({
            reason: "BadRequest",
            operation: "exec",
            message: "exec needs a command: got an empty array"
          })
        }
        const c = yield* findContainer(store, "exec", ref)
        if (c.status !== "running") {
          return yield* Effect.fail(engineError("exec", 409, `Container ${c.id} is not running`))
        }
        store.counters.exec += 1
        const execId = makeId("exec", store.counters.exec)
        const nowNanos = yield* Clock.currentTimeNanos
        const attributes = containerAttributes(c, { execID: execId })
        emit(store, nowNanos, "container", `exec_create: ${command.join(" ")}`, c.id, attributes)
        emit(store, nowNanos, "container", `exec_start: ${command.join(" ")}`, c.id, attributes)
        // The command runs in the engine's scope: an interrupted caller stops waiting, not the command.
        const running = yield* Effect.forkIn(run(store, c, execId, command, options), store.scope)
        return yield* Fiber.join(running)
      })
    )
})
