/**
 * The fleet file: a subset of the Compose file format, read from YAML or JSON.
 *
 * Every problem names the file, the line and the key path
 * (`demo.yaml:12: services.web.healthcheck.interval: expected a duration like 5s`), every
 * problem is collected (not only the first), and a key outside the subset is reported as
 * unsupported, never ignored. The services come out in dependency order.
 *
 * This module is the entry point (`load`, `parse`) and the facade of `./fleet/`: the model
 * (`model.ts`), YAML positions (`yamlNodes.ts`), scalar syntaxes (`scalars.ts`), interpolation
 * (`interpolation.ts`), value readers (`values.ts`), service decoding (`services.ts`) and the
 * dependency order (`dependencies.ts`).
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
import { Effect, Result } from "effect"
import { LineCounter, parseDocument } from "yaml"
import { type Environment, type Fleet, FleetError } from "./fleet/model.js"
import { readFleet } from "./fleet/services.js"
import type { Context } from "./fleet/yamlNodes.js"

export type {
  Dependency,
  DependencyCondition,
  Environment,
  File,
  Fleet,
  Healthcheck,
  Restart,
  Service
} from "./fleet/model.js"
export { FleetError, formatProblem, Problem } from "./fleet/model.js"
export { parseBytes, parseDuration } from "./fleet/scalars.js"
export { containerPathProblem } from "./fleet/services.js"

/**
 * Reads and parses a fleet file. `file` is shown in messages as given.
 *
 * @category reading
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

/**
 * Parses a fleet file's text (YAML, or JSON, which YAML reads too). Pure: the environment for
 * interpolation is passed in (default: none).
 *
 * @category reading
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
