/**
 * Decoding the services of a fleet file: the top level (`name`, `version`, `services`,
 * `networks`), each service's supported keys, its healthcheck, `deploy`, `env_file` and
 * `x-files`. Every key outside the subset is reported as unsupported; the services come out in
 * dependency order.
 *
 * Several files merge as Compose merges them: each file's service entry is a layer read on its
 * own (so every problem keeps its file and line), and the layers combine key by key: a later
 * scalar or command replaces, `environment`, `labels`, `depends_on`, `networks` and the
 * healthcheck's fields merge by key, `env_file` and `x-files` add up.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import type { Duration } from "effect"
import { isMap, isScalar, isSeq, type Node } from "yaml"
import * as ContainerSpec from "../../ContainerSpec.js"
import { type DependencyAt, dependencyOrder } from "./dependencies.js"
import { parseDotenv } from "./dotenv.js"
import type { Dependency, DependencyCondition, File, Fleet, Healthcheck, Restart, Service } from "./model.js"
import {
  type DeclaredVolume,
  readDeclaredVolumes,
  readExpose,
  readExtraHosts,
  readPorts,
  readServiceVolumes,
  readTmpfs
} from "./reach.js"
import {
  readBoolean,
  readBytes,
  readCommand,
  readCpus,
  readDuration,
  readInteger,
  readKeyValues,
  readMode,
  readString,
  readStringList
} from "./values.js"
import { type Context, child, describe, entries, readKeys, report, resolve, visit } from "./yamlNodes.js"

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const PROFILE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/** One file's entry for a service. */
interface Layer {
  readonly ctx: Context
  readonly keyNode: Node | undefined
  readonly node: Node | undefined
  readonly keyPath: string
}

/** A top-level or service-level network name, where it was written. */
interface NetworkAt {
  readonly ctx: Context
  readonly node: Node | undefined
  readonly keyPath: string
}

/**
 * The whole fleet from the documents' roots (one context per file, in merge order), or
 * `undefined` when a problem was reported.
 *
 * @category decoding
 * @since 0.1.0
 */
export const readFleet = (contexts: ReadonlyArray<Context>): Fleet | undefined => {
  let name: string | undefined
  const layers = new Map<string, Array<Layer>>()
  const declaredNetworks = new Map<string, NetworkAt>()
  const declaredVolumes = new Map<string, DeclaredVolume>()
  for (const ctx of contexts) {
    const root = resolve(ctx, ctx.doc.contents)
    if (root === undefined || (isScalar(root) && root.value === null)) {
      report(ctx, root, "(root)", "the file is empty: expected a mapping with a services key")
      continue
    }
    readKeys(
      ctx,
      root,
      "",
      {
        name: (value, p) => {
          const text = readString(ctx, value, p, { nonEmpty: true })
          if (text !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(text)) {
            report(
              ctx,
              value,
              p,
              "expected lowercase letters, digits, '-' and '_', starting with a letter or digit"
            )
          } else if (text !== undefined) name = text
        },
        // Compose itself ignores `version` (obsolete); accepted so existing files run as they are.
        version: (value, p) => void readString(ctx, value, p, { scalars: true }),
        services: (value, p) => {
          const items = entries(ctx, value, p)
          if (items === undefined) return
          if (items.length === 0 && ctx === contexts[0])
            report(ctx, value, p, "expected at least one service")
          for (const item of items) {
            const servicePath = child(p, item.key)
            if (!SERVICE_NAME.test(item.key)) {
              report(
                ctx,
                item.keyNode,
                servicePath,
                "a service name is letters, digits, '_', '.', '-', starting with a letter or digit"
              )
              continue
            }
            const list = layers.get(item.key) ?? []
            list.push({ ctx, keyNode: item.keyNode, node: item.value, keyPath: servicePath })
            layers.set(item.key, list)
          }
        },
        volumes: (value, p) => readDeclaredVolumes(ctx, value, p, declaredVolumes),
        networks: (value, p) => {
          for (const item of entries(ctx, value, p) ?? []) {
            const networkPath = child(p, item.key)
            visit(ctx, item.keyNode, networkPath)
            declaredNetworks.set(item.key, { ctx, node: item.keyNode, keyPath: networkPath })
            // A network's own settings (driver, ipam, external, ...) would need a network of its own.
            if (!(isScalar(item.value) && item.value.value === null)) {
              readKeys(ctx, item.value, networkPath, {})
            }
          }
        }
      },
      { required: ctx === contexts[0] ? ["services"] : [], allowExtensions: true }
    )
  }
  const first = contexts[0]
  if (first === undefined) return undefined
  const services: Array<Service> = []
  const dependencyNodes = new Map<string, Map<string, DependencyAt>>()
  const serviceNetworks = new Map<string, Map<string, NetworkAt>>()
  for (const [serviceName, serviceLayers] of layers) {
    const nodes = new Map<string, DependencyAt>()
    const networks = new Map<string, NetworkAt>()
    dependencyNodes.set(serviceName, nodes)
    serviceNetworks.set(serviceName, networks)
    const service = readService(serviceName, serviceLayers, nodes, networks, declaredVolumes)
    if (service !== undefined) services.push(service)
  }
  // `required: false` on a service the fleet does not have: Compose goes on without it.
  for (const [i, service] of services.entries()) {
    const dependsOn = service.dependsOn.filter((d) => d.required || layers.has(d.service))
    if (dependsOn.length !== service.dependsOn.length) services[i] = { ...service, dependsOn }
  }
  checkNetworks(declaredNetworks, serviceNetworks, layers)
  const ordered = dependencyOrder(services, dependencyNodes)
  if (ordered === undefined || first.problems.length > 0) return undefined
  return {
    file: first.file,
    files: contexts.map((ctx) => ctx.file),
    name,
    services: ordered,
    positions: new Map(first.seen)
  }
}

