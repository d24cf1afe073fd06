/**
 * Registry credentials for pulls: which registry an image reference names, the credentials
 * the Docker CLI's config holds for it (`auths`, `credHelpers`, `credsStore` through the
 * `docker-credential-<helper>` program on PATH), the `X-Registry-Auth` header the engine
 * takes, and the one `Unauthorized` error a refused pull becomes, on both engines.
 *
 * Secrets stay `Redacted` until the header is built; the header itself is `Redacted` until
 * the transport sends it. Error messages name the registry and where the credentials came
 * from, never the credentials.
 *
 * @see https://docs.docker.com/reference/cli/docker/login/#credential-stores
 * @internal
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Config, Effect, Option, Redacted } from "effect"
import { DockerError } from "../DockerError.js"
import type { RegistryAuth } from "../DockerModel.js"
import { splitReference } from "./imageReference.js"

/** Docker Hub's key in the CLI's config, and the server address its credentials are sent with. */
export const dockerHubServer = "https://index.docker.io/v1/"

const dockerHubHosts = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com"
])

/**
 * The registry an image reference pulls from: its first path part when that is a host
 * (`127.0.0.1:5001/app` → `127.0.0.1:5001`), else Docker Hub, as `docker.io`.
 */
export const registryHost = (reference: string): string => {
  const { name } = splitReference(reference.trim())
  const slash = name.indexOf("/")
  if (slash === -1) return "docker.io"
  const first = name.slice(0, slash)
  const isHost = first.includes(".") || first.includes(":") || first === "localhost"
  if (!isHost) return "docker.io"
  return dockerHubHosts.has(first.toLowerCase()) ? "docker.io" : first
}

/** The server address a registry's credentials are stored under and sent with. */
export const serverAddress = (host: string): string => (host === "docker.io" ? dockerHubServer : host)

/**
 * The registry a key of the CLI's config names, as the CLI matches them: scheme and path
 * removed (`https://index.docker.io/v1/` → `docker.io`, `http://127.0.0.1:5001/v2/` →
 * `127.0.0.1:5001`).
 */
export const keyHost = (key: string): string => {
  const host = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split("/")[0] ?? ""
  return dockerHubHosts.has(host.toLowerCase()) ? "docker.io" : host
}

/** Credentials found for a pull, and where they came from (said in errors, never the secret). */
export interface Credential {
  readonly auth: RegistryAuth
  readonly source: string
}

/**
 * What a look-up found: a credential, or none; `problem` says why one that should exist
 * could not be read (a missing helper, a malformed config), and the pull goes on without.
 */
export interface Lookup {
  readonly credential?: Credential | undefined
  readonly problem?: string | undefined
}

/**
 * The `X-Registry-Auth` header for `auth`: base64url JSON with its padding kept (the engine
 * decodes it with padding; without, it ignores the header and pulls anonymously).
 */
export const header = (auth: RegistryAuth, host: string): Redacted.Redacted<string> => {
  const serveraddress = auth.serverAddress ?? serverAddress(host)
  const json =
    "identityToken" in auth
      ? { identitytoken: Redacted.value(auth.identityToken), serveraddress }
      : { username: auth.username, password: Redacted.value(auth.password), serveraddress }
  return Redacted.make(
    Buffer.from(JSON.stringify(json)).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")
  )
}

/** The secrets of `auth`, to mask in anything a registry or helper says back. */
const secretsOf = (auth: RegistryAuth): ReadonlyArray<string> =>
  ("identityToken" in auth ? [Redacted.value(auth.identityToken)] : [Redacted.value(auth.password)]).filter(
    (secret) => secret.length > 0
  )

/** `text` with every secret of `auth` replaced by `<redacted>`. */
export const mask = (text: string, auth: RegistryAuth | undefined): string =>
  auth === undefined
    ? text
    : secretsOf(auth).reduce((masked, secret) => masked.split(secret).join("<redacted>"), text)

// ---------------------------------------------------------------------------------------------
// The Docker CLI's config
// ---------------------------------------------------------------------------------------------

