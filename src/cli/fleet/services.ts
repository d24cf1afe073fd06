import type { Duration } from "effect"
import { isScalar, isSeq, type Node } from "yaml"
import type * as ContainerSpec from "../../ContainerSpec.js"
import { type DependencyAt, dependencyOrder } from "./dependencies.js"
import type { Dependency, File, Fleet, Restart, Service, UpdateConfig } from "./model.js"
import { readExpose, readPorts } from "./ports.js"
import {
  type DeclaredVolume,
  readDeclaredVolumes,
  readExtraHosts,
  readServiceVolumes,
  readTmpfs
} from "./reach.js"
import {
  finishHealthcheck,
  type HealthcheckLayer,
  readDependsOn,
  readEnvFiles,
  readFiles,
  readHealthcheck,
  readRestart,
  readRestartPolicy
} from "./serviceKeys.js"
import { readPlacement, readUpdateConfig } from "./swarmKeys.js"
import {
  readBoolean,
  readBytes,
  readCommand,
  readCpus,
  readDuration,
  readInteger,
  readKeyValues,
  readString,
  readStringList
} from "./values.js"
import { type Context, child, describe, entries, readKeys, report, resolve, visit } from "./yamlNodes.js"

export { containerPathProblem, readErrorMessage } from "./serviceKeys.js"

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
  let placementConstraints: ReadonlyArray<string> | undefined
  let updateConfig: UpdateConfig | undefined
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
            },
            placement: (placementNode, placementPath) => {
              placementConstraints = readPlacement(ctx, placementNode, placementPath) ?? placementConstraints
            },
            update_config: (updateNode, updatePath) => {
              const read = readUpdateConfig(ctx, updateNode, updatePath)
              if (read !== undefined) updateConfig = { ...updateConfig, ...read }
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
    shmSize,
    ...(placementConstraints === undefined ? {} : { placementConstraints }),
    ...(updateConfig === undefined ? {} : { updateConfig })
  }
}