/**
 * Every service is on the one instance network: accepted are the implicit `default` and
 * declared networks every service is on. Services on different networks would need a
 * second network.
 */
const checkNetworks = (
  declared: ReadonlyMap<string, NetworkAt>,
  used: ReadonlyMap<string, ReadonlyMap<string, NetworkAt>>,
  layers: ReadonlyMap<string, ReadonlyArray<Layer>>
): void => {
  const setOf = (service: string): ReadonlySet<string> => {
    const own = used.get(service)
    return own === undefined || own.size === 0 ? new Set(["default"]) : new Set(own.keys())
  }
  for (const networks of used.values()) {
    for (const [network, at] of networks) {
      if (network !== "default" && !declared.has(network))
        report(
          at.ctx,
          at.node,
          at.keyPath,
          `undefined network "${network}" (declare it under the top-level networks)`
        )
    }
  }
  const services = [...used.keys()]
  const reference = services[0] === undefined ? undefined : setOf(services[0])
  for (const service of services.slice(1)) {
    const own = setOf(service)
    if (reference === undefined) break
    const same = own.size === reference.size && [...own].every((network) => reference.has(network))
    if (same) continue
    const at = used.get(service)?.values().next().value
    const layer = layers.get(service)?.[0]
    const where =
      at ??
      (layer === undefined ? undefined : { ctx: layer.ctx, node: layer.keyNode, keyPath: layer.keyPath })
    if (where === undefined) continue
    report(
      where.ctx,
      where.node,
      at === undefined ? `${where.keyPath}.networks` : where.keyPath,
      `unsupported: services on different networks (${[...own].join(", ")} here, ${[...reference].join(", ")} for ${services[0]}) need a second network; effect-docker puts every service on the one instance network`
    )
  }
  for (const [network, at] of declared) {
    if (network === "default") continue
    if (!services.some((service) => setOf(service).has(network)))
      report(
        at.ctx,
        at.node,
        at.keyPath,
        `unsupported: no service is on network "${network}"; a network that is not every service's would be a second network`
      )
  }
}

const RESTART = /^(no|always|unless-stopped|on-failure(?::(\d+))?)$/
const CONDITIONS: ReadonlyArray<DependencyCondition> = [
  "service_started",
  "service_healthy",
  "service_completed_successfully"
]

/** A healthcheck as one file gives it: the fields it sets (a later file sets more). */
interface HealthcheckLayer {
  test?: ReadonlyArray<string>
  interval?: Duration.Duration
  timeout?: Duration.Duration
  retries?: number
  startPeriod?: Duration.Duration
  startInterval?: Duration.Duration
  disable?: boolean
  at?: { readonly ctx: Context; readonly node: Node | undefined; readonly keyPath: string }
}

