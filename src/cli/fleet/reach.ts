/**
 * Reading what a service keeps and how its hosts are named: `volumes` (short and long forms),
 * `tmpfs`, `extra_hosts`, and the top-level `volumes` (`ports` and `expose` are in
 * `ports.ts`). Each form's mistakes are reported at their line; what comes out is
 * `ContainerSpec` mounts.
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { isMap, isScalar, isSeq, type Node } from "yaml"
import type * as ContainerSpec from "../../ContainerSpec.js"
import * as Supervisor from "../../Supervisor.js"
import { parseBytes } from "./scalars.js"
import { readBoolean, readBytes, readKeyValues, readMode, readString } from "./values.js"
import { type Context, child, describe, entries, readKeys, report, resolve, visit } from "./yamlNodes.js"

/**
 * A top-level `volumes` entry: an app volume (`<app>_<key>`, kept across runs), or an existing
 * `external` one used under its `name`.
 *
 * @category models
 * @since 0.2.0
 */
export interface DeclaredVolume {
  readonly external: boolean
  /** The engine's name of an external volume (its `name`, else the key). */
  readonly name: string
  /** How an app volume is created (`labels`, `driver`, `driver_opts`); absent when none is given. */
  readonly options?: ContainerSpec.VolumeOptions | undefined
}

/**
 * The top-level `volumes`: `{}`/null (an app volume), `external: true` with an optional
 * `name`, and for an app volume `labels` (map or `KEY=value` list; not the library's prefix),
 * `driver` and `driver_opts`, used when the volume is created. A `name` of a non-external
 * volume is refused (an app volume is `<app>_<key>`), as are options on an external one.
 *
 * @category readers
 * @since 0.2.0
 */
