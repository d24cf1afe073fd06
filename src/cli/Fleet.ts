/**
 * The fleet file: a subset of the Compose file format, read from YAML or JSON.
 *
 * Every problem names the file, the line and the key path
 * (`demo.yaml:12: services.web.healthcheck.interval: expected a duration like 5s`), every
 * problem is collected (not only the first), and a key outside the subset is reported as
 * unsupported, never ignored. The services come out in dependency order.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import * as Fleet from "./cli/Fleet.js"
 *
 * const parsed = Fleet.parse("services:\n  web:\n    image: busybox:latest\n", { file: "demo.yaml" })
 * if (Result.isFailure(parsed)) console.error(parsed.failure.message)
 * ```
 *
 * @since 0.1.0
 */

import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Duration, Effect, Result, Runtime, Schema } from "effect"
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml"

// ---------------------------------------------------------------------------------------------
// What a fleet file describes
// ---------------------------------------------------------------------------------------------

/**
 * When a service may start, relative to one it depends on (Compose's `depends_on.condition`).
 *
 * @since 0.1.0
 */
export type DependencyCondition = "service_started" | "service_healthy" | "service_completed_successfully"

/** @since 0.1.0 */
export interface Dependency {
  readonly service: string
  readonly condition: DependencyCondition
}

/**
 * Compose's `restart`: `no`, `always` (and `unless-stopped`, read as `always`), `on-failure[:N]`.
 *
 * @since 0.1.0
 */
export type Restart =
  | { readonly _tag: "no" }
  | { readonly _tag: "always" }
  | { readonly _tag: "onFailure"; readonly maxRetries: number | undefined }

/** @since 0.1.0 */
export interface Healthcheck {
  /** `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`. */
  readonly test: ReadonlyArray<string>
  readonly interval: Duration.Duration | undefined
  readonly timeout: Duration.Duration | undefined
  readonly retries: number | undefined
  readonly startPeriod: Duration.Duration | undefined
}

/**
 * A file copied into the container before it starts (the `x-files` extension).
 *
 * @since 0.1.0
 */
export interface File {
  readonly path: string
  readonly content: string
  readonly mode: number | undefined
}

/**
 * One service of the fleet, as read from the file.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly name: string
  readonly image: string
  readonly command: ReadonlyArray<string> | undefined
  readonly entrypoint: ReadonlyArray<string> | undefined
  readonly environment: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly healthcheck: Healthcheck | undefined
  readonly restart: Restart
  readonly stopGracePeriod: Duration.Duration | undefined
  readonly dependsOn: ReadonlyArray<Dependency>
  /** Bytes. */
  readonly memLimit: number | undefined
  readonly cpus: number | undefined
  readonly files: ReadonlyArray<File>
}

/**
 * A parsed fleet: its services in dependency order (every service after the ones it depends on).
 *
 * @since 0.1.0
 */
export interface Fleet {
  /** The file as the user named it, for messages. */
  readonly file: string
  /** The top-level `name`, when given. */
  readonly name: string | undefined
  readonly services: ReadonlyArray<Service>
  /** The line of every key path read (`services.web.environment.PORT` → 7), to place later errors. */
  readonly lines: ReadonlyMap<string, number>
}

/**
 * One problem in a fleet file.
 *
 * @since 0.1.0
 */
export const Problem = Schema.Struct({
  line: Schema.Number,
  /** The key path, `services.web.healthcheck.interval`; `(yaml)` for a syntax error. */
  path: Schema.String,
  message: Schema.String
})
/** @since 0.1.0 */
export type Problem = typeof Problem.Type

/**
 * A fleet file that cannot run, with every problem found. Exit status 2 when it ends the program.
 *
 * @since 0.1.0
 */
export class FleetError extends Schema.TaggedError<FleetError>()("FleetError", {
  file: Schema.String,
  problems: Schema.Array(Problem)
}) {
  override readonly [Runtime.errorExitCode] = 2

  override get message(): string {
    return this.problems.map((problem) => formatProblem(this.file, problem)).join("\n")
  }
}

/**
 * `demo.yaml:12: services.web.healthcheck.interval: expected a duration like 5s`
 *
 * @since 0.1.0
 */
export const formatProblem = (file: string, problem: Problem): string =>
  `${file}:${problem.line}: ${problem.path}: ${problem.message}`

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/**
 * Reads and parses a fleet file. `file` is shown in messages as given.
 *
 * @since 0.1.0
 */