/** Two values for one setting (`mem_limit` and `deploy.resources.limits.memory`) must agree. */
interface Given<A> {
  readonly value: A
  readonly ctx: Context
  readonly node: Node | undefined
  readonly keyPath: string
}

const readService = (
  name: string,
  layers: ReadonlyArray<Layer>,
  dependencyNodes: Map<string, DependencyAt>,
  networks: Map<string, NetworkAt>,
  declaredVolumes: ReadonlyMap<string, DeclaredVolume>
): Service | undefined => {
  const first = layers[0]!
  const before = first.ctx.problems.length
  let image: string | undefined
  let command: ReadonlyArray<string> | undefined
  let entrypoint: ReadonlyArray<string> | undefined
  let environment: Record<string, string> = {}
  let fromEnvFiles: Record<string, string> = {}
  let labels: Record<string, string> = {}
  let healthcheck: HealthcheckLayer | undefined
  let restart: Restart | undefined
  let deployRestart: Restart | undefined
  let stopGracePeriod: Duration.Duration | undefined
  let stopSignal: string | undefined
  const dependsOn = new Map<string, Dependency>()
  let memLimit: Given<number> | undefined
  let deployMemory: Given<number> | undefined
  let cpus: Given<number> | undefined
  let deployCpus: Given<number> | undefined
  let scale: Given<number> | undefined
  let deployReplicas: Given<number> | undefined
  const files = new Map<string, File>()
  let profiles: ReadonlyArray<string> = []
  const aliases: Array<string> = []
  // Compose merges `ports` and `expose` by adding up, `volumes` and `tmpfs` by target.
  const ports: Array<ContainerSpec.Port> = []
  const exposedPorts: Array<ContainerSpec.ExposedPort> = []
  const mounts = new Map<string, ContainerSpec.Mount>()
  let user: string | undefined
  let workingDir: string | undefined
  let hostname: string | undefined
  let platform: string | undefined
  let extraHosts: Record<string, string> = {}
  const capAdd = new Set<string>()
  const capDrop = new Set<string>()
  let init: boolean | undefined
  let readOnly: boolean | undefined
  let tty: boolean | undefined
  let shmSize: number | undefined
  const addMounts = (list: ReadonlyArray<ContainerSpec.Mount> | undefined) => {
    for (const mount of list ?? []) mounts.set(mount.target.replace(/\/+$/, ""), mount)
  }

  for (const { ctx, keyNode, node, keyPath } of layers) {
    const given = <A>(value: A | undefined, at: Node | undefined, p: string): Given<A> | undefined =>
      value === undefined ? undefined : { value, ctx, node: at, keyPath: p }
    readKeys(
      ctx,
      node,
      keyPath,
      {
        image: (value, p) => {
          image = readString(ctx, value, p, { nonEmpty: true }) ?? image
        },
        command: (value, p) => {
          command = readCommand(ctx, value, p)
        },
        entrypoint: (value, p) => {
          entrypoint = readCommand(ctx, value, p)
        },
        environment: (value, p) => {
          environment = { ...environment, ...readKeyValues(ctx, value, p, { fromEnvironment: true }) }
        },
        env_file: (value, p) => {
          fromEnvFiles = { ...fromEnvFiles, ...readEnvFiles(ctx, value, p) }
        },
        labels: (value, p) => {
          labels = { ...labels, ...readKeyValues(ctx, value, p, { fromEnvironment: false }) }
        },
        healthcheck: (value, p) => {
          const layer = readHealthcheck(ctx, value, p)
          if (layer !== undefined) healthcheck = { ...healthcheck, ...layer }
        },
        restart: (value, p) => {
          restart = readRestart(ctx, value, p) ?? restart
        },
        stop_grace_period: (value, p) => {
          stopGracePeriod = readDuration(ctx, value, p)
        },
        stop_signal: (value, p) => {
          stopSignal = readString(ctx, value, p, { nonEmpty: true })
        },
        depends_on: (value, p) => {
          for (const dependency of readDependsOn(ctx, value, p, dependencyNodes))
            dependsOn.set(dependency.service, dependency)
        },
        mem_limit: (value, p) => {
          memLimit = given(readBytes(ctx, value, p), value, p)
        },
        cpus: (value, p) => {
          cpus = given(readCpus(ctx, value, p), value, p)
        },
        scale: (value, p) => {
          scale = given(readInteger(ctx, value, p, 1), value, p)
        },
        profiles: (value, p) => {
          const list = readStringList(ctx, value, p)
          if (list === undefined) return
          const bad = list.findIndex((profile) => !PROFILE_NAME.test(profile))
          if (bad !== -1)
            report(
              ctx,
              isSeq(value) ? resolve(ctx, value.items[bad]) : value,
              child(p, bad),
              "a profile name is letters, digits, '_', '.', '-', starting with a letter or digit"
            )
          else profiles = list
        },
        deploy: (value, p) => {
          readKeys(ctx, value, p, {
            replicas: (replicasNode, replicasPath) => {
              deployReplicas = given(
                readInteger(ctx, replicasNode, replicasPath, 1),
                replicasNode,
                replicasPath
              )
            },
            resources: (resourcesNode, resourcesPath) => {
              readKeys(ctx, resourcesNode, resourcesPath, {
                limits: (limitsNode, limitsPath) => {
                  readKeys(ctx, limitsNode, limitsPath, {
                    cpus: (cpusNode, cpusPath) => {
                      deployCpus = given(readCpus(ctx, cpusNode, cpusPath), cpusNode, cpusPath)
                    },
                    memory: (memoryNode, memoryPath) => {
                      deployMemory = given(readBytes(ctx, memoryNode, memoryPath), memoryNode, memoryPath)
                    }
                  })
                }
              })
            },
            restart_policy: (policyNode, policyPath) => {
              deployRestart = readRestartPolicy(ctx, policyNode, policyPath) ?? deployRestart
            }
          })
        },
        networks: (value, p) => {
          visit(ctx, value, p)
          if (isSeq(value)) {
            value.items.forEach((item, i) => {
              const itemNode = resolve(ctx, item)
              const network = readString(ctx, itemNode, child(p, i), { nonEmpty: true })
              if (network !== undefined) networks.set(network, { ctx, node: itemNode, keyPath: child(p, i) })
            })
            return
          }
          for (const entry of entries(ctx, value, p) ?? []) {
            const networkPath = child(p, entry.key)
            visit(ctx, entry.keyNode, networkPath)
            networks.set(entry.key, { ctx, node: entry.keyNode, keyPath: networkPath })
            if (isScalar(entry.value) && entry.value.value === null) continue
            readKeys(ctx, entry.value, networkPath, {
              aliases: (aliasesNode, aliasesPath) => {
                for (const alias of readStringList(ctx, aliasesNode, aliasesPath) ?? [])
                  if (!aliases.includes(alias)) aliases.push(alias)
              }
            })
          }
        },
        "x-files": (value, p) => {
          for (const file of readFiles(ctx, value, p)) files.set(file.path, file)
        },
        ports: (value, p) => {
          ports.push(...(readPorts(ctx, value, p) ?? []))
        },
        expose: (value, p) => {
          exposedPorts.push(...(readExpose(ctx, value, p) ?? []))
        },
        volumes: (value, p) => addMounts(readServiceVolumes(ctx, value, p, declaredVolumes)),
        tmpfs: (value, p) => addMounts(readTmpfs(ctx, value, p)),
        user: (value, p) => {
          user = readString(ctx, value, p, { scalars: true, nonEmpty: true }) ?? user
        },
        working_dir: (value, p) => {
          const text = readString(ctx, value, p, { nonEmpty: true })
          if (text !== undefined && !text.startsWith("/"))
            report(ctx, value, p, `expected an absolute path in the container, got ${describe(value)}`)
          else workingDir = text ?? workingDir
        },
        hostname: (value, p) => {
          hostname = readString(ctx, value, p, { nonEmpty: true }) ?? hostname
        },
        platform: (value, p) => {
          platform = readString(ctx, value, p, { nonEmpty: true }) ?? platform
        },
        extra_hosts: (value, p) => {
          extraHosts = { ...extraHosts, ...readExtraHosts(ctx, value, p) }
        },
        cap_add: (value, p) => {
          for (const cap of readStringList(ctx, value, p) ?? []) capAdd.add(cap)
        },
        cap_drop: (value, p) => {
          for (const cap of readStringList(ctx, value, p) ?? []) capDrop.add(cap)
        },
        init: (value, p) => {
          init = readBoolean(ctx, value, p) ?? init
        },
        read_only: (value, p) => {
          readOnly = readBoolean(ctx, value, p) ?? readOnly
        },
        tty: (value, p) => {
          tty = readBoolean(ctx, value, p) ?? tty
        },
        shm_size: (value, p) => {
          shmSize = readBytes(ctx, value, p) ?? shmSize
        }
      },
      // An override file may leave `image` to the file before it.
      { required: ctx === first.ctx ? ["image"] : [], at: keyNode }
    )
  }
  const agreed = (a: Given<number> | undefined, b: Given<number> | undefined, what: string) => {
    if (a !== undefined && b !== undefined && a.value !== b.value) {
      report(b.ctx, b.node, b.keyPath, `${b.value} here but ${a.value} in ${a.keyPath}: give ${what} once`)
    }
    return (b ?? a)?.value
  }
  const replicas = agreed(scale, deployReplicas, "the number of replicas") ?? 1
  const memoryBytes = agreed(memLimit, deployMemory, "the memory limit")
  const cpuCount = agreed(cpus, deployCpus, "the CPU limit")
  const check = finishHealthcheck(healthcheck)
  if (first.ctx.problems.length > before || image === undefined || check === "invalid") return undefined
  return {
    name,
    image,
    command,
    entrypoint,
    // Compose: `environment` wins over `env_file`.
    environment: { ...fromEnvFiles, ...environment },
    labels,
    healthcheck: check,
    // Compose: `restart` wins over `deploy.restart_policy`.
    restart: restart ?? deployRestart ?? { _tag: "no" },
    stopGracePeriod,
    dependsOn: [...dependsOn.values()],
    memLimit: memoryBytes,
    cpus: cpuCount,
    files: [...files.values()],
    profiles,
    replicas,
    aliases,
    stopSignal,
    ports,
    exposedPorts,
    mounts: [...mounts.values()],
    user,
    workingDir,
    hostname,
    platform,
    extraHosts,
    capAdd: [...capAdd],
    capDrop: [...capDrop],
    init,
    readOnly,
    tty,
    shmSize
  }
}