const record = (u: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined

const text = (u: unknown): string | undefined => (typeof u === "string" && u.length > 0 ? u : undefined)

/** The entry of `entries` for `host`: its own key first, then any key naming the same registry. */
const entryFor = (
  entries: Readonly<Record<string, unknown>>,
  host: string
): [string, unknown] | undefined => {
  const own = serverAddress(host)
  if (own in entries) return [own, entries[own]]
  return Object.entries(entries).find(([key]) => keyHost(key) === host)
}

/** An `auths` entry as credentials: `auth` (base64 `user:password`) and `identitytoken`. */
export const fromAuthsEntry = (entry: unknown): RegistryAuth | undefined => {
  const fields = record(entry)
  if (fields === undefined) return undefined
  const identityToken = text(fields.identitytoken)
  if (identityToken !== undefined) return { identityToken: Redacted.make(identityToken) }
  const encoded = text(fields.auth)
  if (encoded !== undefined) {
    const decoded = Buffer.from(encoded, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon <= 0) return undefined
    return { username: decoded.slice(0, colon), password: Redacted.make(decoded.slice(colon + 1)) }
  }
  const username = text(fields.username)
  const password = text(fields.password)
  return username !== undefined && password !== undefined
    ? { username, password: Redacted.make(password) }
    : undefined
}

/** A credential helper's answer (`{ ServerURL, Username, Secret }`) as credentials. */
export const fromHelperOutput = (output: string): RegistryAuth | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(output)
  } catch {
    return undefined
  }
  const fields = record(parsed)
  const secret = text(fields?.Secret)
  if (fields === undefined || secret === undefined) return undefined
  const username = text(fields.Username)
  // Helpers store an identity token under the user name `<token>`, as the CLI does.
  if (username === undefined || username === "<token>") return { identityToken: Redacted.make(secret) }
  return { username, password: Redacted.make(secret) }
}

const firstLine = (output: string): string => (output.trim().split("\n")[0] ?? "").slice(0, 200)

/** Runs `docker-credential-<helper> get` with the server address on stdin. */
const runHelper = (helper: string, server: string, source: string): Effect.Effect<Lookup> =>
  Effect.callback<Lookup>((resume, signal) => {
    const program = `docker-credential-${helper}`
    const child = execFile(program, ["get"], { signal, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error === null) {
        const auth = fromHelperOutput(stdout)
        resume(
          Effect.succeed(
            auth === undefined
              ? { problem: `${program} gave no credentials for ${server}` }
              : { credential: { auth, source } }
          )
        )
        return
      }
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ENOENT") {
        resume(Effect.succeed({ problem: `${program} (${source}) is not on PATH` }))
        return
      }
      // Helpers answer on stdout, "credentials not found in native keychain" when they hold none.
      const said = firstLine(stdout) || firstLine(stderr)
      resume(
        Effect.succeed(
          /credentials not found/i.test(said)
            ? {}
            : { problem: `${program} get failed for ${server}${said.length > 0 ? `: ${said}` : ""}` }
        )
      )
    })
    child.stdin?.on("error", () => {})
    child.stdin?.end(server)
  })

/** The directory of the CLI's config: `$DOCKER_CONFIG`, else `~/.docker`. */
const configDirectory: Effect.Effect<string> = Config.String("DOCKER_CONFIG").pipe(
  Config.option,
  Effect.map(Option.filter((dir) => dir.trim().length > 0)),
  Effect.map(Option.getOrElse(() => Path.join(Os.homedir(), ".docker"))),
  Effect.orElseSucceed(() => Path.join(Os.homedir(), ".docker"))
)

/**
 * The credentials the Docker CLI would use for `host`: its `credHelpers` entry, else its
 * `credsStore`, else its `auths` entry. A missing config is no credentials; a config that
 * cannot be read, or a helper that fails, is a `problem` and no credentials (the pull goes on
 * anonymously, as a public image needs none).
 */