export const load = (
  file: string,
  options?: { readonly env?: Environment }
): Effect.Effect<Fleet, FleetError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) =>
      new FleetError({
        file,
        problems: [{ line: 0, path: "(file)", message: readErrorMessage(cause) }]
      })
  }).pipe(
    Effect.flatMap((source) => {
      const parsed = parse(source, { file, ...(options?.env ? { env: options.env } : {}) })
      return Result.isSuccess(parsed) ? Effect.succeed(parsed.success) : Effect.fail(parsed.failure)
    })
  )

const readErrorMessage = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory"
  if (code === "EACCES") return "permission denied"
  return cause instanceof Error ? cause.message : String(cause)
}

/** Variables for `${VAR}` interpolation and for `environment` entries given without a value. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Parses a fleet file's text (YAML, or JSON, which YAML reads too). Pure: the environment for
 * interpolation is passed in (default: none).
 *
 * @since 0.1.0
 */
export const parse = (
  source: string,
  options: { readonly file: string; readonly env?: Environment }
): Result.Result<Fleet, FleetError> => {
  const lines = new LineCounter()
  const doc = parseDocument(source, {
    lineCounter: lines,
    merge: true,
    prettyErrors: false,
    uniqueKeys: false
  })
  const ctx: Context = {
    doc,
    lines,
    source,
    env: options.env ?? {},
    problems: [],
    seen: new Map()
  }
  for (const error of [...doc.errors, ...doc.warnings]) {
    ctx.problems.push({
      line: error.linePos?.[0].line ?? 1,
      path: "(yaml)",
      message: error.message.split("\n")[0] ?? error.message
    })
  }
  if (ctx.problems.length > 0)
    return Result.fail(new FleetError({ file: options.file, problems: ctx.problems }))

  const fleet = readFleet(ctx, options.file)
  if (ctx.problems.length > 0 || fleet === undefined) {
    const problems = [...ctx.problems].sort((a, b) => a.line - b.line)
    return Result.fail(new FleetError({ file: options.file, problems }))
  }
  return Result.succeed(fleet)
}

interface Context {
  readonly doc: Document
  readonly lines: LineCounter
  readonly source: string
  readonly env: Environment
  readonly problems: Array<Problem>
  readonly seen: Map<string, number>
}

const lineOf = (ctx: Context, node: Node | null | undefined): number =>
  node?.range ? ctx.lines.linePos(node.range[0]).line : 1

const report = (ctx: Context, node: Node | null | undefined, keyPath: string, message: string): undefined => {
  ctx.problems.push({ line: lineOf(ctx, node), path: keyPath, message })
  return undefined
}

const resolve = (ctx: Context, node: unknown): Node | undefined => {
  let current = node
  for (let hops = 0; isAlias(current) && hops < 32; hops++) current = current.resolve(ctx.doc)
  return isMap(current) || isSeq(current) || isScalar(current) ? current : undefined
}

interface Entry {
  readonly key: string
  readonly keyNode: Node | undefined
  readonly value: Node | undefined
}

/** A map's entries with `<<` merge keys applied (explicit keys win), or undefined when not a map. */
const entries = (ctx: Context, node: Node | undefined, keyPath: string): ReadonlyArray<Entry> | undefined => {
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

const describe = (node: Node | undefined): string => {
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

const child = (keyPath: string, key: string | number): string =>
  keyPath === "" && typeof key === "string"
    ? key
    : typeof key === "number"
      ? `${keyPath}[${key}]`
      : /^[A-Za-z0-9_-]+$/.test(key)
        ? `${keyPath}.${key}`
        : `${keyPath}["${key}"]`

const visit = (ctx: Context, node: Node | undefined, keyPath: string): void => {
  if (!ctx.seen.has(keyPath)) ctx.seen.set(keyPath, lineOf(ctx, node))
}

// --- scalars --------------------------------------------------------------------------------

/** `$$` → `$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`, as Compose interpolates. */
const interpolate = (ctx: Context, node: Node, keyPath: string, text: string): string | undefined => {
  let failed = false
  const out = text.replace(
    /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))/g,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      fallback: string | undefined,
      bare: string | undefined,
      bad: string | undefined
    ) => {
      if (match === "$$") return "$"
      if (bad !== undefined) {
        failed = true
        report(
          ctx,
          node,
          keyPath,
          `unsupported interpolation ${match} (use \${VAR}, \${VAR:-default} or $$ for a literal $)`
        )
        return match
      }
      const name = braced ?? bare ?? ""
      const value = ctx.env[name]
      if (op === ":-") return value === undefined || value === "" ? (fallback ?? "") : value
      if (op === "-") return value === undefined ? (fallback ?? "") : value
      return value ?? ""
    }
  )
  return failed ? undefined : out
}

