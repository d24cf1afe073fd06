/**
 * The three ways `up` shows a running fleet: the live table on a terminal, plain lines when
 * the output is not a terminal, NDJSON with `--json`. The drawing itself is in `view.ts`;
 * this is where it meets stdout.
 *
 * @since 0.1.0
 */
import { Effect, Ref, Schedule, type Scope } from "effect"
import type * as Up from "./up.js"
import * as View from "./view.js"

/**
 * An {@link Up.Output} that can also show the fleet's phase and a message.
 *
 * @since 0.1.0
 */
export interface Display extends Up.Output {
  readonly phase: (phase: View.Screen["phase"]) => Effect.Effect<void>
  /** A message for the user (on stderr in plain and JSON modes, under the table on a TTY). */
  readonly message: (text: string) => Effect.Effect<void>
  /** Draws the last frame (TTY) and stops drawing. */
  readonly close: Effect.Effect<void>
}

/** What the displays write to: a Node stream (stdout, stderr) or a test's array. */
export interface Sink {
  readonly write: (text: string) => void
}

const timestamp = (now: Date): string => now.toISOString().slice(11, 19)

/**
 * One line per significant change (status, health, restarts, exit), with the time: for CI logs.
 *
 * @since 0.1.0
 */
export const plain = (options: { readonly out: Sink; readonly simulated: boolean }): Effect.Effect<Display> =>
  Effect.gen(function* () {
    const last = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
    const line = (text: string) => Effect.sync(() => options.out.write(`${timestamp(new Date())} ${text}\n`))
    if (options.simulated) yield* line("simulated: running on MemoryEngine, no real containers")
    return {
      state: (service, state) =>
        Effect.gen(function* () {
          const key = View.significance(state)
          const previous = yield* Ref.modify(last, (seen) => [
            seen.get(service),
            new Map(seen).set(service, key)
          ])
          if (previous !== key) yield* line(View.plainLine(service, state))
        }),
      note: (service, note) =>
        note === undefined
          ? Effect.void
          : line(`${service}: ${[note.status, note.text].filter(Boolean).join(" ")}`),
      phase: (phase) => (phase === "stopping" ? line("stopping: removing every container") : Effect.void),
      message: (text) => line(text),
      close: Effect.void
    }
  })

/**
 * `--json`: one `ContainerState` per change on `out` as NDJSON, nothing else there; notes and
 * messages go to `err`.
 *
 * @since 0.1.0
 */
export const json = (options: {
  readonly out: Sink
  readonly err: Sink
  readonly simulated: boolean
}): Display => {
  const extra = options.simulated ? { simulated: true } : undefined
  const err = (text: string) => Effect.sync(() => options.err.write(`${text}\n`))
  return {
    state: (service, state) =>
      Effect.sync(() => options.out.write(`${View.ndjson(service, state, extra)}\n`)),
    note: (service, note) =>
      note === undefined
        ? Effect.void
        : err(`${service}: ${[note.status, note.text].filter(Boolean).join(" ")}`),
    phase: (phase) => (phase === "stopping" ? err("stopping: removing every container") : Effect.void),
    message: err,
    close: Effect.void
  }
}

/**
 * The live table, redrawn in place at most `fps` times a second (and when the terminal is
 * resized, on the next frame), with the cursor hidden while it runs.
 *
 * @since 0.1.0
 */
export const tty = (options: {
  readonly out: Sink
  readonly title: string
  readonly services: ReadonlyArray<string>
  readonly simulated: boolean
  readonly color: boolean
  readonly columns: () => number
  readonly fps?: number
}): Effect.Effect<Display, never, Scope.Scope> =>
  Effect.gen(function* () {
    const screen = yield* Ref.make<View.Screen>({
      title: options.title,
      simulated: options.simulated,
      phase: "starting",
      rows: options.services.map((service) => ({ service, state: undefined, note: undefined })),
      messages: []
    })
    const drawn = yield* Ref.make({ lines: 0, text: "", width: 0 })
    const draw = Effect.gen(function* () {
      const current = yield* Ref.get(screen)
      const width = Math.max(20, options.columns())
      const lines = View.table(current, { width, color: options.color, now: new Date() })
      const text = lines.join("\n")
      const previous = yield* Ref.get(drawn)
      if (text === previous.text && width === previous.width) return
      // After a resize the terminal has rewrapped the old frame: counting its lines back up
      // would land in the wrong place, so the screen is cleared and the table starts at the top.
      const resized = previous.width !== 0 && width !== previous.width
      options.out.write((resized ? "\x1b[H\x1b[2J" : "") + View.redraw(resized ? 0 : previous.lines, lines))
      yield* Ref.set(drawn, { lines: lines.length, text, width })
    })
    const updateRow = (service: string, f: (row: View.Row) => View.Row) =>
      Ref.update(screen, (s) => ({
        ...s,
        rows: s.rows.map((row) => (row.service === service ? f(row) : row))
      }))

    yield* Effect.acquireRelease(
      Effect.sync(() => options.out.write("\x1b[?25l")),
      () => Effect.sync(() => options.out.write("\x1b[?25h"))
    )
    yield* draw.pipe(
      Effect.repeat(Schedule.spaced(`${Math.round(1000 / (options.fps ?? 5))} millis`)),
      Effect.interruptible,
      Effect.forkScoped
    )
    return {
      state: (service, state) =>
        Effect.andThen(
          Ref.update(screen, (s): View.Screen => (s.phase === "starting" ? { ...s, phase: "running" } : s)),
          updateRow(service, (row) => ({ ...row, state }))
        ),
      note: (service, note) => updateRow(service, (row) => ({ ...row, note })),
      phase: (phase) =>
        Ref.update(screen, (s) => ({
          ...s,
          phase,
          // The rows show the teardown: what runs is stopping until the fleet marks it removed.
          rows:
            phase === "stopping"
              ? s.rows.map(
                  (row): View.Row =>
                    row.state !== undefined && row.state.status !== "exited" && row.note === undefined
                      ? { ...row, note: { status: "stopping", text: "", tone: "warn" } }
                      : row
                )
              : s.rows
        })).pipe(Effect.andThen(draw)),
      message: (text) =>
        Ref.update(screen, (s) => ({ ...s, messages: [...s.messages, text].slice(-3) })).pipe(
          Effect.andThen(draw)
        ),
      close: draw
    }
  })
