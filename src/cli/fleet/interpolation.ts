/**
 * Compose variable interpolation in a fleet file's strings, as a plain function of the text
 * and the environment: the value, or every unsupported form found (the readers report them
 * at the string's line).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { Environment } from "./model.js"

/**
 * `$$` → `$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`, as Compose interpolates.
 *
 * @category interpolation
 * @since 0.1.0
 */
export const interpolate = (text: string, env: Environment): Result.Result<string, ReadonlyArray<string>> => {
  const problems: Array<string> = []
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
        problems.push(
          `unsupported interpolation ${match} (use \${VAR}, \${VAR:-default} or $$ for a literal $)`
        )
        return match
      }
      const name = braced ?? bare ?? ""
      const value = env[name]
      if (op === ":-") return value === undefined || value === "" ? (fallback ?? "") : value
      if (op === "-") return value === undefined ? (fallback ?? "") : value
      return value ?? ""
    }
  )
  return problems.length > 0 ? Result.fail(problems) : Result.succeed(out)
}
