/**
 * From a fleet service to what the Supervisor runs: a `ContainerSpec` input, validated up
 * front (an invalid field is reported at its line in the fleet file, before any container
 * exists), and, for the simulated run on MemoryEngine, a script of what the service does.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import * as ContainerSpec from "../ContainerSpec.js"
import type * as MemoryEngine from "../MemoryEngine.js"
import * as RestartPolicy from "../RestartPolicy.js"
import * as Fleet from "./Fleet.js"

const restartPolicyOf = (restart: Fleet.Restart): RestartPolicy.RestartPolicy => {
  if (restart._tag === "no") return RestartPolicy.never
  // `deploy.restart_policy`: `delay` between restarts, `window` a run must last to count as stable.
  const options: RestartPolicy.Options = {
    ...(restart.delay === undefined ? {} : { backoff: Schedule.spaced(restart.delay) }),
    ...(restart.window === undefined ? {} : { stableAfter: restart.window })
  }
  if (restart._tag === "always") return RestartPolicy.always(options)
  // Compose passes `on-failure:0` to Docker, which reads 0 as no limit.
  return restart.maxRetries === undefined || restart.maxRetries === 0
    ? RestartPolicy.onFailure(options)
    : RestartPolicy.onFailure({ ...options, maxRetries: restart.maxRetries })
}

/**
 * Where a fleet runs: one host (`replicas` are containers `<service>-1..N`, one spec each) or a
 * swarm (`up --swarm`: one spec per service, its replicas, placement and rollout Swarm's).
 *
 * @since 0.3.0
 */
export type Target = "host" | "swarm"

/**
 * The Supervisor's spec for a fleet service (Compose keys → spec fields).
 *
 * @example
 * ```ts
 * const states = supervisor.run(Spec.toSpecInput(service))
 * ```
 *
 * @since 0.1.0
 */
export const toSpecInput = (
  service: Fleet.Service,
  replica: string = service.name,
  target: Target = "host"
) => {
  const healthcheck = service.healthcheck
  const update = service.updateConfig
  return {
    name: replica,
    // On Swarm one service holds every replica, placed and rolled out by Swarm.
    ...(target === "swarm"
      ? {
          ...(service.replicas === 1 ? {} : { replicas: service.replicas }),
          ...(service.placementConstraints === undefined
            ? {}
            : { placement: { constraints: service.placementConstraints } }),
          ...(update === undefined
            ? {}
            : {
                swarmUpdate: {
                  ...(update.parallelism === undefined ? {} : { parallelism: update.parallelism }),
                  ...(update.delay === undefined ? {} : { delay: update.delay }),
                  ...(update.order === undefined ? {} : { order: update.order }),
                  ...(update.failureAction === undefined ? {} : { failureAction: update.failureAction })
                }
              })
        }
      : {}),
    image: service.image,
    ...(service.command === undefined ? {} : { command: service.command }),
    ...(service.entrypoint === undefined ? {} : { entrypoint: service.entrypoint }),
    ...(Object.keys(service.environment).length === 0 ? {} : { env: service.environment }),
    ...(Object.keys(service.labels).length === 0 ? {} : { labels: service.labels }),
    ...(healthcheck === undefined
      ? {}
      : {
          healthcheck: {
            test: healthcheck.test,
            ...(healthcheck.interval === undefined ? {} : { interval: healthcheck.interval }),
            ...(healthcheck.timeout === undefined ? {} : { timeout: healthcheck.timeout }),
            ...(healthcheck.retries === undefined ? {} : { retries: healthcheck.retries }),
            ...(healthcheck.startPeriod === undefined ? {} : { startPeriod: healthcheck.startPeriod }),
            ...(healthcheck.startInterval === undefined ? {} : { startInterval: healthcheck.startInterval })
          }
        }),
    ...(service.memLimit === undefined && service.cpus === undefined
      ? {}
      : {
          resources: {
            ...(service.memLimit === undefined ? {} : { memoryBytes: service.memLimit }),
            ...(service.cpus === undefined ? {} : { cpus: service.cpus })
          }
        }),
    ...(service.files.length === 0
      ? {}
      : {
          files: service.files.map((file) => ({
            path: file.path,
            content: file.content,
            ...(file.mode === undefined ? {} : { mode: file.mode })
          }))
        }),
    // Compose services reach each other by service name on the fleet's network (every replica
    // answers to it), and by the aliases the service's `networks` entries add.
    network: { aliases: [...new Set([service.name, ...service.aliases])] },
    restartPolicy: restartPolicyOf(service.restart),
    ...(service.stopGracePeriod === undefined ? {} : { stopTimeout: service.stopGracePeriod }),
    ...(service.stopSignal === undefined ? {} : { stopSignal: service.stopSignal }),
    ...(service.ports.length === 0 ? {} : { ports: service.ports }),
    ...(service.exposedPorts.length === 0 ? {} : { exposedPorts: service.exposedPorts }),
    ...(service.mounts.length === 0 ? {} : { mounts: service.mounts }),
    ...(service.user === undefined ? {} : { user: service.user }),
    ...(service.workingDir === undefined ? {} : { workingDir: service.workingDir }),
    ...(service.hostname === undefined ? {} : { hostname: service.hostname }),
    ...(Object.keys(service.extraHosts).length === 0 ? {} : { extraHosts: service.extraHosts }),
    ...(service.capAdd.length === 0 ? {} : { capAdd: service.capAdd }),
    ...(service.capDrop.length === 0 ? {} : { capDrop: service.capDrop }),
    ...(service.init === undefined ? {} : { init: service.init }),
    ...(service.readOnly === undefined ? {} : { readOnlyRootFs: service.readOnly }),
    ...(service.shmSize === undefined ? {} : { shmSize: service.shmSize }),
    ...(service.tty === undefined ? {} : { tty: service.tty }),
    ...(service.platform === undefined ? {} : { platform: service.platform })
  }
}

