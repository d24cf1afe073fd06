/**
 * The `.env` format, as Compose reads it for `env_file` and for the project's `.env`:
 * `KEY=value` lines, `export KEY=value`, `#` comments, single quotes (literal), double quotes
 * (escapes, several lines), `${VAR}` interpolation in unquoted and double-quoted values (from
 * the keys above in the same file, then the environment), and `KEY` alone (taken from the
 * environment when set there). A plain function of the text: problems come back with their line.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { interpolate } from "./interpolation.js"
import type { Environment } from "./model.js"

/**
 * The variables of an env file, in file order (a later line wins), and what is wrong, by line.
 *
 * @category parsing
 * @since 0.1.0
 */
export interface Dotenv {
  readonly values: Readonly<Record<string, string>>
  readonly problems: ReadonlyArray<{ readonly line: number; readonly message: string }>
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/

const DOUBLE_QUOTE_ESCAPES: Readonly<Record<string, string>> = {
  n: "\n",
  r: "\r",
  t: "\t",
  '"': '"',
  "\\": "\\",
  $: "$$"
}

/**
 * Parses an env file's text; `env` answers `${VAR}` and `KEY`-alone lines.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseDotenv = (text: string, env: Environment): Dotenv => {
  const values: Record<string, string> = {}
  const problems: Array<{ line: number; message: string }> = []
  const lookup = (): Environment => ({ ...env, ...values })
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1
    const line = lines[i]!.trim()
    if (line === "" || line.startsWith("#")) continue
    const body = line.replace(/^export\s+/, "")
    const eq = body.indexOf("=")
    const key = (eq === -1 ? body : body.slice(0, eq)).trim()
    if (!KEY.test(key)) {
      problems.push({ line: lineNumber, message: `expected KEY=value, got "${line.slice(0, 40)}"` })
      continue
    }
    if (eq === -1) {
      const fromEnv = env[key]
      if (fromEnv !== undefined) values[key] = fromEnv
      continue
    }
    let raw = body.slice(eq + 1).trimStart()
    const quote = raw[0]
    if (quote === "'" || quote === '"') {
      // A quoted value may run over several lines, up to its closing quote.
      let end = closingQuote(raw, quote)
      while (end === -1 && i + 1 < lines.length) {
        raw += `\n${lines[++i]}`
        end = closingQuote(raw, quote)
      }
      if (end === -1) {
        problems.push({ line: lineNumber, message: `unterminated ${quote} quote in ${key}` })
        continue
      }
      const rest = raw.slice(end + 1).trim()
      if (rest !== "" && !rest.startsWith("#")) {
        problems.push({ line: lineNumber, message: `unexpected text after the quoted value of ${key}` })
        continue
      }
      const inner = raw.slice(1, end)
      if (quote === "'") {
        values[key] = inner
        continue
      }
      raw = inner.replace(/\\(.)/g, (whole, c: string) => DOUBLE_QUOTE_ESCAPES[c] ?? whole)
    } else {
      raw = raw.replace(/\s+#.*$/, "").trimEnd()
    }
    const value = interpolate(raw, lookup())
    if (Result.isSuccess(value)) values[key] = value.success
    else
      for (const message of value.failure) problems.push({ line: lineNumber, message: `${key}: ${message}` })
  }
  return { values, problems }
}

const closingQuote = (text: string, quote: "'" | '"'): number => {
  for (let i = 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++
    else if (text[i] === quote) return i
  }
  return -1
}
