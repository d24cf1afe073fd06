/**
 * `effect-docker config`: prints the fleet as understood (interpolated, merged, defaults filled
 * in) as YAML.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import * as FleetConfig from "../config.js"
import * as Project from "../project.js"
import { appName, ExitStatus, fleetFlags, stderr } from "./shared.js"

/** The `config` command. */
export const configCommand = Command.make(
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
