/**
 * Compose variable interpolation in a fleet file's strings, as a plain function of the text
 * and the environment: the value, or every problem found (an unsupported form, a required
 * variable without a value); the readers report them at the string's line.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { Environment } from "./model.js"

const OPERATORS = [":-", "-", ":+", "+", ":?", "?"] as const
type Operator = (typeof OPERATORS)[number]

/** The text parsed once: literal runs and variable references, whose words nest. */
type Part =
  | { readonly _tag: "Text"; readonly text: string }
  | {
      readonly _tag: "Variable"
      readonly name: string
      readonly operator: Operator | undefined
      readonly word: ReadonlyArray<Part>
    }

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y

const unsupported = (form: string): string =>
  `unsupported interpolation ${form} (use \${VAR}, \${VAR:-default} or $$ for a literal $)`

interface Parsed {
  readonly parts: ReadonlyArray<Part>
  /** Where parsing stopped: the end of the text, or (inside a word) the `}` that closes it. */
  readonly end: number
}

/** Where the `${` at `start` ends, for quoting a form that cannot be read: its closing `}` or the end. */
const extentOf = (text: string, start: number): number => {
  let depth = 0
  for (let i = start; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++
      i++
    } else if (text[i] === "}" && --depth === 0) return i + 1
  }
  return text.length
}

const parseParts = (text: string, from: number, inWord: boolean, problems: Array<string>): Parsed => {
  const parts: Array<Part> = []
  let literal = ""
  let i = from
  const flush = () => {
    if (literal !== "") parts.push({ _tag: "Text", text: literal })
    literal = ""
  }
  while (i < text.length) {
    const c = text[i]
    if (inWord && c === "}") break
    if (c !== "$") {
      literal += c
      i++
      continue
    }
    const next = text[i + 1]
    if (next === "$") {
      literal += "$"
      i += 2
      continue
    }
    NAME.lastIndex = i + 1
    const bare = NAME.exec(text)
    if (bare !== null) {
      flush()
      parts.push({ _tag: "Variable", name: bare[0], operator: undefined, word: [] })
      i = NAME.lastIndex
      continue
    }
    if (next !== "{") {
      // A `$` before anything else stays as written.
      literal += "$"
      i++
      continue
    }
    const variable = parseBraced(text, i, problems)
    if (variable.part === undefined) literal += text.slice(i, variable.end)
    else {
      flush()
      parts.push(variable.part)
    }
    i = variable.end
  }
  flush()
  return { parts, end: i }
}

/** `${NAME}` or `${NAME<op>word}` at `start` (the `$`); an unreadable form is a problem, kept as written. */
const parseBraced = (
  text: string,
  start: number,
  problems: Array<string>
): { readonly part: Part | undefined; readonly end: number } => {
  const fail = () => {
    const end = extentOf(text, start)
    problems.push(unsupported(text.slice(start, end)))
    return { part: undefined, end }
  }
  NAME.lastIndex = start + 2
  const name = NAME.exec(text)
  if (name === null) return fail()
  let i = NAME.lastIndex
  if (text[i] === "}")
    return { part: { _tag: "Variable", name: name[0], operator: undefined, word: [] }, end: i + 1 }
  const operator = OPERATORS.find((candidate) => text.startsWith(candidate, i))
  if (operator === undefined) return fail()
  i += operator.length
  const wordProblems: Array<string> = []
  const word = parseParts(text, i, true, wordProblems)
  if (text[word.end] !== "}") return fail()
  problems.push(...wordProblems)
  return {
    part: { _tag: "Variable", name: name[0], operator, word: word.parts },
    end: word.end + 1
  }
}

/** The value of parsed parts; a word is only evaluated when used (`${A:-${B:?…}}` with A set is fine). */
const evaluate = (parts: ReadonlyArray<Part>, env: Environment, problems: Array<string>): string => {
  let out = ""
  for (const part of parts) {
    if (part._tag === "Text") {
      out += part.text
      continue
    }
    const value = env[part.name]
    const word = () => evaluate(part.word, env, problems)
    const required = () => {
      const message = word()
      problems.push(
        message === ""
          ? `required variable ${part.name} is missing a value`
          : `required variable ${part.name} is missing a value: ${message}`
      )
      return ""
    }
    switch (part.operator) {
      case undefined:
        out += value ?? ""
        break
      case ":-":
        out += value === undefined || value === "" ? word() : value
        break
      case "-":
        out += value === undefined ? word() : value
        break
      case ":+":
        out += value !== undefined && value !== "" ? word() : ""
        break
      case "+":
        out += value !== undefined ? word() : ""
        break
      case ":?":
        out += value === undefined || value === "" ? required() : value
        break
      case "?":
        out += value === undefined ? required() : value
        break
    }
  }
  return out
}

/**
 * Interpolates `text` as Compose does: `$VAR`, `${VAR}`; `${VAR:-default}` (unset or empty)
 * and `${VAR-default}` (unset); `${VAR:+alternative}` (set and non-empty) and
 * `${VAR+alternative}` (set); `${VAR:?message}` (required: unset or empty is an error with
 * the message) and `${VAR?message}` (unset is); `$$` for a literal `$`. Defaults,
 * alternatives and messages are interpolated too, so they nest (`${A:-${B:-none}}`).
 *
 * @category interpolation
 * @since 0.1.0
 */
export const interpolate = (text: string, env: Environment): Result.Result<string, ReadonlyArray<string>> => {
  const problems: Array<string> = []
  const parsed = parseParts(text, 0, false, problems)
  if (problems.length > 0) return Result.fail(problems)
  const value = evaluate(parsed.parts, env, problems)
  return problems.length > 0 ? Result.fail(problems) : Result.succeed(value)
}
