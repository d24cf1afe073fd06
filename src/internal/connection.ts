/**
 * Where the Docker engine is and how to reach it: `DOCKER_HOST` parsing, socket
 * discovery, TLS material, and an HTTP agent with a connect deadline.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Duplex } from "node:stream"
import * as Util from "node:util"

/** How to reach an engine, after parsing. */
export type Endpoint =
  | { readonly _tag: "Unix"; readonly socketPath: string }
  | {
      readonly _tag: "Tcp"
      readonly host: string
      readonly port: number
      readonly tls: boolean
    }
  | { readonly _tag: "Ssh"; readonly host: string; readonly port: number; readonly username?: string }

/**
 * The places a local engine's socket lives, in the order the Docker CLI and the
 * runtimes put them: system-wide, rootless, Docker Desktop (new and old).
 */
export const socketCandidates = (env: {
  readonly xdgRuntimeDir?: string | undefined
  readonly home: string
}): ReadonlyArray<string> => [
  "/var/run/docker.sock",
  ...(env.xdgRuntimeDir ? [Path.join(env.xdgRuntimeDir, "docker.sock")] : []),
  Path.join(env.home, ".docker", "run", "docker.sock"),
  Path.join(env.home, ".docker", "desktop", "docker.sock")
]

/** The first candidate socket that exists, else the system-wide one (so the error names it). */
export const discoverSocket = (): string => {
  const candidates = socketCandidates({ xdgRuntimeDir: process.env.XDG_RUNTIME_DIR, home: Os.homedir() })
  return candidates.find((candidate) => Fs.existsSync(candidate)) ?? "/var/run/docker.sock"
}

/**
 * Parses a `DOCKER_HOST` value: `unix:///path`, `tcp://host:port`, `http(s)://host:port`,
 * `ssh://user@host[:port]`, `host:port`, or a bare socket path. `undefined` when the text
 * is not one of those.
 */
export const parseHost = (host: string, options: { readonly tls: boolean }): Endpoint | undefined => {
  const text = host.trim()
  if (text.startsWith("/")) return { _tag: "Unix", socketPath: text }
  if (text.startsWith("unix://")) {
    const socketPath = text.slice("unix://".length)
    return socketPath.length > 0 ? { _tag: "Unix", socketPath } : undefined
  }
  const withScheme = text.includes("://") ? text : `tcp://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return undefined
  }
  if (url.hostname.length === 0) return undefined
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1")
  switch (url.protocol) {
    case "tcp:":
    case "http:":
    case "https:": {
      const tls = options.tls || url.protocol === "https:"
      const port = url.port.length > 0 ? Number(url.port) : tls ? 2376 : 2375
      return { _tag: "Tcp", host: hostname, port, tls }
    }
    case "ssh:": {
      const port = url.port.length > 0 ? Number(url.port) : 22
      return url.username.length > 0
        ? { _tag: "Ssh", host: hostname, port, username: decodeURIComponent(url.username) }
        : { _tag: "Ssh", host: hostname, port }
    }
    default:
      return undefined
  }
}

/** The endpoint as a user would write it, for error messages. */
export const describe = (endpoint: Endpoint): string => {
  switch (endpoint._tag) {
    case "Unix":
      return `unix://${endpoint.socketPath}`
    case "Tcp":
      return `tcp://${endpoint.host}:${endpoint.port}`
    case "Ssh":
      return `ssh://${endpoint.username ? `${endpoint.username}@` : ""}${endpoint.host}:${endpoint.port}`
  }
}

/**
 * Where this process reaches a port the engine published: the engine's host for a tcp or ssh
 * endpoint; for a local socket, `undefined` (the binding's own address, else loopback).
 */
export const publishedHost = (endpoint: Endpoint): string | undefined =>
  endpoint._tag === "Unix" ? undefined : endpoint.host

/** The error a socket that did not connect in time is destroyed with (mapped to `Timeout`). */
const connectTimeoutError = (timeoutMs: number): Error =>
  Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" })

