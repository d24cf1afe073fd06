/**
 * The per-service key readers of a fleet file: `restart` and `deploy.restart_policy`,
 * `depends_on`, `env_file`, `healthcheck` (read as one file's layer, finished once the layers
 * are merged) and `x-files`, plus the container-path check the CLI shares. Each reader reports
 * its problems with file, line and key path and returns what it could read; merging the layers
 * of several files stays with `services.ts`.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import type { Duration } from "effect"
import { isMap, isSeq, type Node } from "yaml"
import * as ContainerSpec from "../../ContainerSpec.js"
import type { DependencyAt } from "./dependencies.js"
import { parseDotenv } from "./dotenv.js"
import type { Dependency, DependencyCondition, File, Healthcheck, Restart } from "./model.js"
import { readBoolean, readDuration, readInteger, readMode, readString, readStringList } from "./values.js"
import { type Context, child, describe, entries, readKeys, report, resolve, visit } from "./yamlNodes.js"

/** The `restart` values Compose accepts. */
const RESTART = /^(no|always|unless-stopped|on-failure(?::(\d+))?)$/
const CONDITIONS: ReadonlyArray<DependencyCondition> = [
  "service_started",
  "service_healthy",
  "service_completed_successfully"
]

/** A healthcheck as one file gives it: the fields it sets (a later file sets more). */
export interface HealthcheckLayer {
  test?: ReadonlyArray<string>
  interval?: Duration.Duration
  timeout?: Duration.Duration
  retries?: number
  startPeriod?: Duration.Duration
  startInterval?: Duration.Duration
  disable?: boolean
  at?: { readonly ctx: Context; readonly node: Node | undefined; readonly keyPath: string }
}

/** `restart`: no, always, unless-stopped or on-failure[:N]. */
export const readRestart = (ctx: Context, node: Node | undefined, keyPath: string): Restart | undefined => {
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
export const readRestartPolicy = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): Restart | undefined => {
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
export const readDependsOn = (
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
export const readEnvFiles = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): Record<string, string> => {
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

/** One file's `healthcheck`: the fields it sets, or undefined when a problem was reported. */
export const readHealthcheck = (
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

/** The merged healthcheck layers as the service's healthcheck (`"invalid"` once reported). */
export const finishHealthcheck = (
  layer: HealthcheckLayer | undefined
): Healthcheck | undefined | "invalid" => {
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

/** `x-files`: a list of `{ path, content, mode }` written into the container. */
export const readFiles = (ctx: Context, node: Node | undefined, keyPath: string): ReadonlyArray<File> => {
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
