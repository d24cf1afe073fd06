/**
 * From the command line to the fleet that runs: which files (`-f`, a file given as an argument,
 * `COMPOSE_FILE`, the default `compose.yaml`), which profiles (`--profile`, `COMPOSE_PROFILES`)
 * and which services (`up web`), read, merged and selected. What `up` and `config` share.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import { Effect, Result } from "effect"
import * as Fleet from "./Fleet.js"
import { profilesOf } from "./fleet/selection.js"

/**
 * What the user gave: `-f` files, positional arguments (a fleet file, for `up fleet.yaml`, or
 * service names) and `--profile` flags.
 *
 * @since 0.1.0
 */
export interface Request {
  readonly files: ReadonlyArray<string>
  readonly args: ReadonlyArray<string>
  readonly profiles: ReadonlyArray<string>
}

const FILE_ARGUMENT = /\.(ya?ml|json)$/i

/**
 * Positional arguments split into fleet files (`up fleet.yaml`, kept from before `-f`) and
 * service names.
 *
 * @since 0.1.0
 */
export const splitArguments = (
  args: ReadonlyArray<string>
): { readonly files: ReadonlyArray<string>; readonly services: ReadonlyArray<string> } => ({
  files: args.filter((arg) => FILE_ARGUMENT.test(arg) || arg.includes("/")),
  services: args.filter((arg) => !(FILE_ARGUMENT.test(arg) || arg.includes("/")))
})

/**
 * Reads, merges and selects the fleet the request names; a `FleetError` (exit 2) for a bad file,
 * no file, an unknown service or a dependency on a service whose profile is off.
 *
 * @since 0.1.0
 */
export const load = (
  request: Request,
  env: Fleet.Environment,
  cwd: string
): Effect.Effect<Fleet.Fleet, Fleet.FleetError> =>
  Effect.gen(function* () {
    const split = splitArguments(request.args)
    const files = Fleet.findFiles([...request.files, ...split.files], env, cwd)
    if (files === undefined) {
      return yield* new Fleet.FleetError({
        file: cwd,
        problems: [
          {
            line: 0,
            path: "(files)",
            message: `no ${Fleet.DEFAULT_FILES.join(", ")} here or above: give one with -f FILE (or COMPOSE_FILE)`
          }
        ]
      })
    }
    const fleet = yield* Fleet.load(files, { env })
    const selected = Fleet.select(fleet, {
      profiles: profilesOf(request.profiles, env),
      services: split.services
    })
    return Result.isSuccess(selected) ? selected.success : yield* selected.failure
  })

/**
 * The app name (the app label and the container name prefix): the file's `name`, else the
 * file name (`demo.yaml` → `demo`), or the folder's name for Compose's default file names.
 *
 * @since 0.1.0
 */
export const appName = (fleet: Fleet.Fleet): string => {
  if (fleet.name !== undefined) return fleet.name
  const base = path.basename(fleet.file)
  const isDefault = Fleet.DEFAULT_FILES.includes(base)
  const source = isDefault
    ? path.basename(path.dirname(path.resolve(fleet.file)))
    : base.replace(/\.(ya?ml|json)$/i, "")
  return (
    source
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/^[^a-z0-9]+/, "") || "fleet"
  )
}