export const readDeclaredVolumes = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  into: Map<string, DeclaredVolume>
): void => {
  for (const item of entries(ctx, node, keyPath) ?? []) {
    const volumePath = child(keyPath, item.key)
    visit(ctx, item.keyNode, volumePath)
    if (!VOLUME_NAME.test(item.key)) {
      report(
        ctx,
        item.keyNode,
        volumePath,
        "a volume name is letters, digits, '_', '.', '-', starting with a letter or digit"
      )
      continue
    }
    if (item.value === undefined || (isScalar(item.value) && item.value.value === null)) {
      into.set(item.key, { external: false, name: item.key })
      continue
    }
    let external = false
    let name: { readonly text: string; readonly node: Node | undefined; readonly keyPath: string } | undefined
    let labels: Readonly<Record<string, string>> | undefined
    let driver: string | undefined
    let driverOptions: Readonly<Record<string, string>> | undefined
    let optionsAt: { readonly node: Node | undefined; readonly keyPath: string } | undefined
    const before = ctx.problems.length
    readKeys(ctx, item.value, volumePath, {
      external: (value, p) => {
        external = readBoolean(ctx, value, p) ?? external
      },
      name: (value, p) => {
        const text = readString(ctx, value, p, { nonEmpty: true })
        if (text === undefined) return
        if (!VOLUME_NAME.test(text))
          report(
            ctx,
            value,
            p,
            "a volume name is letters, digits, '_', '.', '-', starting with a letter or digit"
          )
        else name = { text, node: value, keyPath: p }
      },
      labels: (value, p) => {
        const read = readKeyValues(ctx, value, p, { fromEnvironment: false })
        if (read === undefined) return
        const { prefix } = Supervisor.labelKeys()
        const reserved = Object.keys(read).find((key) => key.startsWith(prefix))
        if (reserved !== undefined)
          report(ctx, value, child(p, reserved), `the label prefix ${prefix} belongs to effect-docker`)
        else {
          labels = read
          optionsAt = optionsAt ?? { node: value, keyPath: p }
        }
      },
      driver: (value, p) => {
        const text = readString(ctx, value, p, { nonEmpty: true })
        if (text === undefined) return
        driver = text
        optionsAt = optionsAt ?? { node: value, keyPath: p }
      },
      driver_opts: (value, p) => {
        const read = readKeyValues(ctx, value, p, { fromEnvironment: false })
        if (read === undefined) return
        driverOptions = read
        optionsAt = optionsAt ?? { node: value, keyPath: p }
      }
    })
    if (ctx.problems.length > before) continue
    if (external && optionsAt !== undefined) {
      report(
        ctx,
        optionsAt.node,
        optionsAt.keyPath,
        "an external volume is used as it is: labels, driver and driver_opts apply only to a volume effect-docker creates"
      )
      continue
    }
    if (name !== undefined && !external) {
      report(
        ctx,
        name.node,
        name.keyPath,
        "unsupported: a volume's own name (effect-docker names an app's volume <app>_<volume>); with external: true it names an existing volume"
      )
      continue
    }
    const options: ContainerSpec.VolumeOptions = {
      ...(labels === undefined ? {} : { labels }),
      ...(driver === undefined ? {} : { driver }),
      ...(driverOptions === undefined ? {} : { driverOptions })
    }
    into.set(item.key, {
      external,
      name: name?.text ?? item.key,
      ...(optionsAt === undefined ? {} : { options })
    })
  }
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/** Whether a short-form source is a host path (Compose: starts with `/`, `.` or `~`). */
const isHostPath = (source: string): boolean =>
  source.startsWith("/") || source.startsWith(".") || source.startsWith("~")

/** `./data` against the project folder, `~/data` against the home folder. */
const hostPath = (ctx: Context, source: string): string =>
  source === "~" || source.startsWith("~/")
    ? path.join(ctx.env.HOME ?? process.env.HOME ?? "/", source.slice(1))
    : path.resolve(ctx.dir, source)

/** A named volume of the service: declared at the top level, or reported. */
const namedVolume = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  source: string,
  target: string,
  readOnly: boolean,
  declared: ReadonlyMap<string, DeclaredVolume>
): ContainerSpec.Mount | undefined => {
  const volume = declared.get(source)
  if (volume === undefined)
    return report(ctx, node, keyPath, `undefined volume "${source}" (declare it under the top-level volumes)`)
  return {
    type: "volume",
    source: volume.name,
    target,
    scope: volume.external ? "external" : "app",
    ...(volume.options === undefined ? {} : { volumeOptions: volume.options }),
    ...(readOnly ? { readOnly } : {})
  }
}

/**
 * A service's `volumes`: short `SOURCE:TARGET[:ro|rw]` (a host path when SOURCE starts with
 * `/`, `.` or `~`, else a declared volume) or `TARGET` (anonymous), and the long form `{ type:
 * volume|bind|tmpfs, source, target, read_only, volume: { nocopy }, tmpfs: { size, mode } }`.
 * The mounts come out with the key path each was read at.
 *
 * @category readers
 * @since 0.2.0
 */
export const readServiceVolumes = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  declared: ReadonlyMap<string, DeclaredVolume>
): ReadonlyArray<ContainerSpec.Mount> | undefined => {
  visit(ctx, node, keyPath)
  if (!isSeq(node)) return report(ctx, node, keyPath, `expected a list of volumes, got ${describe(node)}`)
  const out: Array<ContainerSpec.Mount> = []
  let ok = true
  node.items.forEach((item, i) => {
    const itemNode = resolve(ctx, item)
    const itemPath = child(keyPath, i)
    const mount = isMap(itemNode)
      ? readLongVolume(ctx, itemNode, itemPath, declared)
      : readShortVolume(ctx, itemNode, itemPath, declared)
    if (mount === undefined) ok = false
    else out.push(mount)
  })
  return ok ? out : undefined
}

const targetProblem = (target: string): string | undefined =>
  !target.startsWith("/")
    ? `the target must be an absolute path in the container, got "${target}"`
    : target === "/"
      ? "cannot mount on /"
      : undefined

