/**
 * Walking the YAML document of a fleet file: where a node is (its line), what it is (for
 * messages), a map's entries with `<<` merge keys applied, key paths
 * (`services.web.environment.PORT`), and the problems collected on the way. Every reader of
 * the fleet file goes through the {@link Context} built here.
 *
 * @since 0.1.0
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml"
import type { Environment, Position, Problem } from "./model.js"

/**
 * One reading of one file: the document, its line counter, the interpolation environment,
 * the problems found so far and where every key path was read. When several files are merged,
 * each has its own context; they share `problems` and `seen`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Context {
  /** The file as the user named it, for messages. */
  readonly file: string
  /** The folder relative paths in the file (`env_file`) are resolved against. */
  readonly dir: string
  /** Reads a file the fleet file names (`env_file`); throws as `fs.readFileSync` does. */
  readonly readFile: (path: string) => string
  readonly doc: Document
  readonly lines: LineCounter
  readonly source: string
  readonly env: Environment
  readonly problems: Array<Problem>
  readonly seen: Map<string, Position>
}

/**
 * The 1-based line a node starts on (1 when the node is missing).
 *
 * @category positions
 * @since 0.1.0
 */
export const lineOf = (ctx: Context, node: Node | null | undefined): number =>
  node?.range ? ctx.lines.linePos(node.range[0]).line : 1

/**
 * Records a problem at a node; returns `undefined` so a reader can `return report(...)`.
 *
 * @category problems
 * @since 0.1.0
 */
export const report = (
  ctx: Context,
  node: Node | null | undefined,
  keyPath: string,
  message: string
): undefined => {
  ctx.problems.push({ file: ctx.file, line: lineOf(ctx, node), path: keyPath, message })
  return undefined
}

/**
 * Follows aliases (`*common`) to the node they name; `undefined` for anything else.
 *
 * @category nodes
 * @since 0.1.0
 */
export const resolve = (ctx: Context, node: unknown): Node | undefined => {
  let current = node
  for (let hops = 0; isAlias(current) && hops < 32; hops++) current = current.resolve(ctx.doc)
  return isMap(current) || isSeq(current) || isScalar(current) ? current : undefined
}

/**
 * @category nodes
 * @since 0.1.0
 */
export interface Entry {
  readonly key: string
  readonly keyNode: Node | undefined
  readonly value: Node | undefined
}

/**
 * A map's entries with `<<` merge keys applied (explicit keys win), or undefined when not a map.
 *
 * @category nodes
 * @since 0.1.0
 */
export const entries = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<Entry> | undefined => {
  if (!isMap(node)) return report(ctx, node, keyPath, `expected a mapping, got ${describe(node)}`)
  const own: Array<Entry> = []
  const merged: Array<Entry> = []
  for (const pair of node.items) {
    const keyNode = resolve(ctx, pair.key)
    const raw = isScalar(keyNode) ? keyNode.value : undefined
    const isMerge = typeof raw === "symbol" && raw.description === "<<"
    const key = isMerge ? "<<" : typeof raw === "string" || typeof raw === "number" ? String(raw) : undefined
    if (key === undefined) {
      report(ctx, keyNode, keyPath, "keys must be plain strings")
      continue
    }
    if (isMerge) {
      const sources = resolve(ctx, pair.value)
      for (const source of isSeq(sources) ? sources.items.map((item) => resolve(ctx, item)) : [sources]) {
        merged.push(...(entries(ctx, source, keyPath) ?? []))
      }
      continue
    }
    if (own.some((entry) => entry.key === key)) {
      report(ctx, keyNode, child(keyPath, key), "duplicate key")
      continue
    }
    own.push({ key, keyNode, value: resolve(ctx, pair.value) })
  }
  const ownKeys = new Set(own.map((entry) => entry.key))
  const fromMerges = merged.filter(
    (entry, i) => !ownKeys.has(entry.key) && merged.findIndex((e) => e.key === entry.key) === i
  )
  return [...own, ...fromMerges]
}

/**
 * A node as a message names it: `a mapping`, `a list`, `"soon"`, `null`.
 *
 * @category nodes
 * @since 0.1.0
 */
export const describe = (node: Node | undefined): string => {
  if (node === undefined) return "nothing"
  if (isMap(node)) return "a mapping"
  if (isSeq(node)) return "a list"
  if (isScalar(node)) {
    const value = node.value
    if (value === null) return "null"
    if (typeof value === "string") return `"${value.length > 40 ? value.slice(0, 40) + "…" : value}"`
    return String(value)
  }
  return "an unknown node"
}

/**
 * The key path of a child: `services.web`, `command[0]`, `labels["com.example/x"]`.
 *
 * @category positions
 * @since 0.1.0
 */
export const child = (keyPath: string, key: string | number): string =>
  keyPath === "" && typeof key === "string"
    ? key
    : typeof key === "number"
      ? `${keyPath}[${key}]`
      : /^[A-Za-z0-9_-]+$/.test(key)
        ? `${keyPath}.${key}`
        : `${keyPath}["${key}"]`

/**
 * Remembers the line of a key path read, to place errors found after parsing.
 *
 * @category positions
 * @since 0.1.0
 */
export const visit = (ctx: Context, node: Node | undefined, keyPath: string): void => {
  // First read in a file wins (a `<<` merge comes after the key itself); a later file overrides.
  if (ctx.seen.get(keyPath)?.file !== ctx.file)
    ctx.seen.set(keyPath, { file: ctx.file, line: lineOf(ctx, node) })
}

/**
 * Reads a map's keys with one reader per supported key; any other key is reported.
 *
 * @category nodes
 * @since 0.1.0
 */
export const readKeys = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string,
  readers: Readonly<Record<string, (value: Node | undefined, keyPath: string) => void>>,
  options?: {
    readonly required?: ReadonlyArray<string>
    readonly allowExtensions?: boolean
    /** Where a missing required key is reported (the map's own key reads better than its first line). */
    readonly at?: Node | undefined
  }
): boolean => {
  const items = entries(ctx, node, keyPath)
  if (items === undefined) return false
  visit(ctx, node, keyPath)
  for (const { key, keyNode, value } of items) {
    const reader = readers[key]
    if (reader !== undefined) reader(value, child(keyPath, key))
    else if (options?.allowExtensions === true && key.startsWith("x-")) visit(ctx, value, child(keyPath, key))
    else
      report(
        ctx,
        keyNode,
        child(keyPath, key),
        Object.keys(readers).length === 0
          ? "unsupported key (no settings are supported here)"
          : `unsupported key (supported here: ${Object.keys(readers).join(", ")})`
      )
  }
  for (const key of options?.required ?? []) {
    if (!items.some((entry) => entry.key === key))
      report(ctx, options?.at ?? node, keyPath || "(root)", `missing required key "${key}"`)
  }
  return true
}