const readRestart = (ctx: Context, node: Node | undefined, keyPath: string): Restart | undefined => {
  const text = readString(ctx, node, keyPath)
  if (text === undefined) return undefined
  const match = RESTART.exec(text)
  if (match === null)
    return report(
      ctx,
      node,
      keyPath,
      `expected no, always, unless-stopped or on-failure[:N], got ${describe(node)}`
    )
  if (text === "no") return { _tag: "no" }
  if (text === "always" || text === "unless-stopped") return { _tag: "always" }
  return { _tag: "onFailure", maxRetries: match[2] === undefined ? undefined : Number(match[2]) }
}

const POLICY_CONDITIONS = ["none", "on-failure", "any"] as const

/** `deploy.restart_policy`: `condition` (none, on-failure, any), `delay`, `max_attempts`, `window`. */
const readRestartPolicy = (ctx: Context, node: Node | undefined, keyPath: string): Restart | undefined => {
  let condition = "any" as (typeof POLICY_CONDITIONS)[number]
  let delay: Duration.Duration | undefined
  let window: Duration.Duration | undefined
  let maxAttempts: number | undefined
  const before = ctx.problems.length
  readKeys(ctx, node, keyPath, {
    condition: (value, p) => {
      const text = readString(ctx, value, p)
      const found = POLICY_CONDITIONS.find((c) => c === text)
      if (found !== undefined) condition = found
      else if (text !== undefined) report(ctx, value, p, `expected one of ${POLICY_CONDITIONS.join(", ")}`)
    },
    delay: (value, p) => {
      delay = readDuration(ctx, value, p)
    },
    max_attempts: (value, p) => {
      maxAttempts = readInteger(ctx, value, p, 0)
    },
    window: (value, p) => {
      window = readDuration(ctx, value, p)
    }
  })
  if (ctx.problems.length > before) return undefined
  const timing = { ...(delay === undefined ? {} : { delay }), ...(window === undefined ? {} : { window }) }
  if (condition === "none") return { _tag: "no" }
  if (condition === "on-failure") return { _tag: "onFailure", maxRetries: maxAttempts, ...timing }
  // `any` with `max_attempts` still restarts at most that many times, whatever the exit code.
  return maxAttempts === undefined || maxAttempts === 0
    ? { _tag: "always", ...timing }
    : { _tag: "onFailure", maxRetries: maxAttempts, ...timing }
}

