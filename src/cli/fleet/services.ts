/**
 * Decoding the services of a fleet file: the top level (`name`, `version`, `services`), each
 * service's supported keys, its healthcheck and its `x-files`. Every key outside the subset is
 * reported as unsupported; the services come out in dependency order.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import type { Duration } from "effect"
import { isScalar, isSeq, type Node } from "yaml"
import * as ContainerSpec from "../../ContainerSpec.js"
import { dependencyOrder } from "./dependencies.js"
import type { Dependency, DependencyCondition, File, Fleet, Healthcheck, Restart, Service } from "./model.js"
import {
  readBytes,
  readCommand,
  readDuration,
  readInteger,
  readKeyValues,
  readMode,
  readString,
  readStringList
} from "./values.js"
import { type Context, child, describe, entries, readKeys, report, resolve, visit } from "./yamlNodes.js"

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/**
 * The whole fleet from the document's root, or `undefined` when a problem was reported.
 *
 * @category decoding
 * @since 0.1.0
 */
export const readFleet = (ctx: Context, file: string): Fleet | undefined => {
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