/**
 * Destroys `socket` unless it connects (and, for TLS, completes its handshake) within
 * `timeoutMs`. Only the connect is bounded: once connected, a socket may stay silent for
 * as long as a stream or a `wait` needs.
 */
const withConnectDeadline = <S extends Duplex | null | undefined>(
  socket: S,
  timeoutMs: number,
  secure: boolean
): S => {
  if (!(socket instanceof Net.Socket)) return socket
  let connected = false
  // Timers run before I/O callbacks: after a stall of the event loop (a busy process), the
  // deadline can fire while the connection's own callback is already waiting. Look again
  // once pending I/O has run (setImmediate), and give up only if it still has not connected.
  const timer = setTimeout(
    () =>
      setImmediate(() => {
        if (!connected && !socket.destroyed) socket.destroy(connectTimeoutError(timeoutMs))
      }),
    timeoutMs
  )
  const clear = () => {
    connected = true
    clearTimeout(timer)
  }
  socket.once(secure ? "secureConnect" : "connect", clear)
  socket.once("close", () => clearTimeout(timer))
  return socket
}

class HttpConnectDeadlineAgent extends Http.Agent {
  readonly connectTimeoutMs: number;
  // docker-modem runs util.inspect (showHidden, no depth limit) over every request's options,
  // which hold this agent: without this it walks every open socket, and each request slows
  // with the number of open streams (142 ms instead of 2 ms with 20 stats streams).
  [Util.inspect.custom](): string {
    return "HttpConnectDeadlineAgent"
  }
  constructor(connectTimeoutMs: number) {
    super({ keepAlive: false })
    this.connectTimeoutMs = connectTimeoutMs
  }
  override createConnection(
    options: Http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    return withConnectDeadline(super.createConnection(options, callback), this.connectTimeoutMs, false)
  }
}

class HttpsConnectDeadlineAgent extends Https.Agent {
  readonly connectTimeoutMs: number;
  // docker-modem runs util.inspect (showHidden, no depth limit) over every request's options,
  // which hold this agent: without this it walks every open socket, and each request slows
  // with the number of open streams (142 ms instead of 2 ms with 20 stats streams).
  [Util.inspect.custom](): string {
    return "HttpsConnectDeadlineAgent"
  }
  constructor(connectTimeoutMs: number) {
    super({ keepAlive: false })
    this.connectTimeoutMs = connectTimeoutMs
  }
  override createConnection(
    options: Https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    return withConnectDeadline(super.createConnection(options, callback), this.connectTimeoutMs, true)
  }
}

/** An agent (no keep-alive, no idle timeout) whose sockets must connect within `connectTimeoutMs`. */
export const makeAgent = (options: {
  readonly secure: boolean
  readonly connectTimeoutMs: number
}): Http.Agent =>
  options.secure
    ? new HttpsConnectDeadlineAgent(options.connectTimeoutMs)
    : new HttpConnectDeadlineAgent(options.connectTimeoutMs)

/** TLS material read from a directory laid out as the Docker CLI expects (`ca.pem`, `cert.pem`, `key.pem`). */
export interface TlsFiles {
  readonly ca?: Buffer
  readonly cert?: Buffer
  readonly key?: Buffer
}

/** Reads what exists of `ca.pem`, `cert.pem` and `key.pem` in `certPath`; throws when the directory is unreadable. */
export const readTlsFiles = (certPath: string): TlsFiles => {
  const read = (name: string): Buffer | undefined => {
    const file = Path.join(certPath, name)
    return Fs.existsSync(file) ? Fs.readFileSync(file) : undefined
  }
  Fs.accessSync(certPath, Fs.constants.R_OK)
  const ca = read("ca.pem")
  const cert = read("cert.pem")
  const key = read("key.pem")
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {})
  }
}

/** The default place of TLS material when `DOCKER_CERT_PATH` is unset. */
export const defaultCertPath = (): string => Path.join(Os.homedir(), ".docker")
