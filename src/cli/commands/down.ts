/**
 * `effect-docker down`: stops and removes one instance (`--instance ID`) or every instance
 * (`--all`, refused while an owner runs unless `--force`); a background `up` is told to stop
 * and tears its fleet down itself.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as DockerEngine from "../../DockerEngine.js"
import * as Supervisor from "../../Supervisor.js"
import * as Background from "../background.js"
import * as Instances from "../instances.js"
import * as Swarm from "../swarm.js"
import { appFlag, ExitStatus, selectionOf, stderr, stdout, withEngine } from "./shared.js"

/** The `down` command. */
export const downCommand = Command.make(
  "down",
  {
    instance: Flag.String("instance").pipe(Flag.withDescription("Remove this instance"), Flag.optional),
    all: Flag.Boolean("all").pipe(
      Flag.withDescription("Remove every instance (refused while an owner runs, unless --force)"),
      Flag.withDefault(false)
    ),
    force: Flag.Boolean("force").pipe(
      Flag.withDescription("With --all: also remove the instances whose process still runs"),
      Flag.withDefault(false)
    ),
    volumes: Flag.Boolean("volumes").pipe(
      Flag.withAlias("v"),
      Flag.withDescription(
        "Also remove the app's volumes (the fleet file's top-level volumes, kept across `up` runs otherwise)"
      ),
      Flag.withDefault(false)
    ),
    swarm: Flag.Boolean("swarm").pipe(
      Flag.withDescription("Also remove the instances' Swarm services (up --swarm), before their networks"),
      Flag.withDefault(false)
    ),
    app: appFlag
  },
  ({ instance, all, force, volumes, app, swarm }) =>
    Effect.gen(function* () {
      if (Option.isSome(instance) === all) {
        yield* stderr("effect-docker down: give either --instance ID or --all")
        return yield* new ExitStatus({ code: 2 })
      }
      yield* withEngine((engine) =>
        Effect.gen(function* () {
          const found = yield* Instances.list(engine, selectionOf(app))
          const chosen = Option.isSome(instance) ? found.filter((i) => i.instance === instance.value) : found
          if (Option.isSome(instance) && chosen.length === 0) {
            yield* stderr(`effect-docker down: no instance ${instance.value}`)
            return yield* new ExitStatus({ code: 1 })
          }
          // --all would stop containers under processes that still run them: they must ask for
          // it. A background `up --wait` runs until `down`: that is what stops it.
          const live = all && !force ? Instances.withLiveOwner(chosen).filter((i) => !i.background) : []
          if (live.length > 0) {
            const named = live.map((i) => `${i.app}/${i.instance} (owner ${Instances.describeOwner(i)})`)
            yield* stderr(
              `effect-docker down: ${live.length} instance(s) have an owner that still runs: ${named.join(", ")}; nothing removed. Stop them (Ctrl-C in their terminal), remove one with --instance ID, or give --force to remove them all anyway`
            )
            return yield* new ExitStatus({ code: 1 })
          }
          // A background `up` is told to stop (its own teardown, as Ctrl-C): removing its
          // containers under it would have its restart policies fight the removal.
          const owned = chosen.filter((i) => i.background && i.ownerStatus === "alive")
          for (const i of owned) {
            const ended = yield* Background.stop(i.owner, "2 minutes")
            if (!ended)
              yield* stderr(
                `effect-docker down: ${i.app}/${i.instance}: its owner did not stop; removing its containers`
              )
          }
          const ids = new Set(chosen.map((i) => i.instance))
          const left =
            owned.length === 0
              ? chosen
              : (yield* Instances.list(engine, selectionOf(app))).filter((i) => ids.has(i.instance))
          // Services first: an overlay network cannot go while tasks are attached to it.
          const services = swarm
            ? (yield* Swarm.listServices(engine, selectionOf(app))).filter((service) =>
                ids.has(service.instance)
              )
            : []
          yield* Swarm.removeServices(engine, services)
          yield* Instances.remove(engine, left)
          // Compose's `down -v`: each app's shared volumes (no Supervisor instance needed).
          const apps = Option.isSome(app) ? [app.value] : [...new Set(chosen.map((i) => i.app))]
          let removedVolumes = 0
          for (const name of volumes ? apps : []) {
            removedVolumes += yield* Supervisor.removeAppVolumesOf({ app: name }).pipe(
              Effect.provideService(DockerEngine.DockerEngine, engine)
            )
          }
          yield* stdout(
            `removed ${chosen.length} instance(s): ${swarm ? `${services.length} service(s), ` : ""}${chosen.reduce((n, i) => n + i.containers.length, 0)} container(s), ${chosen.reduce((n, i) => n + i.networks.length, 0)} network(s)${volumes ? `, ${removedVolumes} volume(s)` : ""}`
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    "Stop and remove an instance (--instance ID) or every instance (--all; --force while an owner runs)"
  )
)
