/**
 * Reading one value of a fleet file from its YAML node: strings (interpolated), string lists,
 * commands, durations, whole numbers, byte sizes, file modes and `KEY=value` collections.
 * Each reader records the key path's line and reports a wrong value where it stands.
 *
 * @since 0.1.0
 */
import { type Duration, Result } from "effect"
import { isScalar, isSeq, type Node } from "yaml"
import { interpolate } from "./interpolation.js"
import { parseBytes, parseDuration, shellSplit } from "./scalars.js"
import { type Context, child, describe, entries, report, resolve, visit } from "./yamlNodes.js"

/** Interpolates a string read at `node`; each problem is reported there. */
const interpolateAt = (ctx: Context, node: Node, keyPath: string, text: string): string | undefined => {
  const result = interpolate(text, ctx.env)
  if (Result.isSuccess(result)) return result.success
  for (const problem of result.failure) report(ctx, node, keyPath, problem)
  return undefined
}

/**
 * A string (numbers and booleans too, with `scalars`), interpolated.
 *
 * @category readers
 * @since 0.1.0
 */
export const readString = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  options?: { readonly scalars?: boolean; readonly nonEmpty?: boolean }
): string | undefined => {
  visit(ctx, node, keyPath)
  if (!isScalar(node)) return report(ctx, node, keyPath, `expected a string, got ${describe(node)}`)
  const value = node.value
  let text: string
  if (typeof value === "string") text = value
  else if (options?.scalars === true && (typeof value === "number" || typeof value === "boolean"))
    text = String(value)
  else return report(ctx, node, keyPath, `expected a string, got ${describe(node)}`)
  const interpolated = interpolateAt(ctx, node, keyPath, text)
  if (interpolated === undefined) return undefined
  if (options?.nonEmpty === true && interpolated.trim() === "")
    return report(ctx, node, keyPath, "must not be empty")
  return interpolated
}

/**
 * A list of strings (numbers and booleans read as text).
 *
 * @category readers
 * @since 0.1.0
 */
export const readStringList = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<string> | undefined => {
  visit(ctx, node, keyPath)
  if (!isSeq(node)) return report(ctx, node, keyPath, `expected a list of strings, got ${describe(node)}`)
  const out: Array<string> = []
  let ok = true
  node.items.forEach((item, i) => {
    const value = readString(ctx, resolve(ctx, item), child(keyPath, i), { scalars: true })
    if (value === undefined) ok = false
    else out.push(value)
  })
  return ok ? out : undefined
}

/**
 * `command`, `entrypoint`: a string (split like a shell) or a list.
 *
 * @category readers
 * @since 0.1.0
 */
export const readCommand = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<string> | undefined => {
  if (isSeq(node)) return readStringList(ctx, node, keyPath)
  const text = readString(ctx, node, keyPath)
  if (text === undefined) return undefined
  const words = shellSplit(text)
  return typeof words === "string" ? report(ctx, node, keyPath, words) : words
}

/**
 * A Compose duration (`1m30s`), interpolated.
 *
 * @category readers
 * @since 0.1.0
 */
export const readDuration = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): Duration.Duration | undefined => {
  visit(ctx, node, keyPath)
  const text =
    isScalar(node) && typeof node.value === "string"
      ? interpolateAt(ctx, node, keyPath, node.value)
      : undefined
  const duration = text === undefined ? undefined : parseDuration(text)
  return duration ?? report(ctx, node, keyPath, `expected a duration like 5s, got ${describe(node)}`)
}

/**
 * A whole number at least `min`, written as a number or as digits in a string.
 *
 * @category readers
 * @since 0.1.0
 */
export const readInteger = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  min: number
): number | undefined => {
  visit(ctx, node, keyPath)
  const value = isScalar(node) ? node.value : undefined
  const number =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d+$/.test(value)
        ? Number(value)
        : undefined
  if (number === undefined || !Number.isSafeInteger(number) || number < min) {
    return report(ctx, node, keyPath, `expected a whole number >= ${min}, got ${describe(node)}`)
  }
  return number
}

/**
 * A byte size (`64m`, `1g`, a number of bytes).
 *
 * @category readers
 * @since 0.1.0
 */
export const readBytes = (ctx: Context, node: Node | undefined, keyPath: string): number | undefined => {
  visit(ctx, node, keyPath)
  const value = isScalar(node) ? node.value : undefined
  const bytes = typeof value === "number" || typeof value === "string" ? parseBytes(value) : undefined
  return bytes ?? report(ctx, node, keyPath, `expected a size like 64m or 1g, got ${describe(node)}`)
}

