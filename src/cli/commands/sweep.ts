/**
 * `effect-docker sweep`: removes the instances whose process is gone (crashed, killed).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Instances from "../instances.js"
import { appFlag, selectionOf, stdout, withEngine } from "./shared.js"

/** The `sweep` command. */
export const sweepCommand = Command.make("sweep", { app: appFlag }, ({ app }) =>
  withEngine((engine) =>
    Effect.gen(function* () {
      const removed = yield* Instances.sweep(engine, selectionOf(app))
      yield* stdout(
        `removed ${removed.instances} stale instance(s): ${removed.containers} container(s), ${removed.networks} network(s)`
      )
    })
  )
).pipe(Command.withDescription("Remove the instances whose process is gone (crashed, killed)"))