const readString = (
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
  const interpolated = interpolate(ctx, node, keyPath, text)
  if (interpolated === undefined) return undefined
  if (options?.nonEmpty === true && interpolated.trim() === "")
    return report(ctx, node, keyPath, "must not be empty")
  return interpolated
}

/** Compose splits a string command like a shell would (quotes, backslashes), without expanding anything. */
const shellSplit = (text: string): ReadonlyArray<string> | string => {
  const words: Array<string> = []
  let word = ""
  let inWord = false
  let quote: "'" | '"' | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote === "'") {
      if (c === "'") quote = undefined
      else word += c
    } else if (quote === '"') {
      if (c === '"') quote = undefined
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i]
      else word += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ""
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (quote !== undefined) return `unterminated ${quote} quote`
  if (inWord) words.push(word)
  return words
}

const readStringList = (
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

/** `command`, `entrypoint`: a string (split like a shell) or a list. */
const readCommand = (
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

const DURATION_UNITS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001
}

/** Compose durations: `1m30s`, `10s`, `500ms`, `1.5h`. */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const trimmed = text.trim()
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(trimmed)) return undefined
  let millis = 0
  for (const [, amount, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    millis += Number(amount) * (DURATION_UNITS[unit ?? ""] ?? 0)
  }
  return Duration.millis(millis)
}

const readDuration = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): Duration.Duration | undefined => {
  visit(ctx, node, keyPath)
  const text =
    isScalar(node) && typeof node.value === "string" ? interpolate(ctx, node, keyPath, node.value) : undefined
  const duration = text === undefined ? undefined : parseDuration(text)
  return duration ?? report(ctx, node, keyPath, `expected a duration like 5s, got ${describe(node)}`)
}

const readInteger = (
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

const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3
}

/** Compose byte values: a number of bytes or `512k`, `64m`, `1.5g` (binary units). */
export const parseBytes = (value: string | number): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase() || "b"]
  if (match === null || unit === undefined) return undefined
  const bytes = Math.round(Number(match[1]) * unit)
  return bytes > 0 ? bytes : undefined
}

const readBytes = (ctx: Context, node: Node | undefined, keyPath: string): number | undefined => {
  visit(ctx, node, keyPath)
  const value = isScalar(node) ? node.value : undefined
  const bytes = typeof value === "number" || typeof value === "string" ? parseBytes(value) : undefined
  return bytes ?? report(ctx, node, keyPath, `expected a size like 64m or 1g, got ${describe(node)}`)
}

// --- collections ----------------------------------------------------------------------------

/** `environment`, `labels`: a map, or a list of `KEY=value` (and `KEY` alone: from the environment). */
const readKeyValues = (
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

/** Reads a map's keys with one reader per supported key; any other key is reported. */
const readKeys = (
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
        `unsupported key (supported here: ${Object.keys(readers).join(", ")})`
      )
  }
  for (const key of options?.required ?? []) {
    if (!items.some((entry) => entry.key === key))
      report(ctx, options?.at ?? node, keyPath || "(root)", `missing required key "${key}"`)
  }
  return true
}

// --- the fleet --------------------------------------------------------------------------------

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

const readFleet = (ctx: Context, file: string): Fleet | undefined => {
  const root = resolve(ctx, ctx.doc.contents)
  if (root === undefined || (isScalar(root) && root.value === null)) {
    return report(ctx, root, "(root)", "the file is empty: expected a mapping with a services key")
  }
  let name: string | undefined
  const services: Array<Service> = []
  const dependencyNodes = new Map<string, Map<string, Node | undefined>>()
  readKeys(
    ctx,
    root,
    "",
    {
      name: (value, p) => {
        name = readString(ctx, value, p, { nonEmpty: true })
        if (name !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
          name = report(
            ctx,
            value,
            p,
            "expected lowercase letters, digits, '-' and '_', starting with a letter or digit"
          )
        }
      },
      // Compose itself ignores `version` (obsolete); accepted so existing files run as they are.
      version: (value, p) => void readString(ctx, value, p, { scalars: true }),
      services: (value, p) => {
        const items = entries(ctx, value, p)
        if (items === undefined) return
        if (items.length === 0) report(ctx, value, p, "expected at least one service")
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
          const nodes = new Map<string, Node | undefined>()
          dependencyNodes.set(item.key, nodes)
          const service = readService(ctx, item.key, item.keyNode, item.value, servicePath, nodes)
          if (service !== undefined) services.push(service)
        }
      }
    },
    { required: ["services"], allowExtensions: true }
  )
  const ordered = dependencyOrder(ctx, services, dependencyNodes)
  if (ordered === undefined) return undefined
  return {
    file,
    name,
    services: ordered,
    lines: new Map(ctx.seen)
  }
}

