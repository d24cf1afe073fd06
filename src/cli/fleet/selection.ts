/**
 * Which services of a fleet run: Compose's profiles (`--profile NAME`, `COMPOSE_PROFILES`) and
 * the services named on the command line (`up web`: web and what it depends on). A plain
 * function of the parsed fleet: problems are placed with the positions the fleet kept.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { type Fleet, FleetError, type Problem, type Service } from "./model.js"

/**
 * What the user asked for: the enabled profiles (`*` enables every one) and the services named
 * (none: every enabled service).
 *
 * @category selection
 * @since 0.1.0
 */
export interface Selection {
  readonly profiles: ReadonlyArray<string>
  readonly services: ReadonlyArray<string>
}

/**
 * The profiles enabled by `--profile` flags, or else by `COMPOSE_PROFILES` (comma-separated).
 *
 * @category selection
 * @since 0.1.0
 */
export const profilesOf = (
  flags: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): ReadonlyArray<string> =>
  flags.length > 0
    ? flags
    : (env.COMPOSE_PROFILES ?? "")
        .split(",")
        .map((profile) => profile.trim())
        .filter((profile) => profile !== "")

/**
 * The fleet with only the services that run: a service without `profiles` always does, one with
 * profiles when one of them is enabled, a named service always (as Compose enables its
 * profiles); with named services, only those and what they depend on. A dependency on a service
 * that does not run is a problem at its `depends_on` entry, unless it says `required: false`
 * (then it is left out).
 *
 * @category selection
 * @since 0.1.0
 */
export const select = (fleet: Fleet, selection: Selection): Result.Result<Fleet, FleetError> => {
  const problems: Array<Problem> = []
  const byName = new Map(fleet.services.map((service) => [service.name, service]))
  for (const name of selection.services) {
    if (!byName.has(name))
      problems.push({
        line: 0,
        path: "(command line)",
        message: `no such service: ${name} (services: ${[...byName.keys()].join(", ")})`
      })
  }
  const all = selection.profiles.includes("*")
  const enabled = (service: Service): boolean =>
    service.profiles.length === 0 ||
    all ||
    service.profiles.some((profile) => selection.profiles.includes(profile)) ||
    selection.services.includes(service.name)
  let running: ReadonlySet<string>
  if (selection.services.length === 0) {
    running = new Set(fleet.services.filter(enabled).map((service) => service.name))
  } else {
    const wanted = new Set<string>()
    const add = (name: string) => {
      const service = byName.get(name)
      if (service === undefined || wanted.has(name) || !enabled(service)) return
      wanted.add(name)
      for (const dependency of service.dependsOn) add(dependency.service)
    }
    for (const name of selection.services) add(name)
    running = wanted
  }
  const services: Array<Service> = []
  for (const service of fleet.services) {
    if (!running.has(service.name)) continue
    const dependsOn = service.dependsOn.filter((dependency) => {
      if (running.has(dependency.service)) return true
      if (!dependency.required) return false
      const keyPath = `services.${service.name}.depends_on.${dependency.service}`
      const position = fleet.positions.get(keyPath)
      const profiles = byName.get(dependency.service)?.profiles ?? []
      problems.push({
        ...(position === undefined || position.file === fleet.file ? {} : { file: position.file }),
        line: position?.line ?? 0,
        path: keyPath,
        message: `${dependency.service} does not run: its profiles (${profiles.join(", ")}) are not enabled (--profile ${profiles[0] ?? "NAME"}, or required: false to go without it)`
      })
      return false
    })
    services.push(dependsOn.length === service.dependsOn.length ? service : { ...service, dependsOn })
  }
  if (problems.length === 0 && services.length === 0)
    problems.push({
      line: 0,
      path: "(command line)",
      message: `no service to run: every service has a profile (${[...new Set(fleet.services.flatMap((s) => s.profiles))].join(", ")}); enable one with --profile NAME`
    })
  if (problems.length > 0) return Result.fail(new FleetError({ file: fleet.file, problems }))
  return Result.succeed({ ...fleet, services })
}
