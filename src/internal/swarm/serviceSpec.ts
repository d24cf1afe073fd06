/**
 * What a `ContainerSpec` becomes on Swarm: the service spec `createService` takes (labels, env,
 * command, healthcheck, limits, stop grace period, mounts, published ports, the instance's
 * overlay network), and the restart policy Swarm applies in each slot, from the supervisor's
 * `RestartPolicy` where Swarm can express it (an `InvalidSpec` saying why where it cannot).
 * Pure but for stepping a policy's backoff `Schedule` to read its delays.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { type ContainerSpec, InvalidSpec } from "../../ContainerSpec.js"
import type {
  ServiceMount,
  ServicePort,
  ServiceRestartPolicy,
  ServiceSpecOptions
} from "../../DockerModel.js"
import * as RestartPolicy from "../../RestartPolicy.js"
import * as Labels from "../labels.js"

/**
 * How a spec's slots run on Swarm: tasks replaced per `restartPolicy`, or (`job`) each slot
 * runs to completion once: a one-shot. A one-shot is a replicated service with restart
 * condition `none`, not a `ReplicatedJob`: dockerd 20.10 leaves a removed job's running tasks
 * running on their nodes (seen on the test swarm), so a release could not stop it.
 *
 * @internal
 */
export interface SwarmRestart {
  readonly job: boolean
  readonly restartPolicy: ServiceRestartPolicy
}

/** How many delays of a backoff are read to recognise its shape. */
const probeSteps = 6

/** The first delays of a policy's backoff, in milliseconds, up to where the schedule ends. */
const delaysOf = (policy: RestartPolicy.RestartPolicy) =>
  Effect.gen(function* () {
    const delays = yield* RestartPolicy.backoff(policy)
    const read: Array<number> = []
    for (let step = 0; step < probeSteps; step++) {
      // Runs of 0 ms: never stable, so the schedule is stepped, never started over.
      const next = yield* delays.next(0)
      if (Option.isNone(next)) break
      read.push(Duration.toMillis(next.value))
    }
    return read
  })

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b))

/**
 * Is this a constant delay, or one growing by a constant factor (up to a cap it then keeps)?
 * Swarm's delay is constant: either is given to it as its first delay.
 *
 * @internal
 */
export const swarmExpressible = (delays: ReadonlyArray<number>): boolean => {
  if (delays.some((delay) => !Number.isFinite(delay) || delay < 0)) return false
  const [first, second] = delays
  if (first === undefined || second === undefined) return true
  if (first === 0) return delays.every((delay) => delay === 0)
  const factor = second / first
  if (factor < 1 && !close(factor, 1)) return false
  let capped = false
  for (let index = 1; index < delays.length; index++) {
    const previous = delays[index - 1] as number
    const current = delays[index] as number
    if (capped) {
      if (!close(current, previous)) return false
    } else if (!close(current, previous * factor)) {
      // The cap, reached between two steps: from here on the delay stays there.
      if (current > previous * factor || (current < previous && !close(current, previous))) return false
      capped = true
    }
  }
  return true
}

const notExpressible = (message: string) => new InvalidSpec({ field: "restartPolicy", message })

/**
 * Swarm's restart policy for a supervisor policy: `never` → condition `none` (each slot runs
 * once, as a one-shot); `always` → `any`; `onFailure` → `on-failure` with its
 * `maxRetries` as `maxAttempts` (window 0: counted over the slot's whole life). The delay is
 * the backoff's first: Swarm waits a constant delay, so a backoff must be constant or grow by
 * a constant factor (Docker's default does); a backoff that ends after N delays caps the
 * attempts at N. A `when` predicate, or a jittered or otherwise shaped backoff, is an
 * `InvalidSpec`: the supervisor does not restart behind Swarm's back.
 *
 * @internal
 */
