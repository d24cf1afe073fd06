/**
 * `effect-docker ps`: lists the instances and their containers, as a table or as JSON.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as Instances from "../instances.js"
import { appFlag, selectionOf, stdout, withEngine } from "./shared.js"

/** The `ps` command. */
export const psCommand = Command.make(
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
