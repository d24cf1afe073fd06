/**
 * The fleet file: a subset of the Compose file format, read from YAML or JSON, from one file or
 * several merged as Compose merges them (`-f a.yaml -f b.yaml`, `COMPOSE_FILE`, the default
 * `compose.yaml` and its `compose.override.yaml`), with the project's `.env` for interpolation.
 *
 * Every problem names the file, the line and the key path
 * (`demo.yaml:12: services.web.healthcheck.interval: expected a duration like 5s`), every
 * problem is collected (not only the first), and a key outside the subset is reported as
 * unsupported, never ignored. The services come out in dependency order.
 *
 * This module is the entry point (`load`, `parse`, `parseFiles`, `findFiles`) and the facade of
 * `./fleet/`: the model (`model.ts`), YAML positions (`yamlNodes.ts`), scalar syntaxes
 * (`scalars.ts`), interpolation (`interpolation.ts`), `.env` files (`dotenv.ts`), value readers
 * (`values.ts`), service decoding (`services.ts`), the dependency order (`dependencies.ts`) and
 * profile and service selection (`selection.ts`).
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

import * as nodeFs from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Result } from "effect"
import { LineCounter, parseDocument } from "yaml"
import { parseDotenv } from "./fleet/dotenv.js"
import { type Environment, type Fleet, FleetError, type Problem } from "./fleet/model.js"
import { readErrorMessage, readFleet } from "./fleet/services.js"
import type { Context } from "./fleet/yamlNodes.js"

export type {
  Dependency,
  DependencyCondition,
  Environment,
  File,
  Fleet,
  Healthcheck,
  Position,
  Restart,
  Service,
  UpdateConfig
} from "./fleet/model.js"
export { FleetError, formatProblem, Problem } from "./fleet/model.js"
export { parseBytes, parseDuration } from "./fleet/scalars.js"
export { profilesOf, type Selection, select } from "./fleet/selection.js"
export { containerPathProblem } from "./fleet/services.js"

/**
 * How files are read: the interpolation environment, the project folder (relative paths such
 * as `env_file` are resolved against it; default: the first file's folder) and the reader of
 * the files the fleet names (default: the file system).
 *
 * @category reading
 * @since 0.1.0
 */
export interface ParseOptions {
  readonly env?: Environment
  readonly dir?: string
  readonly readFile?: (path: string) => string
}

/**
 * Compose's default file names, in the order it looks for them.
 *
 * @category reading
 * @since 0.1.0
 */
export const DEFAULT_FILES: ReadonlyArray<string> = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yaml",
  "docker-compose.yml"
]

/**
 * The files to read, as Compose picks them: the `-f` files when given, else `COMPOSE_FILE`
 * (separated by `COMPOSE_PATH_SEPARATOR`, default `:`), else the first default name found in
 * `cwd` or a folder above it, with its `.override` file when there is one. `undefined` when
 * there is nothing to read.
 *
 * @category reading
 * @since 0.1.0
 */
export const findFiles = (
  given: ReadonlyArray<string>,
  env: Environment,
  cwd: string,
  exists: (path: string) => boolean = nodeFs.existsSync
): ReadonlyArray<string> | undefined => {
  if (given.length > 0) return given
  const fromEnv = env.COMPOSE_FILE
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return fromEnv.split(env.COMPOSE_PATH_SEPARATOR || path.delimiter).filter((file) => file !== "")
  }
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const found = DEFAULT_FILES.find((name) => exists(path.join(dir, name)))
    if (found !== undefined) {
      const file = path.relative(cwd, path.join(dir, found)) || found
      const override = file.replace(/\.(ya?ml)$/, ".override.$1")
      return exists(path.resolve(cwd, override)) ? [file, override] : [file]
    }
    if (path.dirname(dir) === dir) return undefined
  }
}

/**
 * Reads and parses fleet files (merged in order) with the `.env` of the project folder (the
 * first file's) under `env` for interpolation, as Compose does. Files are shown in messages as
 * given.
 *
 * @category reading
 * @since 0.1.0
 */