export const restartOf = (policy: RestartPolicy.RestartPolicy): Effect.Effect<SwarmRestart, InvalidSpec> =>
  Effect.gen(function* () {
    switch (policy._tag) {
      case "Never":
        return { job: true, restartPolicy: { condition: "none" } }
      case "When":
        return yield* notExpressible(
          "Swarm restarts on its own conditions (none, on-failure, any): a `when` predicate cannot be expressed on Swarm; use never, always or onFailure"
        )
      case "Always":
      case "OnFailure": {
        const delays = yield* delaysOf(policy)
        const first = delays[0]
        if (first === undefined) {
          return yield* notExpressible(
            "the backoff schedule ends before the first restart: use RestartPolicy.never"
          )
        }
        if (!swarmExpressible(delays)) {
          return yield* notExpressible(
            `Swarm waits a constant delay between restarts: a backoff must be constant or exponential (its first delay is used), got delays ${delays.map((delay) => `${Math.round(delay)} ms`).join(", ")}`
          )
        }
        const scheduleLimit = delays.length < probeSteps ? delays.length : Number.POSITIVE_INFINITY
        const retries = policy._tag === "OnFailure" ? policy.maxRetries : Number.POSITIVE_INFINITY
        const maxAttempts = Math.min(scheduleLimit, retries)
        return {
          job: false,
          restartPolicy: {
            condition: policy._tag === "Always" ? "any" : "on-failure",
            delayMs: Math.round(first),
            ...(Number.isFinite(maxAttempts) ? { maxAttempts, windowMs: 0 } : {})
          }
        }
      }
    }
  })

/** What the instance gives the mapping. @internal */
export interface ServiceContext {
  readonly keys: Labels.LabelKeys
  readonly app: string
  readonly instanceId: string
  readonly owner: string
  /** The Supervisor's `labels` option. */
  readonly userLabels: Readonly<Record<string, string>> | undefined
  /** The instance's overlay network. */
  readonly network: string
  readonly volumeName: (source: string, scope: "instance" | "app" | "external") => string
}

/** Swarm's limit on a service name (a DNS label). */
const maxServiceName = 63

/** The service of a spec: `<app>-<instance>-<name>`, as a container's name on one host. @internal */
export const serviceName = (context: ServiceContext, spec: Pick<ContainerSpec, "name">): string =>
  `${context.app}-${context.instanceId}-${spec.name}`

/** Spec fields a service's task cannot carry, with why. */
const unsupported = (spec: ContainerSpec): InvalidSpec | undefined => {
  const refuse = (field: string, why: string) =>
    new InvalidSpec({ field, message: `not supported on Swarm: ${why}` })
  if (spec.files.length > 0)
    return refuse("files", "a task's container cannot be written to before it starts")
  if (spec.engineOptions !== undefined)
    return refuse("engineOptions", "a service spec is not a container create body")
  if (spec.engineRestartPolicy !== undefined && spec.engineRestartPolicy !== "no")
    return refuse(
      "engineRestartPolicy",
      "Swarm restarts tasks by the service's restart policy (restartPolicy)"
    )
  if (spec.privileged !== undefined) return refuse("privileged", "services cannot run privileged")
  const fields = [
    "capAdd",
    "capDrop",
    "extraHosts",
    "hostname",
    "readOnlyRootFs",
    "shmSize",
    "tty",
    "platform"
  ] as const
  const present = fields.find((field) => spec[field] !== undefined)
  if (present !== undefined) return refuse(present, "the Supervisor's service spec does not carry it")
  const boundIp = (spec.ports ?? []).findIndex((port) => port.hostIp !== undefined)
  if (boundIp !== -1)
    return refuse(`ports[${boundIp}].hostIp`, "Swarm publishes a port on every address of a node")
  const endpoint = spec.swarmEndpoint
  if (endpoint?.publishMode === "ingress" && endpoint.mode !== "vip")
    return new InvalidSpec({
      field: "swarmEndpoint.publishMode",
      message: "ingress ports need the vip endpoint mode (swarmEndpoint.mode: vip)"
    })
  return undefined
}

const millis = (input: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(input))

const mountOf = (
  context: ServiceContext,
  mount: NonNullable<ContainerSpec["mounts"]>[number]
): ServiceMount => {
  switch (mount.type) {
    case "bind":
      return { type: "bind", source: mount.source, target: mount.target, readOnly: mount.readOnly ?? false }
    case "volume":
      // Each node creates the volume where a task needs it (unlabelled: the engine's doing).
      return {
        type: "volume",
        ...(mount.source === undefined
          ? {}
          : { source: context.volumeName(mount.source, mount.scope ?? "instance") }),
        target: mount.target,
        readOnly: mount.readOnly ?? false
      }
    case "tmpfs":
      return {
        type: "tmpfs",
        target: mount.target,
        ...(mount.sizeBytes === undefined ? {} : { sizeBytes: mount.sizeBytes }),
        ...(mount.mode === undefined ? {} : { mode: mount.mode }),
        readOnly: mount.readOnly ?? false
      }
  }
}