const readShortVolume = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  declared: ReadonlyMap<string, DeclaredVolume>
): ContainerSpec.Mount | undefined => {
  const text = readString(ctx, node, keyPath, { nonEmpty: true })
  if (text === undefined) return undefined
  const parts = text.split(":")
  if (parts.length === 1) {
    const problem = targetProblem(text)
    return problem === undefined ? { type: "volume", target: text } : report(ctx, node, keyPath, problem)
  }
  if (parts.length > 3) return report(ctx, node, keyPath, `"${text}" is not SOURCE:TARGET[:MODE]`)
  const [source = "", target = "", mode] = parts
  let readOnly = false
  for (const option of mode === undefined ? [] : mode.split(",")) {
    if (option === "ro") readOnly = true
    else if (option === "rw") readOnly = false
    else
      return report(
        ctx,
        node,
        keyPath,
        option === "z" || option === "Z" || option === "nocopy"
          ? `unsupported mode "${option}" (ro or rw)`
          : `unknown mode "${option}" (ro or rw)`
      )
  }
  if (source === "") return report(ctx, node, keyPath, `"${text}" has an empty source`)
  const problem = targetProblem(target)
  if (problem !== undefined) return report(ctx, node, keyPath, problem)
  if (isHostPath(source))
    return { type: "bind", source: hostPath(ctx, source), target, ...(readOnly ? { readOnly } : {}) }
  return namedVolume(ctx, node, keyPath, source, target, readOnly, declared)
}

const VOLUME_TYPES = ["volume", "bind", "tmpfs"] as const

const readLongVolume = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  declared: ReadonlyMap<string, DeclaredVolume>
): ContainerSpec.Mount | undefined => {
  const before = ctx.problems.length
  let type: (typeof VOLUME_TYPES)[number] | undefined
  let source: { readonly text: string; readonly node: Node | undefined; readonly keyPath: string } | undefined
  let target: string | undefined
  let readOnly = false
  let sizeBytes: number | undefined
  let mode: number | undefined
  let typeNode: Node | undefined
  readKeys(
    ctx,
    node,
    keyPath,
    {
      type: (value, p) => {
        typeNode = value
        const text = readString(ctx, value, p)
        if (text === undefined) return
        const found = VOLUME_TYPES.find((t) => t === text)
        if (found !== undefined) type = found
        else
          report(
            ctx,
            value,
            p,
            text === "npipe" || text === "cluster" || text === "image"
              ? `unsupported type "${text}" (volume, bind or tmpfs)`
              : `expected volume, bind or tmpfs, got ${describe(value)}`
          )
      },
      source: (value, p) => {
        const text = readString(ctx, value, p, { nonEmpty: true })
        if (text !== undefined) source = { text, node: value, keyPath: p }
      },
      target: (value, p) => {
        const text = readString(ctx, value, p, { nonEmpty: true })
        const problem = text === undefined ? undefined : targetProblem(text)
        if (problem !== undefined) report(ctx, value, p, problem)
        else target = text
      },
      read_only: (value, p) => {
        readOnly = readBoolean(ctx, value, p) ?? readOnly
      },
      volume: (value, p) => {
        readKeys(ctx, value, p, {
          // Read and not applied: a new empty volume gets the image's content at the target.
          nocopy: (nocopyNode, nocopyPath) => void readBoolean(ctx, nocopyNode, nocopyPath)
        })
      },
      tmpfs: (value, p) => {
        readKeys(ctx, value, p, {
          size: (sizeNode, sizePath) => {
            sizeBytes = readBytes(ctx, sizeNode, sizePath)
          },
          mode: (modeNode, modePath) => {
            mode = readMode(ctx, modeNode, modePath)
          }
        })
      }
    },
    { required: ["type", "target"] }
  )
  if (ctx.problems.length > before || type === undefined || target === undefined) return undefined
  const flag = readOnly ? { readOnly } : {}
  if (type === "tmpfs") {
    if (source !== undefined) return report(ctx, source.node, source.keyPath, "a tmpfs has no source")
    return {
      type: "tmpfs",
      target,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
      ...(mode === undefined ? {} : { mode }),
      ...flag
    }
  }
  if (sizeBytes !== undefined || mode !== undefined)
    return report(ctx, typeNode, child(keyPath, "tmpfs"), `tmpfs settings on a ${type} mount`)
  if (type === "bind") {
    if (source === undefined)
      return report(ctx, node, child(keyPath, "source"), "a bind mount needs a source")
    return { type: "bind", source: hostPath(ctx, source.text), target, ...flag }
  }
  if (source === undefined) return { type: "volume", target, ...flag }
  return namedVolume(ctx, source.node, source.keyPath, source.text, target, readOnly, declared)
}

