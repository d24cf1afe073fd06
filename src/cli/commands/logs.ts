/**
 * `effect-docker logs`: prints the containers' output, merged, each line after its service's
 * name; `-f` follows across restarts. With `--swarm`, the Swarm services' output from the
 * manager, each line after its replica.
 *
 * @since 0.1.0
 */
import { Effect, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Supervisor from "../../Supervisor.js"
import * as Instances from "../instances.js"
import * as Logs from "../logs.js"
import * as Project from "../project.js"
import * as View from "../view.js"
import { appName, ExitStatus, fleetFlags, requireSwarmManager, stderr, stdout, withEngine } from "./shared.js"

/** The `logs` command. */
export const logsCommand = Command.make(
  "logs",
  {
    // `-f` is --follow here, as in Compose (whose -f FILE goes before the command).
    files: Flag.String("file").pipe(
      Flag.withDescription(
        "The fleet file whose app to show (default: COMPOSE_FILE, else compose.yaml, ...)"
      ),
      Flag.atLeast(0)
    ),
    profiles: fleetFlags.profiles,
    services: Argument.String("service").pipe(
      Argument.withDescription("Only these services (and their replicas)"),
      Argument.variadic()
    ),
    follow: Flag.Boolean("follow").pipe(
      Flag.withAlias("f"),
      Flag.withDescription("Keep printing what the containers write, across restarts, until Ctrl-C"),
      Flag.withDefault(false)
    ),
    tail: Flag.Int("tail").pipe(
      Flag.withAlias("n"),
      Flag.withDescription("Only the last N lines of each container (default: all)"),
      Flag.optional
    ),
    timestamps: Flag.Boolean("timestamps").pipe(
      Flag.withAlias("t"),
      Flag.withDescription("Show the time each line was written"),
      Flag.withDefault(false)
    ),
    noLogPrefix: Flag.Boolean("no-log-prefix").pipe(
      Flag.withDescription("Print the lines without the service name"),
      Flag.withDefault(false)
    ),
    swarm: Flag.Boolean("swarm").pipe(
      Flag.withDescription(
        "The instances' Swarm services on the manager (up --swarm): every replica's output from every node, each line after its replica (web-2)"
      ),
      Flag.withDefault(false)
    ),
    instance: Flag.String("instance").pipe(Flag.withDescription("Only this instance"), Flag.optional),
    app: Flag.String("app").pipe(
      Flag.withDescription("Only this app's instances (default: the fleet file's app, else every app)"),
      Flag.optional
    )
  },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function* () {
        const keys = Supervisor.labelKeys()
        // Which app: --app, else the fleet file's (as Compose reads the project), else all.
        const app = Option.isSome(options.app)
          ? options.app.value
          : Option.isSome(options.instance)
            ? undefined
            : yield* Project.load(
                { files: options.files, args: [], profiles: options.profiles },
                process.env,
                process.cwd()
              ).pipe(
                Effect.map(appName),
                Effect.catchTag("FleetError", (error) =>
                  options.files.length > 0
                    ? Effect.andThen(stderr(error.message), new ExitStatus({ code: 2 }))
                    : Effect.succeed(undefined)
                )
              )
        const labels = {
          [keys.app]: app ?? (true as const),
          ...(Option.isSome(options.instance) ? { [keys.instance]: options.instance.value } : {})
        }
        const only = Option.getOrUndefined(options.instance)
        const tail = Option.getOrUndefined(options.tail)
        const color = View.useColor(process.env, process.stdout.isTTY === true)
        if (options.swarm) {
          yield* requireSwarmManager
          const found = yield* Logs.swarmServices(engine, { labels, services: [], withInstance: false })
          const keys = Supervisor.labelKeys()
          const instanceCount = new Set(found.map((service) => service.spec.labels[keys.instance])).size
          if (only !== undefined && found.length === 0) {
            yield* stderr(`effect-docker logs: no swarm service of instance ${only}`)
            return yield* new ExitStatus({ code: 1 })
          }
          const selection: Logs.Selection = {
            labels,
            services: options.services,
            withInstance: instanceCount > 1
          }
          const format: Logs.Format = {
            width: Math.max(
              0,
              ...found
                .flatMap((service) => Logs.replicaNamesOf(service, selection))
                .map((name) => name.length)
            ),
            prefix: !options.noLogPrefix,
            timestamps: options.timestamps,
            color
          }
          if (!options.follow) {
            for (const line of yield* Logs.swarmBacklog(engine, selection, tail))
              yield* stdout(Logs.formatLine(line, format))
            return
          }
          return yield* Logs.swarmFollow(engine, selection, tail).pipe(
            Stream.runForEach((line) => stdout(Logs.formatLine(line, format)))
          )
        }
        const instances = yield* Instances.list(engine, { app })
        const shown = only === undefined ? instances : instances.filter((i) => i.instance === only)
        if (only !== undefined && shown.length === 0) {
          yield* stderr(`effect-docker logs: no instance ${only}`)
          return yield* new ExitStatus({ code: 1 })
        }
        const selection: Logs.Selection = {
          labels,
          services: options.services,
          withInstance: shown.length > 1
        }
        const names = shown.flatMap((i) =>
          i.containers.map((c) => Logs.nameOf(c.labels, selection, c.names[0] ?? c.id))
        )
        const format: Logs.Format = {
          width: Math.max(0, ...names.map((name) => name.length)),
          prefix: !options.noLogPrefix,
          timestamps: options.timestamps,
          color
        }
        if (!options.follow) {
          for (const line of yield* Logs.backlog(engine, selection, tail))
            yield* stdout(Logs.formatLine(line, format))
          return
        }
        yield* Logs.follow(engine, selection, tail).pipe(
          Stream.runForEach((line) => stdout(Logs.formatLine(line, format)))
        )
      })
    )
).pipe(
  Command.withDescription(
    "Print the containers' output, merged, each line after its service's name (-f follows, across restarts)"
  )
)