/**
 * `mode: 0644` (YAML 1.2 reads it as decimal 644: the source text decides), `0o644`, `"0644"`, `420`.
 *
 * @category readers
 * @since 0.1.0
 */
export const readMode = (ctx: Context, node: Node | undefined, keyPath: string): number | undefined => {
  visit(ctx, node, keyPath)
  const raw =
    isScalar(node) && node.range
      ? ctx.source
          .slice(node.range[0], node.range[1])
          .trim()
          .replace(/^["']|["']$/g, "")
      : ""
  let mode: number | undefined
  if (/^0o?[0-7]+$/.test(raw)) mode = Number.parseInt(raw.replace(/^0o?/, "") || "0", 8)
  else if (/^[1-9]\d*$/.test(raw) && isScalar(node) && typeof node.value === "number") mode = node.value
  if (mode === undefined || mode > 0o7777)
    return report(ctx, node, keyPath, `expected a file mode like 0644, got ${describe(node)}`)
  return mode
}

/**
 * `environment`, `labels`: a map, or a list of `KEY=value` (and `KEY` alone: from the environment).
 *
 * @category readers
 * @since 0.1.0
 */
export const readKeyValues = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  options: { readonly fromEnvironment: boolean }
): Readonly<Record<string, string>> | undefined => {
  visit(ctx, node, keyPath)
  const out: Record<string, string> = {}
  const validName = (name: string, at: Node | undefined, p: string): boolean => {
    if (name === "" || /[=\0\n]/.test(name)) {
      report(ctx, at, p, "a name must be non-empty without '=', NUL or newline")
      return false
    }
    return true
  }
  if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const entryPath = child(keyPath, i)
      const itemNode = resolve(ctx, item)
      const text = readString(ctx, itemNode, entryPath)
      if (text === undefined) return
      const eq = text.indexOf("=")
      const name = eq === -1 ? text : text.slice(0, eq)
      if (!validName(name, itemNode, entryPath)) return
      visit(ctx, itemNode, child(keyPath, name))
      if (eq !== -1) out[name] = text.slice(eq + 1)
      else if (!options.fromEnvironment) out[name] = ""
      else if (ctx.env[name] !== undefined) out[name] = ctx.env[name]
    })
    return out
  }
  const items = entries(ctx, node, keyPath)
  if (items === undefined) return undefined
  for (const { key, keyNode, value } of items) {
    const entryPath = child(keyPath, key)
    if (!validName(key, keyNode, entryPath)) continue
    if (isScalar(value) && value.value === null) {
      visit(ctx, value, entryPath)
      if (!options.fromEnvironment) out[key] = ""
      else if (ctx.env[key] !== undefined) out[key] = ctx.env[key]
      continue
    }
    const text = readString(ctx, value, entryPath, { scalars: true })
    if (text !== undefined) out[key] = text
  }
  return out
}

/**
 * `true` or `false` (YAML booleans; `"true"`/`"false"` strings after interpolation too).
 *
 * @category readers
 * @since 0.1.0
 */
export const readBoolean = (ctx: Context, node: Node | undefined, keyPath: string): boolean | undefined => {
  visit(ctx, node, keyPath)
  const value = isScalar(node) ? node.value : undefined
  if (typeof value === "boolean") return value
  if (typeof value === "string") {
    const text = interpolateAt(ctx, node!, keyPath, value)
    if (text === "true" || text === "false") return text === "true"
    if (text === undefined) return undefined
  }
  return report(ctx, node, keyPath, `expected true or false, got ${describe(node)}`)
}

/**
 * A number of CPUs > 0 (`0.5`, `"1.5"`).
 *
 * @category readers
 * @since 0.1.0
 */
export const readCpus = (ctx: Context, node: Node | undefined, keyPath: string): number | undefined => {
  visit(ctx, node, keyPath)
  const raw = isScalar(node) ? node.value : undefined
  const text = typeof raw === "string" ? interpolateAt(ctx, node!, keyPath, raw) : undefined
  const number =
    typeof raw === "number" ? raw : text !== undefined && text.trim() !== "" ? Number(text) : Number.NaN
  if (Number.isFinite(number) && number > 0) return number
  return report(ctx, node, keyPath, `expected a number of CPUs > 0 like 0.5, got ${describe(node)}`)
}
