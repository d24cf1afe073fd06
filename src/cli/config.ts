/**
 * `effect-docker config`: the fleet as understood after interpolation, merging, profiles and
 * defaults, written back as Compose YAML, so a user sees what will run.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import { stringify } from "yaml"
import type * as Fleet from "./Fleet.js"

const duration = (d: Duration.Duration | undefined): string | undefined => {
  if (d === undefined) return undefined
  const millis = Duration.toMillis(d)
  return millis % 1000 === 0 ? `${millis / 1000}s` : `${millis}ms`
}

const restartOf = (restart: Fleet.Restart): string =>
  restart._tag === "no"
    ? "no"
    : restart._tag === "always"
      ? "always"
      : restart.maxRetries === undefined
        ? "on-failure"
        : `on-failure:${restart.maxRetries}`

/** Drops the keys whose value is undefined or empty, so the YAML shows only what is set. */
const compact = (record: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(record).filter(
      ([, value]) =>
        value !== undefined &&
        !(Array.isArray(value) && value.length === 0) &&
        !(
          typeof value === "object" &&
          value !== null &&
          !Array.isArray(value) &&
          Object.keys(value).length === 0
        )
    )
  )

/**
 * The fleet as Compose YAML (services in dependency order, every default filled in).
 *
 * @since 0.1.0
 */
export const render = (fleet: Fleet.Fleet, app: string): string =>
  stringify({
    name: app,
    services: Object.fromEntries(
      fleet.services.map((service) => [
        service.name,
        compact({
          image: service.image,
          command: service.command,
          entrypoint: service.entrypoint,
          environment: service.environment,
          labels: service.labels,
          healthcheck:
            service.healthcheck === undefined
              ? undefined
              : compact({
                  test: service.healthcheck.test,
                  interval: duration(service.healthcheck.interval),
                  timeout: duration(service.healthcheck.timeout),
                  retries: service.healthcheck.retries,
                  start_period: duration(service.healthcheck.startPeriod),
                  start_interval: duration(service.healthcheck.startInterval)
                }),
          restart: restartOf(service.restart),
          deploy: compact({
            replicas: service.replicas,
            restart_policy:
              service.restart._tag === "no"
                ? undefined
                : compact({
                    delay: duration(service.restart.delay),
                    window: duration(service.restart.window)
                  })
          }),
          stop_grace_period: duration(service.stopGracePeriod) ?? "10s",
          stop_signal: service.stopSignal,
          depends_on: Object.fromEntries(
            service.dependsOn.map((d) => [
              d.service,
              { condition: d.condition, required: d.required, restart: d.restart }
            ])
          ),
          mem_limit: service.memLimit,
          cpus: service.cpus,
          profiles: service.profiles,
          networks: service.aliases.length === 0 ? undefined : { default: { aliases: service.aliases } },
          "x-files": service.files.map((file) =>
            compact({ path: file.path, content: file.content, mode: file.mode?.toString(8).padStart(4, "0") })
          )
        })
      ])
    )
  })
