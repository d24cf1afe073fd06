/**
 * From a fleet service to what the Supervisor runs: a `ContainerSpec` input, validated up
 * front (an invalid field is reported at its line in the fleet file, before any container
 * exists), and, for the simulated run on MemoryEngine, a script of what the service does.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import * as ContainerSpec from "../ContainerSpec.js"
import type * as MemoryEngine from "../MemoryEngine.js"
import * as RestartPolicy from "../RestartPolicy.js"
import * as Fleet from "./Fleet.js"

const restartPolicyOf = (restart: Fleet.Restart): RestartPolicy.RestartPolicy => {
  switch (restart._tag) {
    case "no":
      return RestartPolicy.never
    case "always":
      return RestartPolicy.always()
    case "onFailure":
      // Compose passes `on-failure:0` to Docker, which reads 0 as no limit.
      return restart.maxRetries === undefined || restart.maxRetries === 0
        ? RestartPolicy.onFailure()
        : RestartPolicy.onFailure({ maxRetries: restart.maxRetries })
  }
}

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
export const toSpecInput = (service: Fleet.Service) => {
  const healthcheck = service.healthcheck
  return {
    name: service.name,
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
            ...(healthcheck.startPeriod === undefined ? {} : { startPeriod: healthcheck.startPeriod })
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
    // Compose services reach each other by service name on the fleet's network.
    network: { aliases: [service.name] },
    restartPolicy: restartPolicyOf(service.restart),
    ...(service.stopGracePeriod === undefined ? {} : { stopTimeout: service.stopGracePeriod })
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
  [/^restartPolicy.*/, "restart"]
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

/** The line of the key path, or of the nearest enclosing key that was read. */
const lineOf = (fleet: Fleet.Fleet, keyPath: string): number => {
  let path = keyPath
  while (path.length > 0) {
    const line = fleet.lines.get(path)
    if (line !== undefined) return line
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["))
    path = cut <= 0 ? "" : path.slice(0, cut)
  }
  return 1
}

/**
 * Validates every service's spec; every invalid one is a problem at its line in the file.
 *
 * @since 0.1.0
 */
export const validateAll = (fleet: Fleet.Fleet): Effect.Effect<void, Fleet.FleetError> =>
  Effect.gen(function* () {
    const checked = yield* Effect.forEach(fleet.services, (service) => {
      const input = toSpecInput(service)
      return ContainerSpec.validate(input).pipe(
        Effect.mapError((invalid) => {
          const keyPath = keyPathOf(service.name, invalid.field)
          return { line: lineOf(fleet, keyPath), path: keyPath, message: invalid.message }
        }),
        Effect.result
      )
    })
    const problems = checked.flatMap((result) => (result._tag === "Failure" ? [result.failure] : []))
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
