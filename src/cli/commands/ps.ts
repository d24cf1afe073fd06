/**
 * `effect-docker ps`: lists the instances and their containers, as a table or as JSON.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as Instances from "../instances.js"
import * as Swarm from "../swarm.js"
import { appFlag, selectionOf, stdout, withEngine } from "./shared.js"

/** The `ps` command. */
export const psCommand = Command.make(
  "ps",
  {
    app: appFlag,
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("One JSON object per instance (with --swarm: per service)"),
      Flag.withDefault(false)
    ),
    swarm: Flag.Boolean("swarm").pipe(
      Flag.withDescription(
        "The instances' Swarm services on the manager (up --swarm): one line per replica, with its node"
      ),
      Flag.withDefault(false)
    )
  },
  ({ app, json, swarm }) =>
    withEngine((engine) =>
      Effect.gen(function* () {
        if (swarm) {
          const services = yield* Swarm.listServices(engine, selectionOf(app))
          if (json) {
            for (const service of services) yield* stdout(JSON.stringify(service))
          } else {
            for (const line of Swarm.render(services)) yield* stdout(line)
          }
          return
        }
        const instances = yield* Instances.list(engine, selectionOf(app))
        if (json) {
          for (const instance of instances) yield* stdout(JSON.stringify(instance))
        } else {
          for (const line of Instances.render(instances)) yield* stdout(line)
        }
      })
    )
).pipe(Command.withDescription("List the instances and their containers (status, health, age, owner alive)"))