/** `depends_on`: a list of names, or a map of `{ condition, required, restart }`. */
const readDependsOn = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  dependencyNodes: Map<string, DependencyAt>
): ReadonlyArray<Dependency> => {
  visit(ctx, node, keyPath)
  const out: Array<Dependency> = []
  if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const itemNode = resolve(ctx, item)
      const service = readString(ctx, itemNode, child(keyPath, i), { nonEmpty: true })
      if (service === undefined) return
      visit(ctx, itemNode, child(keyPath, service))
      out.push({ service, condition: "service_started", required: true, restart: false })
      dependencyNodes.set(service, { ctx, node: itemNode, required: true })
    })
    return out
  }
  for (const entry of entries(ctx, node, keyPath) ?? []) {
    const entryPath = child(keyPath, entry.key)
    visit(ctx, entry.keyNode, entryPath)
    let condition: DependencyCondition = "service_started"
    let required = true
    let restart = false
    readKeys(ctx, entry.value, entryPath, {
      condition: (value, p) => {
        const text = readString(ctx, value, p)
        if (text === undefined) return
        const found = CONDITIONS.find((c) => c === text)
        if (found === undefined) report(ctx, value, p, `expected one of ${CONDITIONS.join(", ")}`)
        else condition = found
      },
      required: (value, p) => {
        required = readBoolean(ctx, value, p) ?? required
      },
      restart: (value, p) => {
        restart = readBoolean(ctx, value, p) ?? restart
      }
    })
    out.push({ service: entry.key, condition, required, restart })
    dependencyNodes.set(entry.key, { ctx, node: entry.keyNode, required })
  }
  return out
}

