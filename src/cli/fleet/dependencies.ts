/**
 * The start order of a fleet: every service after the ones it depends on (Kahn's algorithm,
 * stable in file order), with unknown dependencies, self-dependencies and cycles reported at
 * the `depends_on` entry that names them.
 *
 * @since 0.1.0
 */
import type { Node } from "yaml"
import type { Service } from "./model.js"
import { type Context, report } from "./yamlNodes.js"

/**
 * Where a dependency is named: the file's context and the node.
 *
 * @category ordering
 * @since 0.1.0
 */
export interface DependencyAt {
  readonly ctx: Context
  readonly node: Node | undefined
  /** `required: false`: naming a service the fleet does not have is not a problem. */
  readonly required: boolean
}

/**
 * The services in dependency order, or `undefined` when a problem was reported.
 * `dependencyNodes` holds every declared service (parsed or not) and, for each, the node of
 * each dependency it names.
 *
 * @category ordering
 * @since 0.1.0
 */
export const dependencyOrder = (
  services: ReadonlyArray<Service>,
  dependencyNodes: ReadonlyMap<string, ReadonlyMap<string, DependencyAt>>
): ReadonlyArray<Service> | undefined => {
  let ok = true
  // Every declared service is here, parsed or not, so a broken service is not also "unknown".
  for (const [name, dependencies] of dependencyNodes) {
    for (const [dependency, at] of dependencies) {
      const p = `services.${name}.depends_on.${dependency}`
      if (dependency === name) {
        report(at.ctx, at.node, p, "a service cannot depend on itself")
        ok = false
      } else if (!dependencyNodes.has(dependency) && at.required) {
        report(at.ctx, at.node, p, `unknown service "${dependency}"`)
        ok = false
      }
    }
  }
  // A service that failed to parse is missing from `services`; its dependants are not ordered.
  if (!ok || services.length !== dependencyNodes.size) return undefined
  const ordered: Array<Service> = []
  const placed = new Set<string>()
  let progress = true
  while (progress && ordered.length < services.length) {
    progress = false
    for (const service of services) {
      if (placed.has(service.name)) continue
      if (service.dependsOn.every((dependency) => placed.has(dependency.service))) {
        ordered.push(service)
        placed.add(service.name)
        progress = true
      }
    }
  }
  if (ordered.length === services.length) return ordered
  const cycle = findCycle(services.filter((service) => !placed.has(service.name)))
  const first = cycle[0] ?? ""
  const next = cycle[1] ?? first
  const at = dependencyNodes.get(first)?.get(next)
  if (at === undefined) return undefined
  return report(
    at.ctx,
    at.node,
    `services.${first}.depends_on.${next}`,
    `dependency cycle: ${[...cycle, first].join(" → ")}`
  )
}

const findCycle = (services: ReadonlyArray<Service>): ReadonlyArray<string> => {
  const byName = new Map(services.map((service) => [service.name, service]))
  const start = services[0]
  if (start === undefined) return []
  const trail: Array<string> = []
  let current: Service | undefined = start
  while (current !== undefined && !trail.includes(current.name)) {
    trail.push(current.name)
    current = current.dependsOn
      .map((dependency) => byName.get(dependency.service))
      .find((s) => s !== undefined)
  }
  return current === undefined ? trail : trail.slice(trail.indexOf(current.name))
}