export const load = (
  files: string | ReadonlyArray<string>,
  options?: { readonly env?: Environment }
): Effect.Effect<Fleet, FleetError> =>
  Effect.gen(function* () {
    const names = typeof files === "string" ? [files] : files
    const first = names[0] ?? "compose.yaml"
    const sources = yield* Effect.forEach(names, (file) =>
      Effect.tryPromise({
        try: () => fs.readFile(file, "utf8"),
        catch: (cause) =>
          new FleetError({
            file,
            problems: [{ line: 0, path: "(file)", message: readErrorMessage(cause) }]
          })
      }).pipe(Effect.map((source) => ({ file, source })))
    )
    const dotenvFile = path.join(path.dirname(first), ".env")
    const dotenvText = yield* Effect.promise(() => fs.readFile(dotenvFile, "utf8").catch(() => undefined))
    const processEnv = options?.env ?? {}
    let env: Environment = processEnv
    if (dotenvText !== undefined) {
      const dotenv = parseDotenv(dotenvText, processEnv)
      if (dotenv.problems.length > 0)
        return yield* new FleetError({
          file: dotenvFile,
          problems: dotenv.problems.map((problem) => ({
            line: problem.line,
            path: "(.env)",
            message: problem.message
          }))
        })
      // The process environment wins over `.env`.
      env = { ...dotenv.values, ...processEnv }
    }
    const parsed = parseFiles(sources, { env })
    return Result.isSuccess(parsed) ? parsed.success : yield* parsed.failure
  })

/**
 * Parses a fleet file's text (YAML, or JSON, which YAML reads too). The environment for
 * interpolation is passed in (default: none).
 *
 * @category reading
 * @since 0.1.0
 */
export const parse = (
  source: string,
  options: ParseOptions & { readonly file: string }
): Result.Result<Fleet, FleetError> => parseFiles([{ file: options.file, source }], options)

/**
 * Parses several fleet files, merged in order as Compose merges them (a later file overrides
 * or extends the services of the earlier ones). Each problem names its own file.
 *
 * @category reading
 * @since 0.1.0
 */
export const parseFiles = (
  files: ReadonlyArray<{ readonly file: string; readonly source: string }>,
  options?: ParseOptions
): Result.Result<Fleet, FleetError> => {
  const problems: Array<Problem> = []
  const seen = new Map()
  const firstFile = files[0]?.file ?? "compose.yaml"
  const dir = options?.dir ?? path.resolve(path.dirname(firstFile))
  const readFile = options?.readFile ?? ((file: string) => nodeFs.readFileSync(file, "utf8"))
  const contexts: Array<Context> = files.map(({ file, source }) => {
    const lines = new LineCounter()
    const doc = parseDocument(source, {
      lineCounter: lines,
      merge: true,
      prettyErrors: false,
      uniqueKeys: false
    })
    for (const error of [...doc.errors, ...doc.warnings]) {
      problems.push({
        file,
        line: error.linePos?.[0].line ?? 1,
        path: "(yaml)",
        message: error.message.split("\n")[0] ?? error.message
      })
    }
    return { file, dir, readFile, doc, lines, source, env: options?.env ?? {}, problems, seen }
  })
  const fail = () => {
    const order = (file: string | undefined) => {
      const index = files.findIndex((f) => f.file === file)
      return index === -1 ? files.length : index
    }
    const sorted = [...problems].sort((a, b) => order(a.file) - order(b.file) || a.line - b.line)
    // The error's own file is left implicit, as before several files could be merged.
    return Result.fail(
      new FleetError({
        file: firstFile,
        problems: sorted.map(({ file, ...rest }) =>
          file === firstFile || file === undefined ? rest : { file, ...rest }
        )
      })
    )
  }
  if (problems.length > 0) return fail()
  const fleet = readFleet(contexts)
  if (problems.length > 0 || fleet === undefined) return fail()
  return Result.succeed(fleet)
}