/**
 * `env_file`: a path, a list of paths, or a list of `{ path, required }` (required by default),
 * relative to the project folder (the first file's). A later file wins over an earlier one.
 */
const readEnvFiles = (ctx: Context, node: Node | undefined, keyPath: string): Record<string, string> => {
  visit(ctx, node, keyPath)
  const wanted: Array<{ file: string; required: boolean; at: Node | undefined; keyPath: string }> = []
  const items = isSeq(node) ? node.items.map((item) => resolve(ctx, item)) : [node]
  items.forEach((item, i) => {
    const itemPath = isSeq(node) ? child(keyPath, i) : keyPath
    if (isMap(item)) {
      let file: string | undefined
      let required = true
      readKeys(
        ctx,
        item,
        itemPath,
        {
          path: (value, p) => {
            file = readString(ctx, value, p, { nonEmpty: true })
          },
          required: (value, p) => {
            required = readBoolean(ctx, value, p) ?? required
          },
          format: (value, p) => {
            const format = readString(ctx, value, p)
            if (format !== undefined && format !== "raw")
              report(ctx, value, p, 'expected "raw" (or no format: the .env syntax)')
          }
        },
        { required: ["path"] }
      )
      if (file !== undefined) wanted.push({ file, required, at: item, keyPath: itemPath })
      return
    }
    const file = readString(ctx, item, itemPath, { nonEmpty: true })
    if (file !== undefined) wanted.push({ file, required: true, at: item, keyPath: itemPath })
  })
  let values: Record<string, string> = {}
  for (const { file, required, at, keyPath: p } of wanted) {
    const fullPath = path.resolve(ctx.dir, file)
    const shown = path.isAbsolute(file) ? file : path.join(path.dirname(ctx.file), file)
    let text: string
    try {
      text = ctx.readFile(fullPath)
    } catch (cause) {
      if (required) report(ctx, at, p, `cannot read env file ${shown}: ${readErrorMessage(cause)}`)
      continue
    }
    const parsed = parseDotenv(text, ctx.env)
    for (const problem of parsed.problems)
      ctx.problems.push({ file: shown, line: problem.line, path: "(env file)", message: problem.message })
    values = { ...values, ...parsed.values }
  }
  return values
}

/**
 * Why a file could not be read, in a few words (`no such file`).
 *
 * @category decoding
 * @since 0.1.0
 */
export const readErrorMessage = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory"
  if (code === "EACCES") return "permission denied"
  return cause instanceof Error ? cause.message : String(cause)
}

