/**
 * The scalar syntaxes of a fleet file, as plain functions on text: Compose durations
 * (`1m30s`), byte sizes (`64m`) and shell words (a string `command`). No YAML here: the
 * readers in `values.ts` call these and report what they return.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

const DURATION_UNITS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001
}

/**
 * Compose durations: `1m30s`, `10s`, `500ms`, `1.5h`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const trimmed = text.trim()
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(trimmed)) return undefined
  let millis = 0
  for (const [, amount, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    millis += Number(amount) * (DURATION_UNITS[unit ?? ""] ?? 0)
  }
  return Duration.millis(millis)
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

/**
 * Compose byte values: a number of bytes or `512k`, `64m`, `1.5g` (binary units).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseBytes = (value: string | number): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase() || "b"]
  if (match === null || unit === undefined) return undefined
  const bytes = Math.round(Number(match[1]) * unit)
  return bytes > 0 ? bytes : undefined
}

/**
 * Compose splits a string command like a shell would (quotes, backslashes), without expanding
 * anything. The words, or what is wrong (`unterminated " quote`).
 *
 * @category parsing
 * @since 0.1.0
 */
export const shellSplit = (text: string): ReadonlyArray<string> | string => {
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