export const fromDockerConfig = (host: string): Effect.Effect<Lookup> =>
  Effect.gen(function* () {
    const file = Path.join(yield* configDirectory, "config.json")
    const content = yield* Effect.tryPromise(() => Fs.readFile(file, "utf8")).pipe(
      Effect.map((content): Option.Option<string> => Option.some(content)),
      Effect.catch((error) =>
        Effect.succeed(
          (error.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT"
            ? Option.none<string>()
            : Option.some<string>("")
        )
      )
    )
    if (Option.isNone(content)) return {}
    let config: Readonly<Record<string, unknown>> | undefined
    try {
      config = record(JSON.parse(content.value))
    } catch {
      config = undefined
    }
    if (config === undefined) return { problem: `${file} could not be read as JSON` }
    const server = serverAddress(host)
    const helpers = record(config.credHelpers)
    const helper = helpers === undefined ? undefined : text(entryFor(helpers, host)?.[1])
    if (helper !== undefined) return yield* runHelper(helper, server, `credHelpers in ${file}`)
    const fromAuths = (): Lookup => {
      const auths = record(config.auths)
      const entry = auths === undefined ? undefined : entryFor(auths, host)
      const auth = entry === undefined ? undefined : fromAuthsEntry(entry[1])
      return auth === undefined ? {} : { credential: { auth, source: `auths in ${file}` } }
    }
    const store = text(config.credsStore)
    if (store !== undefined) {
      const found = yield* runHelper(store, server, `credsStore in ${file}`)
      if (found.credential !== undefined) return found
      // Credentials saved before the store was configured stay in `auths`: use them.
      const saved = fromAuths()
      return saved.credential !== undefined ? saved : found
    }
    return fromAuths()
  })

/** The credentials a pull of `reference` sends: the explicit ones, else the CLI's. */
export interface Resolved {
  readonly host: string
  readonly credential?: Credential | undefined
  readonly problem?: string | undefined
}

/** The credentials of a pull that gives them explicitly or not at all (no config is read). */
export const explicitOnly = (reference: string, explicit: RegistryAuth | undefined): Resolved => ({
  host: registryHost(reference),
  ...(explicit !== undefined
    ? { credential: { auth: explicit, source: "the credentials given to the pull" } }
    : {})
})

/**
 * The credentials for a pull of `reference`: `explicit` when given, else the Docker CLI's
 * for the reference's registry. A problem reading the CLI's is logged (without secrets).
 */
export const resolve = (reference: string, explicit: RegistryAuth | undefined): Effect.Effect<Resolved> => {
  const host = registryHost(reference)
  if (explicit !== undefined) {
    return Effect.succeed({
      host,
      credential: { auth: explicit, source: "the credentials given to the pull" }
    })
  }
  return Effect.tap(
    Effect.map(fromDockerConfig(host), (lookup): Resolved => ({ host, ...lookup })),
    (resolved) =>
      resolved.problem === undefined
        ? Effect.void
        : Effect.logWarning(`no registry credentials for ${host}: ${resolved.problem}`)
  )
}

// ---------------------------------------------------------------------------------------------
// A refused pull
// ---------------------------------------------------------------------------------------------

/** Registry answers that mean "who are you": wanted credentials, or refused the ones sent. */
const unauthorizedPattern =
  /\bunauthori[sz]ed\b|authentication required|no basic auth credentials|incorrect username or password|\b401\b/i

/**
 * Whether a failed pull was refused for its credentials: reason `Unauthorized` (a 401 or 403
 * from the engine), or an engine message saying so (dockerd 20.10 answers 500 with the
 * registry's words; newer engines put them in an error line of the 200 stream).
 */
export const isUnauthorized = (error: DockerError): boolean =>
  error.reason === "Unauthorized" || unauthorizedPattern.test(error.message)

/**
 * A pull refused for its credentials as the one `Unauthorized` error: naming the image, the
 * registry and where the credentials came from (or that none were sent), with the engine's
 * message masked of the secrets sent. Other errors are returned as they are, masked.
 */
export const pullFailure = (reference: string, resolved: Resolved, error: DockerError): DockerError => {
  const auth = resolved.credential?.auth
  const said = mask(error.message, auth)
  if (!isUnauthorized(error)) {
    return said === error.message
      ? error
      : new DockerError({ ...error, message: said }, { cause: error.cause })
  }
  const registry = resolved.host === "docker.io" ? "Docker Hub (docker.io)" : resolved.host
  const what =
    resolved.credential === undefined
      ? `registry ${registry} wants credentials and none were given or found in the Docker config${
          resolved.problem === undefined ? "" : ` (${resolved.problem})`
        }`
      : `registry ${registry} refused the credentials from ${resolved.credential.source}`
  return new DockerError(
    {
      reason: "Unauthorized",
      operation: error.operation,
      ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}),
      message: `${reference}: ${what}: ${said.startsWith(`${reference}: `) ? said.slice(reference.length + 2) : said}`
    },
    { cause: error.cause }
  )
}