const readHealthcheck = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): HealthcheckLayer | undefined => {
  const layer: HealthcheckLayer = { at: { ctx, node, keyPath } }
  const before = ctx.problems.length
  const ok = readKeys(ctx, node, keyPath, {
    test: (value, p) => {
      if (isSeq(value)) {
        const list = readStringList(ctx, value, p)
        if (list === undefined) return
        if (!["CMD", "CMD-SHELL", "NONE"].includes(list[0] ?? "")) {
          report(ctx, value, p, 'a list test starts with "CMD", "CMD-SHELL" or "NONE"')
        } else if (list[0] !== "NONE" && list.length < 2) {
          report(ctx, value, p, `"${list[0]}" needs a command after it`)
        } else layer.test = list
        return
      }
      const text = readString(ctx, value, p, { nonEmpty: true })
      if (text !== undefined) layer.test = ["CMD-SHELL", text]
    },
    interval: (value, p) => {
      const d = readDuration(ctx, value, p)
      if (d !== undefined) layer.interval = d
    },
    timeout: (value, p) => {
      const d = readDuration(ctx, value, p)
      if (d !== undefined) layer.timeout = d
    },
    retries: (value, p) => {
      const n = readInteger(ctx, value, p, 0)
      if (n !== undefined) layer.retries = n
    },
    start_period: (value, p) => {
      const d = readDuration(ctx, value, p)
      if (d !== undefined) layer.startPeriod = d
    },
    start_interval: (value, p) => {
      const d = readDuration(ctx, value, p)
      if (d !== undefined) layer.startInterval = d
    },
    disable: (value, p) => {
      const b = readBoolean(ctx, value, p)
      if (b !== undefined) layer.disable = b
    }
  })
  return ok && ctx.problems.length === before ? layer : undefined
}

const finishHealthcheck = (layer: HealthcheckLayer | undefined): Healthcheck | undefined | "invalid" => {
  if (layer === undefined) return undefined
  if (layer.disable === true)
    return {
      test: ["NONE"],
      interval: undefined,
      timeout: undefined,
      retries: undefined,
      startPeriod: undefined
    }
  if (layer.test === undefined) {
    if (layer.at !== undefined)
      report(layer.at.ctx, layer.at.node, layer.at.keyPath, 'missing required key "test" (or disable: true)')
    return "invalid"
  }
  return {
    test: layer.test,
    interval: layer.interval,
    timeout: layer.timeout,
    retries: layer.retries,
    startPeriod: layer.startPeriod,
    ...(layer.startInterval === undefined ? {} : { startInterval: layer.startInterval })
  }
}

const readFiles = (ctx: Context, node: Node | undefined, keyPath: string): ReadonlyArray<File> => {
  visit(ctx, node, keyPath)
  if (!isSeq(node)) {
    report(ctx, node, keyPath, `expected a list of { path, content, mode }, got ${describe(node)}`)
    return []
  }
  const files: Array<File> = []
  node.items.forEach((item, i) => {
    const itemPath = child(keyPath, i)
    let filePath: string | undefined
    let content: string | undefined
    let mode: number | undefined
    const itemNode = resolve(ctx, item)
    readKeys(
      ctx,
      itemNode,
      itemPath,
      {
        path: (value, p) => {
          filePath = readString(ctx, value, p, { nonEmpty: true })
          const problem = filePath === undefined ? undefined : containerPathProblem(filePath)
          if (problem !== undefined) filePath = report(ctx, value, p, problem)
        },
        content: (value, p) => {
          content = readString(ctx, value, p, { scalars: true })
        },
        mode: (value, p) => {
          mode = readMode(ctx, value, p)
        }
      },
      { required: ["path", "content"] }
    )
    if (filePath !== undefined && content !== undefined) files.push({ path: filePath, content, mode })
  })
  return files
}

/**
 * Why a path cannot be a file in the container, or undefined when it can.
 *
 * @category decoding
 * @since 0.1.0
 */
export const containerPathProblem = (filePath: string): string | undefined => {
  const issue = ContainerSpec.filePathIssue(filePath)
  if (issue === undefined) return undefined
  if (issue === "notNormalised") return `expected a normalised path (${path.posix.normalize(filePath)})`
  return PATH_PROBLEM[issue]
}

const PATH_PROBLEM: Readonly<Record<Exclude<ContainerSpec.FilePathIssue, "notNormalised">, string>> = {
  nul: "a path must not contain NUL",
  relative: "expected an absolute path like /etc/app.conf",
  parent: "a path must not contain '..'",
  directory: "expected a file path, not a directory"
}