const RESTART = /^(no|always|unless-stopped|on-failure(?::(\d+))?)$/
const CONDITIONS: ReadonlyArray<DependencyCondition> = [
  "service_started",
  "service_healthy",
  "service_completed_successfully"
]

const readService = (
  ctx: Context,
  name: string,
  keyNode: Node | undefined,
  node: Node | undefined,
  keyPath: string,
  dependencyNodes: Map<string, Node | undefined>
): Service | undefined => {
  const before = ctx.problems.length
  let image: string | undefined
  let command: ReadonlyArray<string> | undefined
  let entrypoint: ReadonlyArray<string> | undefined
  let environment: Readonly<Record<string, string>> = {}
  let labels: Readonly<Record<string, string>> = {}
  let healthcheck: Healthcheck | undefined
  let restart: Restart = { _tag: "no" }
  let stopGracePeriod: Duration.Duration | undefined
  const dependsOn: Array<Dependency> = []
  let memLimit: number | undefined
  let cpus: number | undefined
  let files: ReadonlyArray<File> = []

  readKeys(
    ctx,
    node,
    keyPath,
    {
      image: (value, p) => {
        image = readString(ctx, value, p, { nonEmpty: true })
      },
      command: (value, p) => {
        command = readCommand(ctx, value, p)
      },
      entrypoint: (value, p) => {
        entrypoint = readCommand(ctx, value, p)
      },
      environment: (value, p) => {
        environment = readKeyValues(ctx, value, p, { fromEnvironment: true }) ?? {}
      },
      labels: (value, p) => {
        labels = readKeyValues(ctx, value, p, { fromEnvironment: false }) ?? {}
      },
      healthcheck: (value, p) => {
        healthcheck = readHealthcheck(ctx, value, p)
      },
      restart: (value, p) => {
        const text = readString(ctx, value, p)
        const match = text === undefined ? null : RESTART.exec(text)
        if (text === undefined) return
        if (match === null) {
          report(
            ctx,
            value,
            p,
            `expected no, always, unless-stopped or on-failure[:N], got ${describe(value)}`
          )
        } else if (text === "no") restart = { _tag: "no" }
        else if (text === "always" || text === "unless-stopped") restart = { _tag: "always" }
        else
          restart = { _tag: "onFailure", maxRetries: match[2] === undefined ? undefined : Number(match[2]) }
      },
      stop_grace_period: (value, p) => {
        stopGracePeriod = readDuration(ctx, value, p)
      },
      depends_on: (value, p) => {
        visit(ctx, value, p)
        if (isSeq(value)) {
          value.items.forEach((item, i) => {
            const itemNode = resolve(ctx, item)
            const service = readString(ctx, itemNode, child(p, i), { nonEmpty: true })
            if (service === undefined) return
            dependsOn.push({ service, condition: "service_started" })
            dependencyNodes.set(service, itemNode)
          })
          return
        }
        for (const entry of entries(ctx, value, p) ?? []) {
          const entryPath = child(p, entry.key)
          let condition: DependencyCondition = "service_started"
          readKeys(ctx, entry.value, entryPath, {
            condition: (conditionNode, conditionPath) => {
              const text = readString(ctx, conditionNode, conditionPath)
              if (text === undefined) return
              const found = CONDITIONS.find((c) => c === text)
              if (found === undefined)
                report(ctx, conditionNode, conditionPath, `expected one of ${CONDITIONS.join(", ")}`)
              else condition = found
            }
          })
          dependsOn.push({ service: entry.key, condition })
          dependencyNodes.set(entry.key, entry.keyNode)
        }
      },
      mem_limit: (value, p) => {
        memLimit = readBytes(ctx, value, p)
      },
      cpus: (value, p) => {
        visit(ctx, value, p)
        const raw = isScalar(value) ? value.value : undefined
        const number =
          typeof raw === "number"
            ? raw
            : typeof raw === "string" && raw.trim() !== ""
              ? Number(raw)
              : Number.NaN
        if (Number.isFinite(number) && number > 0) cpus = number
        else report(ctx, value, p, `expected a number of CPUs > 0 like 0.5, got ${describe(value)}`)
      },
      "x-files": (value, p) => {
        files = readFiles(ctx, value, p)
      }
    },
    { required: ["image"], at: keyNode }
  )
  if (ctx.problems.length > before || image === undefined) return undefined
  return {
    name,
    image,
    command,
    entrypoint,
    environment,
    labels,
    healthcheck,
    restart,
    stopGracePeriod,
    dependsOn,
    memLimit,
    cpus,
    files
  }
}

