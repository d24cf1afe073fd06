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
 * The commands live in `./commands/` (one module each, `shared.ts` for what they share); this
 * module wires them into the root command and runs it.
 *
 * @since 0.1.0
 */

import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Logger, Runtime } from "effect"
import { Command } from "effect/cli"
import { configCommand } from "./commands/config.js"
import { downCommand } from "./commands/down.js"
import { logsCommand } from "./commands/logs.js"
import { psCommand } from "./commands/ps.js"
import { ExitStatus } from "./commands/shared.js"
import { sweepCommand } from "./commands/sweep.js"
import { upCommand } from "./commands/up.js"

export { appName, ExitStatus } from "./commands/shared.js"

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
