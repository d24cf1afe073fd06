/**
 * The log line sanitizer: applied to every log line before it is kept (last lines of a
 * run), shown or put in an error. It redacts credentials in URLs, token-like values and
 * the spec's secret env values, and drops terminal control sequences.
 *
 * @internal
 */

/** What replaces a secret. @internal */
export const mask = "<redacted>"

// ANSI escape sequences (CSI, OSC) and the other C0 controls but tab.
const controls = new RegExp(
  [
    "\\u001b\\[[0-?]*[ -/]*[@-~]",
    "\\u001b\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)",
    "\\u001b[@-Z\\\\-_]",
    "[\\u0000-\\u0008\\u000a-\\u001f\\u007f]"
  ].join("|"),
  "g"
)

// `scheme://user:password@host`: the password goes.
const urlCredentials = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s/@]+@/gi
// `password=...`, `"token": "..."`, `API_KEY: ...`.
const secretAssignments =
  /((?:^|[^a-z0-9])(?:[a-z0-9_-]*?)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)["']?\s*[=:]\s*["']?)([^\s"',;&]+)/gi
const bearer = /\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}/gi
const wellKnownTokens = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g,
  /\bsk-[A-Za-z0-9_-]{20,}\b/g
]

/**
 * The default sanitizer: control sequences dropped, URL passwords, `key=value` secrets,
 * bearer tokens and well-known token formats redacted.
 *
 * @internal
 */
export const defaultSanitizer = (line: string): string => {
  let out = line.replace(controls, "")
  out = out.replace(urlCredentials, `$1:${mask}@`)
  out = out.replace(secretAssignments, `$1${mask}`)
  out = out.replace(bearer, `$1 ${mask}`)
  for (const pattern of wellKnownTokens) out = out.replace(pattern, mask)
  return out
}

/**
 * Replaces every occurrence of the given secret values (the spec's `Redacted` env values),
 * longest first so a secret containing another is masked whole. Empty secrets are ignored.
 *
 * @internal
 */
export const redactValues =
  (secrets: ReadonlyArray<string>) =>
  (line: string): string => {
    const ordered = secrets.filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length)
    let out = line
    for (const secret of ordered) out = out.split(secret).join(mask)
    return out
  }

/**
 * The sanitizer for one run: the user's sanitizer (or the default), then the secret values
 * masked whatever the user's sanitizer did. A user sanitizer that throws gives the default's
 * result: a bad callback never ends the run nor leaks the line.
 *
 * @internal
 */
export const make = (options: {
  readonly sanitizer?: ((line: string) => string) | undefined
  readonly secrets?: ReadonlyArray<string> | undefined
}): ((line: string) => string) => {
  const secrets = redactValues(options.secrets ?? [])
  const user = options.sanitizer
  return (line) => {
    // Secrets first too: a user sanitizer could move a secret out of reach of the later pass.
    const masked = secrets(line)
    if (user === undefined) return secrets(defaultSanitizer(masked))
    try {
      const result = user(masked)
      return secrets(typeof result === "string" ? result : defaultSanitizer(masked))
    } catch {
      return secrets(defaultSanitizer(masked))
    }
  }
}