const readHealthcheck = (ctx: Context, node: Node | undefined, keyPath: string): Healthcheck | undefined => {
  let test: ReadonlyArray<string> | undefined
  let interval: Duration.Duration | undefined
  let timeout: Duration.Duration | undefined
  let retries: number | undefined
  let startPeriod: Duration.Duration | undefined
  let disabled = false
  let testGiven = false
  const ok = readKeys(
    ctx,
    node,
    keyPath,
    {
      test: (value, p) => {
        testGiven = true
        if (isSeq(value)) {
          const list = readStringList(ctx, value, p)
          if (list === undefined) return
          if (!["CMD", "CMD-SHELL", "NONE"].includes(list[0] ?? "")) {
            report(ctx, value, p, 'a list test starts with "CMD", "CMD-SHELL" or "NONE"')
          } else if (list[0] !== "NONE" && list.length < 2) {
            report(ctx, value, p, `"${list[0]}" needs a command after it`)
          } else test = list
          return
        }
        const text = readString(ctx, value, p, { nonEmpty: true })
        if (text !== undefined) test = ["CMD-SHELL", text]
      },
      interval: (value, p) => {
        interval = readDuration(ctx, value, p)
      },
      timeout: (value, p) => {
        timeout = readDuration(ctx, value, p)
      },
      retries: (value, p) => {
        retries = readInteger(ctx, value, p, 0)
      },
      start_period: (value, p) => {
        startPeriod = readDuration(ctx, value, p)
      },
      disable: (value, p) => {
        visit(ctx, value, p)
        if (isScalar(value) && typeof value.value === "boolean") disabled = value.value
        else report(ctx, value, p, `expected true or false, got ${describe(value)}`)
      }
    },
    {}
  )
  if (!ok || (testGiven && test === undefined)) return undefined
  if (disabled)
    return {
      test: ["NONE"],
      interval: undefined,
      timeout: undefined,
      retries: undefined,
      startPeriod: undefined
    }
  if (test === undefined) return report(ctx, node, keyPath, 'missing required key "test" (or disable: true)')
  return { test, interval, timeout, retries, startPeriod }
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

/** Why a path cannot be a file in the container, or undefined when it can. */
export const containerPathProblem = (filePath: string): string | undefined => {
  if (filePath.includes("\0")) return "a path must not contain NUL"
  if (!filePath.startsWith("/")) return "expected an absolute path like /etc/app.conf"
  if (filePath.split("/").includes("..")) return "a path must not contain '..'"
  if (filePath.endsWith("/")) return "expected a file path, not a directory"
  if (path.posix.normalize(filePath) !== filePath)
    return `expected a normalised path (${path.posix.normalize(filePath)})`
  return undefined
}

/** `mode: 0644` (YAML 1.2 reads it as decimal 644: the source text decides), `0o644`, `"0644"`, `420`. */
const readMode = (ctx: Context, node: Node | undefined, keyPath: string): number | undefined => {
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

/** Kahn's algorithm, stable in file order; unknown dependencies and cycles are problems. */
const dependencyOrder = (
  ctx: Context,
  services: ReadonlyArray<Service>,
  dependencyNodes: ReadonlyMap<string, ReadonlyMap<string, Node | undefined>>
): ReadonlyArray<Service> | undefined => {
  let ok = true
  // Every declared service is here, parsed or not, so a broken service is not also "unknown".
  for (const [name, dependencies] of dependencyNodes) {
    for (const [dependency, at] of dependencies) {
      const p = `services.${name}.depends_on.${dependency}`
      if (dependency === name) {
        report(ctx, at, p, "a service cannot depend on itself")
        ok = false
      } else if (!dependencyNodes.has(dependency)) {
        report(ctx, at, p, `unknown service "${dependency}"`)
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
  return report(
    ctx,
    dependencyNodes.get(first)?.get(next),
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