/**
 * `tmpfs`: a path or a list of paths, each optionally `:size=64m,mode=1777` (other options
 * such as `noexec` are refused).
 *
 * @category readers
 * @since 0.2.0
 */
export const readTmpfs = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<ContainerSpec.Mount> | undefined => {
  visit(ctx, node, keyPath)
  const items = isSeq(node) ? node.items.map((item) => resolve(ctx, item)) : [node]
  const out: Array<ContainerSpec.Mount> = []
  let ok = true
  items.forEach((item, i) => {
    const itemPath = isSeq(node) ? child(keyPath, i) : keyPath
    const text = readString(ctx, item, itemPath, { nonEmpty: true })
    if (text === undefined) {
      ok = false
      return
    }
    const colon = text.indexOf(":")
    const target = colon === -1 ? text : text.slice(0, colon)
    const problem = targetProblem(target)
    if (problem !== undefined) {
      ok = false
      report(ctx, item, itemPath, problem)
      return
    }
    let sizeBytes: number | undefined
    let mode: number | undefined
    for (const option of colon === -1 ? [] : text.slice(colon + 1).split(",")) {
      const [name, value = ""] = option.split("=")
      if (name === "size" && parseBytes(value) !== undefined) sizeBytes = parseBytes(value)
      else if (name === "mode" && /^[0-7]{3,4}$/.test(value)) mode = Number.parseInt(value, 8)
      else {
        ok = false
        report(ctx, item, itemPath, `unsupported tmpfs option "${option}" (size=64m, mode=1777)`)
        return
      }
    }
    out.push({
      type: "tmpfs",
      target,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
      ...(mode === undefined ? {} : { mode })
    })
  })
  return ok ? out : undefined
}

/**
 * `extra_hosts`: a list of `host=ip` (or `host:ip`), or a map of host → ip.
 *
 * @category readers
 * @since 0.2.0
 */
export const readExtraHosts = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): Readonly<Record<string, string>> | undefined => {
  visit(ctx, node, keyPath)
  const out: Record<string, string> = {}
  if (isSeq(node)) {
    let ok = true
    node.items.forEach((item, i) => {
      const itemNode = resolve(ctx, item)
      const itemPath = child(keyPath, i)
      const text = readString(ctx, itemNode, itemPath, { nonEmpty: true })
      if (text === undefined) {
        ok = false
        return
      }
      const cut = text.includes("=") ? text.indexOf("=") : text.indexOf(":")
      if (cut <= 0 || cut === text.length - 1) {
        ok = false
        report(ctx, itemNode, itemPath, `expected host=ip, got "${text}"`)
        return
      }
      out[text.slice(0, cut)] = text.slice(cut + 1).replace(/^\[(.*)\]$/, "$1")
    })
    return ok ? out : undefined
  }
  const items = entries(ctx, node, keyPath)
  if (items === undefined) return undefined
  for (const { key, value } of items) {
    const ip = readString(ctx, value, child(keyPath, key), { nonEmpty: true })
    if (ip === undefined) return undefined
    out[key] = ip
  }
  return out
}
