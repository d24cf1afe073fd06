import { isMap, isSeq, type Node } from "yaml"
import type * as ContainerSpec from "../../ContainerSpec.js"
import { readString } from "./values.js"
import { type Context, child, describe, readKeys, report, resolve, visit } from "./yamlNodes.js"

const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/

/** `8000-8001` → [8000, 8001]; a problem text when out of bounds or reversed. */
const parseRange = (text: string): ReadonlyArray<number> | string => {
  const match = RANGE.exec(text)
  if (match === null) return `"${text}" is not a port or a range like 8000-8010`
  const from = Number(match[1])
  const to = match[2] === undefined ? from : Number(match[2])
  if (from < 1 || to > 65535) return `${text}: a port is between 1 and 65535`
  if (to < from) return `${text}: the range ends before it starts`
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

const parseProtocol = (text: string | undefined): ContainerSpec.Protocol | string => {
  if (text === undefined || text === "tcp") return "tcp"
  if (text === "udp") return "udp"
  return `unsupported protocol "${text}" (tcp or udp)`
}

/** A port as text: numbers too (`- 80`). */
const scalarText = (ctx: Context, node: Node | undefined, keyPath: string): string | undefined =>
  readString(ctx, node, keyPath, { scalars: true, nonEmpty: true })

/**
 * One short `ports` entry: `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTOCOL]`, the host
 * IP possibly in brackets (`[::1]:8080:80`).
 *
 * @category parsing
 * @since 0.2.0
 */
export const parsePortSpec = (text: string): ReadonlyArray<ContainerSpec.Port> | string => {
  const slash = text.lastIndexOf("/")
  const protocol = parseProtocol(slash === -1 ? undefined : text.slice(slash + 1))
  if (protocol !== "tcp" && protocol !== "udp") return protocol
  let rest = slash === -1 ? text : text.slice(0, slash)
  let hostIp: string | undefined
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(rest)
  if (bracketed !== null) {
    hostIp = bracketed[1]
    rest = bracketed[2] ?? ""
  }
  const parts = rest.split(":")
  if (hostIp === undefined && parts.length === 3) {
    hostIp = parts[0]
    parts.shift()
  }
  if (parts.length > 2 || (hostIp !== undefined && parts.length !== 2))
    return `"${text}" is not [HOST_IP:][HOST:]CONTAINER[/PROTOCOL]`
  const containerPart = parts[parts.length - 1] ?? ""
  const hostPart = parts.length === 2 ? parts[0] : undefined
  const containers = parseRange(containerPart)
  if (typeof containers === "string") return containers
  const hosts = hostPart === undefined || hostPart === "" ? undefined : parseRange(hostPart)
  if (typeof hosts === "string") return hosts
  if (hosts !== undefined && hosts.length !== containers.length)
    return hosts.length > 1 && containers.length === 1
      ? `unsupported: a host range for one container port (${hostPart}) asks for any free port in it; give one host port, or none for a free one`
      : `${hostPart} and ${containerPart} are ranges of different lengths`
  const ip = hostIp === "" ? undefined : hostIp
  return containers.map((container, i) => ({
    container,
    protocol,
    ...(hosts === undefined ? {} : { host: hosts[i]! }),
    ...(ip === undefined ? {} : { hostIp: ip })
  }))
}

/**
 * `ports`: short strings (and numbers), or the long form `{ target, published, host_ip,
 * protocol, mode }`.
 *
 * @category readers
 * @since 0.2.0
 */
export const readPorts = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<ContainerSpec.Port> | undefined => {
  visit(ctx, node, keyPath)
  if (!isSeq(node)) return report(ctx, node, keyPath, `expected a list of ports, got ${describe(node)}`)
  const out: Array<ContainerSpec.Port> = []
  let ok = true
  node.items.forEach((item, i) => {
    const itemNode = resolve(ctx, item)
    const itemPath = child(keyPath, i)
    const ports = isMap(itemNode)
      ? readLongPort(ctx, itemNode, itemPath)
      : readShortPort(ctx, itemNode, itemPath)
    if (ports === undefined) ok = false
    else out.push(...ports)
  })
  return ok ? out : undefined
}

const readShortPort = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<ContainerSpec.Port> | undefined => {
  const text = scalarText(ctx, node, keyPath)
  if (text === undefined) return undefined
  const ports = parsePortSpec(text.trim())
  return typeof ports === "string" ? report(ctx, node, keyPath, ports) : ports
}

const readLongPort = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<ContainerSpec.Port> | undefined => {
  const before = ctx.problems.length
  let target: ReadonlyArray<number> | undefined
  let published: ReadonlyArray<number> | undefined
  let hostIp: string | undefined
  let protocol: ContainerSpec.Protocol = "tcp"
  const range = (value: Node | undefined, p: string) => {
    const text = scalarText(ctx, value, p)
    if (text === undefined) return undefined
    const ports = parseRange(text.trim())
    return typeof ports === "string" ? report(ctx, value, p, ports) : ports
  }
  readKeys(
    ctx,
    node,
    keyPath,
    {
      target: (value, p) => {
        target = range(value, p)
      },
      published: (value, p) => {
        published = range(value, p)
      },
      host_ip: (value, p) => {
        hostIp = readString(ctx, value, p, { nonEmpty: true })
      },
      protocol: (value, p) => {
        const text = readString(ctx, value, p)
        if (text === undefined) return
        const parsed = parseProtocol(text)
        if (parsed === "tcp" || parsed === "udp") protocol = parsed
        else report(ctx, value, p, parsed)
      },
      // `ingress` (Swarm's routing mesh) and `host` publish alike on one engine.
      mode: (value, p) => {
        const text = readString(ctx, value, p)
        if (text !== undefined && text !== "ingress" && text !== "host")
          report(ctx, value, p, 'expected "ingress" or "host"')
      },
      name: (value, p) => void readString(ctx, value, p)
    },
    { required: ["target"] }
  )
  if (ctx.problems.length > before || target === undefined) return undefined
  if (target.length !== 1)
    return report(ctx, node, child(keyPath, "target"), "expected one port, not a range")
  if (published !== undefined && published.length !== 1)
    return report(
      ctx,
      node,
      child(keyPath, "published"),
      "unsupported: a published range for one target port asks for any free port in it; give one port, or none for a free one"
    )
  return [
    {
      container: target[0]!,
      protocol,
      ...(published === undefined ? {} : { host: published[0]! }),
      ...(hostIp === undefined ? {} : { hostIp })
    }
  ]
}

/**
 * `expose`: ports and ranges, optionally `/udp` (`"3000"`, `"8000-8010/tcp"`, `9090`).
 *
 * @category readers
 * @since 0.2.0
 */
export const readExpose = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<ContainerSpec.ExposedPort> | undefined => {
  visit(ctx, node, keyPath)
  if (!isSeq(node)) return report(ctx, node, keyPath, `expected a list of ports, got ${describe(node)}`)
  const out: Array<ContainerSpec.ExposedPort> = []
  let ok = true
  node.items.forEach((item, i) => {
    const itemNode = resolve(ctx, item)
    const itemPath = child(keyPath, i)
    const text = scalarText(ctx, itemNode, itemPath)
    if (text === undefined) {
      ok = false
      return
    }
    const [portText = "", protocolText, ...extra] = text.trim().split("/")
    const protocol = parseProtocol(protocolText)
    const ports = parseRange(portText)
    const problem =
      extra.length > 0
        ? `"${text}" is not PORT[/PROTOCOL]`
        : protocol !== "tcp" && protocol !== "udp"
          ? protocol
          : typeof ports === "string"
            ? ports
            : undefined
    if (problem !== undefined || typeof ports === "string" || (protocol !== "tcp" && protocol !== "udp")) {
      report(ctx, itemNode, itemPath, problem ?? "not a port")
      ok = false
      return
    }
    for (const container of ports) out.push({ container, protocol })
  })
  return ok ? out : undefined
}
