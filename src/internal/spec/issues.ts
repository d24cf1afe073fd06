/**
 * How a failed spec decode is reported: the one issue the user meant (a union reports one per
 * member), its field as a path (`files[0].path`, `env.TOKEN`) and a message that never repeats
 * a value, which may be a secret. `ContainerSpec.validate` turns it into an `InvalidSpec`.
 */
import { type Schema, SchemaIssue } from "effect"

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, segment) => {
    if (typeof segment === "number") return `${out}[${segment}]`
    const key = String(segment)
    return out.length === 0 ? key : `${out}.${key}`
  }, "")

const unknownKey = "unknown key (a typo? e.g. restartPolicy, not restart)"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) =>
    issue._tag === "MissingKey"
      ? "is required"
      : // Not the default text: it would repeat the value, which may be a secret.
        issue._tag === "UnexpectedKey"
        ? unknownKey
        : SchemaIssue.defaultLeafHook(issue)
})

/**
 * The issue to report. A union (`readiness`) reports one per member, most of them the key
 * the member is told apart by, missing, or the other members' keys, unknown: the deepest of
 * the others is the one the user meant.
 */
const reported = <I extends { readonly path?: ReadonlyArray<unknown> | undefined; readonly message: string }>(
  issues: ReadonlyArray<I>
): I | undefined => {
  const meant = issues.filter((issue) => issue.message !== "is required" && issue.message !== unknownKey)
  if (issues.length < 2) return issues[0]
  if (meant.length === 0) return issues.find((issue) => issue.message === unknownKey) ?? issues[0]
  return meant.reduce((deepest, issue) =>
    (issue.path?.length ?? 0) > (deepest.path?.length ?? 0) ? issue : deepest
  )
}

/** The field (`spec` for the whole) and message of the issue to report. */
export const firstIssue = (
  error: Schema.SchemaError
): { readonly field: string; readonly message: string } => {
  const first = reported(formatter(error.issue).issues)
  const path = (first?.path ?? []).map((segment) =>
    typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
  )
  return {
    field: path.length === 0 ? "spec" : formatPath(path),
    message: first?.message ?? "invalid spec"
  }
}