/** A spec field's path → the fleet key it came from. */
const FIELD_TO_KEY: ReadonlyArray<readonly [RegExp, string]> = [
  [/^name$/, ""],
  [/^env(?=\.|$)/, "environment"],
  [/^healthcheck\.startPeriod/, "healthcheck.start_period"],
  [/^resources\.memoryBytes/, "mem_limit"],
  [/^resources\.cpus/, "cpus"],
  [/^resources$/, "mem_limit"],
  [/^files(?=\[|$)/, "x-files"],
  [/^stopTimeout/, "stop_grace_period"],
  [/^stopSignal/, "stop_signal"],
  [/^network\.aliases.*/, "networks"],
  // A range is several ports and `tmpfs` joins `volumes`: the key itself is the place to point at.
  [/^ports.*/, "ports"],
  [/^exposedPorts.*/, "expose"],
  [/^mounts.*/, "volumes"],
  [/^workingDir/, "working_dir"],
  [/^extraHosts.*/, "extra_hosts"],
  [/^capAdd.*/, "cap_add"],
  [/^capDrop.*/, "cap_drop"],
  [/^readOnlyRootFs/, "read_only"],
  [/^shmSize/, "shm_size"],
  [/^restartPolicy.*/, "restart"],
  [/^replicas/, "deploy.replicas"],
  [/^placement.*/, "deploy.placement.constraints"],
  [/^swarmUpdate\.failureAction/, "deploy.update_config.failure_action"],
  [/^swarmUpdate/, "deploy.update_config"]
]

/** @internal */
export const keyPathOf = (service: string, field: string): string => {
  let key = field
  for (const [pattern, replacement] of FIELD_TO_KEY) {
    if (pattern.test(key)) {
      key = key.replace(pattern, replacement)
      break
    }
  }
  return key === "" ? `services.${service}` : `services.${service}.${key.replace(/^\./, "")}`
}

/** Where the key path was read, or the nearest enclosing key that was. */
const positionOf = (fleet: Fleet.Fleet, keyPath: string): Fleet.Position => {
  let path = keyPath
  while (path.length > 0) {
    const position = fleet.positions.get(path)
    if (position !== undefined) return position
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["))
    path = cut <= 0 ? "" : path.slice(0, cut)
  }
  return { file: fleet.file, line: 1 }
}

/** The keys only Swarm acts on, refused on one host rather than ignored. */
const swarmOnly = (service: Fleet.Service): ReadonlyArray<{ readonly key: string; readonly why: string }> => [
  ...(service.placementConstraints === undefined
    ? []
    : [{ key: "deploy.placement", why: "placement constraints choose among a swarm's nodes" }]),
  ...(service.updateConfig === undefined
    ? []
    : [{ key: "deploy.update_config", why: "update_config rolls out a Swarm service's replicas" }])
]

/**
 * Validates every service's spec for where it runs; every invalid one is a problem at its line
 * in the file. On one host the Swarm-only keys are refused (they need `--swarm`); on Swarm, what
 * a service cannot carry there (`x-files`, `cap_add`, ...) is the Swarm Supervisor's
 * `InvalidSpec` when the service is deployed.
 *
 * @since 0.1.0
 */
export const validateAll = (
  fleet: Fleet.Fleet,
  target: Target = "host"
): Effect.Effect<void, Fleet.FleetError> =>
  Effect.gen(function* () {
    const problemAt = (keyPath: string, message: string): Fleet.Problem => {
      const { file, line } = positionOf(fleet, keyPath)
      return { ...(file === fleet.file ? {} : { file }), line, path: keyPath, message }
    }
    const checked = yield* Effect.forEach(fleet.services, (service) => {
      if (target === "host") {
        const refused = swarmOnly(service).map(({ key, why }) =>
          problemAt(`services.${service.name}.${key}`, `needs up --swarm: ${why}`)
        )
        if (refused.length > 0) return Effect.succeed(refused)
      }
      const input = toSpecInput(service, service.name, target)
      return ContainerSpec.validate(input).pipe(
        Effect.as([]),
        Effect.catch((invalid) =>
          Effect.succeed([problemAt(keyPathOf(service.name, invalid.field), invalid.message)])
        )
      )
    })
    const problems = checked.flat()
    if (problems.length > 0) {
      return yield* new Fleet.FleetError({
        file: fleet.file,
        problems: [...problems].sort((a, b) => a.line - b.line)
      })
    }
  })

/**
 * What a service does on MemoryEngine, where no command really runs: a job (a service others
 * wait for to complete, or one that depends on others and never restarts) exits 0 after two
 * seconds; a service with a restart policy fails with exit 3 every four seconds; anything
 * else runs until stopped, healthy after its first healthcheck interval. CPU, memory and
 * traffic follow a gentle wave so the table moves.
 *
 * @since 0.1.0
 */
export const simulationScript = (service: Fleet.Service, fleet: Fleet.Fleet): MemoryEngine.Script => {
  const awaitedToComplete = fleet.services.some((other) =>
    other.dependsOn.some(
      (d) => d.service === service.name && d.condition === "service_completed_successfully"
    )
  )
  const isJob = service.restart._tag === "no" && (awaitedToComplete || service.dependsOn.length > 0)
  const limit = service.memLimit ?? 64 * 1024 * 1024
  const stats = (second: number): MemoryEngine.StatsValues => ({
    cpuPercent: 0.5 + 0.4 * Math.sin(second / 2) ** 2,
    memoryUsage: Math.min(limit, 1.2 * 1024 * 1024 + (second % 7) * 64 * 1024),
    memoryLimit: limit,
    rxBytes: second * 1800,
    txBytes: second * 900
  })
  const interval = service.healthcheck?.interval ?? Duration.seconds(1)
  const health =
    service.healthcheck === undefined || service.healthcheck.test[0] === "NONE"
      ? {}
      : { health: [{ at: Duration.sum(interval, Duration.millis(500)), status: "healthy" as const }] }
  if (isJob) return { exit: { after: "2 seconds", code: 0 }, stats, ...health }
  if (service.restart._tag !== "no") {
    return {
      exit: { after: "4 seconds", code: 3 },
      logs: [
        { text: "working" },
        { text: "lost the connection (simulated)", stream: "stderr", at: "4 seconds" }
      ],
      stats,
      ...health
    }
  }
  return { stats, ...health }
}