/**
 * The service spec of a validated spec: the instance's and the spec's labels on the service
 * and its containers, the entrypoint as the task's `command` and the command as its `args`,
 * env as given (`Redacted` values are revealed only into the request body), the instance's
 * overlay network with the component's name and aliases, ports published per `swarmEndpoint`
 * (default: DNS round-robin, ports on the task's node), one slot per replica.
 *
 * @internal
 */
export const toServiceSpec = (
  context: ServiceContext,
  spec: ContainerSpec,
  restart: SwarmRestart
): Effect.Effect<ServiceSpecOptions, InvalidSpec> => {
  const refused = unsupported(spec)
  if (refused !== undefined) return Effect.fail(refused)
  const name = serviceName(context, spec)
  if (name.length > maxServiceName) {
    return Effect.fail(
      new InvalidSpec({
        field: "name",
        message: `the service name ${name} is longer than Swarm's ${maxServiceName} characters: shorten the app, the instance id or the name`
      })
    )
  }
  const labels = Labels.containerLabels(context.keys, {
    app: context.app,
    instance: context.instanceId,
    owner: context.owner,
    component: spec.name,
    user: { ...context.userLabels, ...spec.labels }
  })
  const replicas = spec.replicas ?? 1
  const healthcheck = spec.healthcheck
  const mode = spec.swarmEndpoint?.mode ?? "dnsrr"
  const publishMode = spec.swarmEndpoint?.publishMode ?? (mode === "vip" ? "ingress" : "host")
  const ports = (spec.ports ?? []).map(
    (port): ServicePort => ({
      protocol: port.protocol ?? "tcp",
      targetPort: port.container,
      ...(port.host === undefined ? {} : { publishedPort: port.host }),
      publishMode
    })
  )
  const cpus = spec.resources?.cpus
  const memoryBytes = spec.resources?.memoryBytes
  return Effect.succeed({
    name,
    labels,
    taskTemplate: {
      container: {
        image: spec.image,
        ...(spec.entrypoint === undefined ? {} : { command: spec.entrypoint }),
        ...(spec.command === undefined ? {} : { args: spec.command }),
        ...(spec.env === undefined ? {} : { env: spec.env }),
        labels,
        ...(spec.user === undefined ? {} : { user: spec.user }),
        ...(spec.workingDir === undefined ? {} : { dir: spec.workingDir }),
        ...(spec.mounts === undefined ? {} : { mounts: spec.mounts.map((mount) => mountOf(context, mount)) }),
        stopGracePeriodMs: millis(spec.stopTimeout),
        ...(spec.stopSignal === undefined ? {} : { stopSignal: spec.stopSignal }),
        ...(spec.init === undefined ? {} : { init: spec.init }),
        ...(healthcheck === undefined
          ? {}
          : {
              healthcheck: {
                test: healthcheck.test,
                ...(healthcheck.interval === undefined ? {} : { intervalMs: millis(healthcheck.interval) }),
                ...(healthcheck.timeout === undefined ? {} : { timeoutMs: millis(healthcheck.timeout) }),
                ...(healthcheck.retries === undefined ? {} : { retries: healthcheck.retries }),
                ...(healthcheck.startPeriod === undefined
                  ? {}
                  : { startPeriodMs: millis(healthcheck.startPeriod) })
              }
            })
      },
      ...(cpus === undefined && memoryBytes === undefined
        ? {}
        : {
            limits: {
              ...(cpus === undefined ? {} : { nanoCpus: Math.round(cpus * 1e9) }),
              ...(memoryBytes === undefined ? {} : { memoryBytes })
            }
          }),
      restartPolicy: restart.restartPolicy,
      ...(spec.placement?.constraints === undefined ? {} : { constraints: spec.placement.constraints }),
      networks: [{ target: context.network, aliases: [spec.name, ...(spec.network?.aliases ?? [])] }]
    },
    mode: { _tag: "Replicated", replicas },
    endpoint: { mode, ports },
    // `deploy.update_config`: how a later change of this service rolls out.
    ...(spec.swarmUpdate === undefined
      ? {}
      : {
          updateConfig: {
            ...(spec.swarmUpdate.parallelism === undefined
              ? {}
              : { parallelism: spec.swarmUpdate.parallelism }),
            ...(spec.swarmUpdate.delay === undefined ? {} : { delayMs: millis(spec.swarmUpdate.delay) }),
            ...(spec.swarmUpdate.order === undefined ? {} : { order: spec.swarmUpdate.order }),
            ...(spec.swarmUpdate.failureAction === undefined
              ? {}
              : { failureAction: spec.swarmUpdate.failureAction })
          }
        })
  })
}
