/**
 * The Engine API's exec endpoints: a command run inside a running container, its output
 * demultiplexed into stdout and stderr and collected, and its exit code.
 *
 * Three requests: `POST /containers/{id}/exec` creates the exec, `POST /exec/{id}/start`
 * runs it and streams its output until the command's stdout and stderr close (the engine
 * takes over the connection and answers with the raw, framed stream; no upgrade is needed
 * when nothing is sent on stdin), and `GET /exec/{id}/json` gives the exit code. The engine
 * can close the stream a moment before it records the exit, so the exit code is read until
 * the exec is no longer running.
 *
 * Interrupting `exec` closes its stream only: the engine has no call to stop an exec, so the
 * command keeps running in the container until it ends by itself or the container stops.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Exec
 * @internal
 */
import { Duration, Effect, Redacted, Schedule, Schema, Stream } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import { DockerError } from "../../DockerError.js"
import type { ExecOptions, ExecResult } from "../../DockerModel.js"
import * as LogFrames from "../logFrames.js"
import { segment, type Transport } from "./transport.js"

/**
 * The exec operation of the engine.
 *
 * @internal
 */
export type Exec = Pick<DockerEngineShape, "exec">

const WireExecCreated = Schema.Struct({ Id: Schema.String })

const WireExecInspect = Schema.Struct({
  Running: Schema.Boolean,
  ExitCode: Schema.optional(Schema.NullOr(Schema.Number))
})

/** The exec's create body: output attached, no stdin. */
const createBody = (command: ReadonlyArray<string>, options: ExecOptions | undefined) => ({
  Cmd: command,
  AttachStdin: false,
  AttachStdout: true,
  AttachStderr: true,
  Tty: options?.tty ?? false,
  ...(options?.env !== undefined
    ? {
        Env: Object.entries(options.env).map(
          ([key, value]) => `${key}=${typeof value === "string" ? value : Redacted.value(value)}`
        )
      }
    : {}),
  ...(options?.user !== undefined ? { User: options.user } : {}),
  ...(options?.workingDir !== undefined ? { WorkingDir: options.workingDir } : {})
})

/** Collected output: each complete line with its `\n`, and what the last line left unfinished. */
interface Collected {
  readonly stdout: string
  readonly stderr: string
}

const append = (collected: Collected, lines: ReadonlyArray<LogFrames.RawLine>, ending: string): Collected => {
  let { stdout, stderr } = collected
  for (const line of lines) {
    if (line.stream === "stderr") stderr += line.text + ending
    else stdout += line.text + ending
  }
  return { stdout, stderr }
}

// Between reads of a finished stream's exit code: quick at first (the engine records it
// within milliseconds), then at most once a second for a command that closed its output
// and kept running.
const exitCodePolls = Schedule.exponential("10 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(1))))
)

/**
 * The exec endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ decoded, bytes }: Transport): Exec => {
  const exec = Effect.fn("DockerEngine.exec")(function* (
    id: string,
    command: ReadonlyArray<string>,
    options?: ExecOptions
  ): Effect.fn.Return<ExecResult, DockerError> {
    yield* Effect.annotateCurrentSpan({ id, command: command[0] ?? "" })
    if (command.length === 0) {
      return yield* new DockerError({
        reason: "BadRequest",
        operation: "exec",
        message: "exec needs a command: got an empty array"
      })
    }
    const execId = yield* decoded(
      "exec",
      {
        method: "POST",
        path: `/containers/${segment(id)}/exec`,
        body: createBody(command, options)
      },
      WireExecCreated,
      (created) => created.Id
    )
    // A line is never cut: the whole output is collected anyway, so there is no bound to keep.
    const demux = LogFrames.initial({ tty: options?.tty ?? false, maxLineBytes: Number.POSITIVE_INFINITY })
    const [collected, state] = yield* bytes("exec", {
      method: "POST",
      path: `/exec/${segment(execId)}/start`,
      body: { Detach: false, Tty: options?.tty ?? false }
    }).pipe(
      Stream.runFold(
        (): readonly [Collected, LogFrames.DemuxState] => [{ stdout: "", stderr: "" }, demux],
        ([collected, state], chunk) => {
          const [next, lines] = LogFrames.feed(state, chunk)
          return [append(collected, lines, "\n"), next] as const
        }
      )
    )
    const output = append(collected, LogFrames.flush(state), "")
    const exitCode = yield* decoded(
      "exec",
      { method: "GET", path: `/exec/${segment(execId)}/json` },
      WireExecInspect,
      (inspect) => (inspect.Running ? undefined : (inspect.ExitCode ?? undefined))
    ).pipe(
      Effect.repeat({ schedule: exitCodePolls, until: (code) => code !== undefined }),
      // `until` ends the repetition only on a code; the type does not carry that.
      Effect.flatMap((code) => (code === undefined ? Effect.die("exec: no exit code") : Effect.succeed(code)))
    )
    return { exitCode, ...output }
  })

  return { exec }
}
