/**
 * When a started container counts as ready: the readiness conditions of a spec (`started`,
 * `healthy`, `exited`, a log line seen N times, a published port accepting connections, an
 * HTTP answer, a command exiting 0, all of several, or the default), judged on the states the
 * lifecycle publishes, the container's logs and probes from this process; and the
 * `NotReadyError` that says which condition was not met and why.
 *
 * @internal
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { Context, Duration, Effect, Option, Ref, Schedule, Stream, SubscriptionRef } from "effect"
import * as ContainerSpec from "../ContainerSpec.js"
import type * as ContainerState from "../ContainerState.js"
import type { DockerEngineShape } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import { NotReadyError } from "./supervisorErrors.js"

type Verdict = "ready" | "waiting" | { readonly outcome: string }

const noHealthcheck =
  "the container has no healthcheck (none in the spec, none in the image): give the spec a healthcheck or wait for another condition"

/** Whether a state satisfies a readiness condition, cannot any more, or not yet. @internal */
export const judge = (
  readiness: "started" | "healthy" | "exited" | undefined,
  state: ContainerState.ContainerState
): Verdict => {
  if (readiness === "exited") return state.status === "exited" ? "ready" : "waiting"
  if (state.status === "exited") return { outcome: `exited with code ${state.exitCode ?? "unknown"}` }
  if (readiness === "started") return state.status === "running" ? "ready" : "waiting"
  if (state.health === "unhealthy") return { outcome: "unhealthy" }
  if (readiness === "healthy") {
    if (state.health === "healthy") return "ready"
    // The engine reports a health status from the start on whenever the container (spec or
    // image) has a healthcheck: a running one without it will never turn healthy.
    return state.status === "running" && state.health === "none" ? { outcome: noHealthcheck } : "waiting"
  }
  if (state.status !== "running") return "waiting"
  return state.health === "none" || state.health === "healthy" ? "ready" : "waiting"
}

const quoted = (pattern: string | RegExp) => String(pattern)

/** What a readiness waits for, as `NotReadyError.readiness` words it ("never became ..."). @internal */
export const describe = (readiness: ContainerSpec.Readiness | undefined): string => {
  if (readiness === undefined) return "ready"
  if (typeof readiness === "string") return readiness
  if ("logLine" in readiness) {
    const times = readiness.times ?? 1
    return `ready (log line ${quoted(readiness.logLine)}${times > 1 ? `, ${times} times` : ""})`
  }
  if ("port" in readiness) return `ready (port ${readiness.port} accepting connections)`
  if ("http" in readiness) {
    const { http } = readiness
    return `ready (HTTP ${http.method ?? "GET"} ${http.path} on port ${http.port} answering ${http.status ?? "2xx"})`
  }
  if ("command" in readiness) return `ready (command ${readiness.command.join(" ")} exiting 0)`
  return `ready (all of: ${readiness.all.map(describe).join(", ")})`
}

const matchesLine = (pattern: string | RegExp, text: string) =>
  typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)

/**
 * The host to connect to for a port the engine bound on `hostIp`: the engine's own host when
 * it is remote, else the bound address when it names one, else loopback.
 *
 * @internal
 */
export const connectHost = (publishedHost: string | undefined, hostIp: string): string => {
  if (publishedHost !== undefined) return publishedHost
  return hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" ? "127.0.0.1" : hostIp
}

// ---------------------------------------------------------------------------------------------
// Probes from this process
// ---------------------------------------------------------------------------------------------

/** An HTTP request a readiness sends. @internal */
export interface HttpProbe {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly method: string
}

/**
 * The checks a readiness makes from this process over the network; a failure is why the
 * attempt did not succeed (it is retried). Replaceable (`Effect.provideService`): the memory
 * engine's ports accept no connection.
 *
 * @internal
 */
export interface ProbesShape {
  /** A TCP connection opens (and is not closed at once by the other end). */
  readonly tcp: (host: string, port: number) => Effect.Effect<void, string>
  /** The status an HTTP request is answered with. */
  readonly http: (request: HttpProbe) => Effect.Effect<number, string>
}

/**
 * How long a connection must stay open to count: with Docker's userland proxy a connect to a
 * published port always succeeds, and the proxy closes it at once when nothing listens inside.
 */
const heldOpenMs = 200

const tcp = (host: string, port: number): Effect.Effect<void, string> =>
  Effect.callback<void, string>((resume) => {
    const socket = Net.connect({ host, port })
    let timer: ReturnType<typeof setTimeout> | undefined
    const done = (outcome: Effect.Effect<void, string>) => {
      clearTimeout(timer)
      socket.destroy()
      resume(outcome)
    }
    socket.once("error", (error) => done(Effect.fail(error.message)))
    socket.once("close", () => done(Effect.fail("the connection was closed at once (nothing listens)")))
    socket.once("connect", () => {
      timer = setTimeout(() => done(Effect.void), heldOpenMs)
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

const http = (request: HttpProbe): Effect.Effect<number, string> =>
  Effect.callback<number, string>((resume) => {
    const outgoing = Http.request(
      { host: request.host, port: request.port, path: request.path, method: request.method, agent: false },
      (response) => {
        response.resume()
        outgoing.destroy()
        resume(Effect.succeed(response.statusCode ?? 0))
      }
    )
    outgoing.once("error", (error) => resume(Effect.fail(error.message)))
    outgoing.end()
    return Effect.sync(() => outgoing.destroy())
  })

/** The probes a readiness uses: live ones unless a test provides others. @internal */
export const Probes = Context.Reference<ProbesShape>("effect-docker/internal/ReadinessProbes", {
  defaultValue: () => ({ tcp, http })
})

/** How long one probe attempt may take before it counts as failed (and is retried). */
const attemptTimeout = Duration.seconds(5)
/** A command runs in the container and may take longer than a connect. */
const commandAttemptTimeout = Duration.seconds(10)
const attemptSpacing = Schedule.spaced("250 millis")

const lastLine = (output: string): string | undefined =>
  output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .at(-1)

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

/** The error of a container that will not be ready: what was awaited and what happened instead. @internal */
export const notReady = (
  spec: ContainerSpec.ContainerSpec,
  state: ContainerState.ContainerState,
  outcome: string,
  readiness: string = describe(spec.readiness)
): NotReadyError =>
  new NotReadyError({
    component: spec.name,
    image: spec.image,
    ...(state.id === undefined ? {} : { containerId: state.id }),
    readiness,
    outcome,
    lastLogLines: state.lastLogLines
  })

/** An attempt that did not succeed yet; why, for the timeout's message. */
class Pending {
  readonly _tag = "Pending"
  constructor(readonly reason: string) {}
}
const isPending = (error: unknown): error is Pending => error instanceof Pending

/**
 * The first published state at which the spec's readiness holds, or a `NotReadyError` saying
 * which condition was not met: the container exited (or turned unhealthy) first, it has no
 * healthcheck to wait for, or the condition's timeout (default 60 seconds) passed. A log-line
 * readiness reads the container's logs from its start (a `DockerError` when they cannot be read).
 *
 * @internal
 */
export const whenReady = (
  engine: DockerEngineShape,
  spec: ContainerSpec.ContainerSpec,
  latest: SubscriptionRef.SubscriptionRef<ContainerState.ContainerState>
): Effect.Effect<ContainerState.ContainerState, NotReadyError | DockerError> => {
  const sanitize = ContainerSpec.sanitizer(spec)

  /** The error for `readiness` now, with the container's last log lines (read while it runs). */
  const failNow = (readiness: string, outcome: string) =>
    Effect.gen(function* () {
      const state = yield* SubscriptionRef.get(latest)
      if (state.status === "exited" || state.id === undefined) {
        return yield* Effect.fail(notReady(spec, state, outcome, readiness))
      }
      const lastLogLines = yield* engine.logs(state.id, { follow: false, tail: spec.logTail }).pipe(
        Stream.map((line) => sanitize(line.text)),
        Stream.runCollect,
        Effect.orElseSucceed(() => state.lastLogLines)
      )
      return yield* Effect.fail(
        notReady(spec, { ...state, lastLogLines: Array.from(lastLogLines) }, outcome, readiness)
      )
    })

  const firstState = (readiness: string, verdictOf: (state: ContainerState.ContainerState) => Verdict) =>
    SubscriptionRef.changes(latest).pipe(
      Stream.map((state) => [state, verdictOf(state)] as const),
      Stream.filter(([, verdict]) => verdict !== "waiting"),
      Stream.runHead,
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.die("the state stream ended"),
          onSome: ([state, verdict]) =>
            typeof verdict === "object"
              ? Effect.fail(notReady(spec, state, verdict.outcome, readiness))
              : Effect.succeed(state)
        })
      )
    )

  /** The next state of a run other than `previous` (the first run when undefined). */
  const nextRun = (previous: Date | undefined) =>
    firstState("started", (state) =>
      state.status === "running" && state.startedAt?.getTime() !== previous?.getTime() ? "ready" : "waiting"
    )

  /** Fails with `readiness` not met when the container exits for good first. */
  const exitFirst = (readiness: string) =>
    firstState(readiness, (state) =>
      state.status === "exited" ? { outcome: `exited with code ${state.exitCode ?? "unknown"}` } : "waiting"
    ).pipe(Effect.flatMap(() => Effect.never))

  /** `body` until the container exits for good or `timeout` passes, with the last reason it gave. */
  const bounded = <E>(
    readiness: string,
    timeout: Duration.Duration | undefined,
    body: (lastReason: Ref.Ref<string | undefined>) => Effect.Effect<void, E>
  ) =>
    Effect.gen(function* () {
      const lastReason = yield* Ref.make<string | undefined>(undefined)
      const limit = timeout ?? ContainerSpec.defaultReadinessTimeout
      return yield* Effect.raceFirst(body(lastReason), exitFirst(readiness)).pipe(
        Effect.timeoutOrElse({
          duration: limit,
          orElse: () =>
            Ref.get(lastReason).pipe(
              Effect.flatMap((reason) =>
                failNow(
                  readiness,
                  `not met within ${Duration.format(limit)}${reason === undefined ? "" : ` (last attempt: ${reason})`}`
                )
              )
            )
        })
      )
    })

  /** Repeats `attempt` on the running container until it succeeds; a `Pending` is retried. */
  const poll = <E>(
    lastReason: Ref.Ref<string | undefined>,
    attempt: (id: string) => Effect.Effect<void, Pending | E>
  ): Effect.Effect<void, E | NotReadyError> =>
    nextRun(undefined).pipe(
      Effect.flatMap((running) =>
        attempt(running.id ?? "").pipe(
          Effect.tapError((error) => (isPending(error) ? Ref.set(lastReason, error.reason) : Effect.void)),
          Effect.retry({ while: isPending, schedule: attemptSpacing })
        )
      ),
      // The schedule never ends: only the condition's timeout or the exit stops the polling.
      Effect.catchIf(isPending, () => Effect.never)
    )

  const publishedPort = (
    readiness: string,
    id: string,
    containerPort: number
  ): Effect.Effect<{ readonly host: string; readonly port: number }, Pending | NotReadyError> =>
    engine.inspectContainer(id).pipe(
      Effect.mapError((error) => new Pending(error.message)),
      Effect.flatMap(
        (
          inspect
        ): Effect.Effect<{ readonly host: string; readonly port: number }, Pending | NotReadyError> => {
          const binding = inspect.ports.find(
            (port) => port.containerPort === containerPort && port.protocol === "tcp"
          )
          if (binding !== undefined) {
            return Effect.succeed({
              host: connectHost(engine.publishedHost, binding.hostIp),
              port: binding.hostPort
            })
          }
          // Running and not published: no wait will publish it.
          return inspect.state.running
            ? failNow(
                readiness,
                `port ${containerPort}/tcp is not published on the host (add it to the spec's ports)`
              )
            : Effect.fail(new Pending("the container is not running"))
        }
      )
    )

  const logLines = (pattern: string | RegExp, times: number) => {
    const seenInRun = (
      running: ContainerState.ContainerState
    ): Effect.Effect<void, DockerError | NotReadyError> => {
      const since =
        running.startedAt === undefined ? undefined : Math.floor(running.startedAt.getTime() / 1000)
      return engine.logs(running.id ?? "", { follow: true, ...(since === undefined ? {} : { since }) }).pipe(
        Stream.filter((line) => matchesLine(pattern, line.text)),
        Stream.take(times),
        Stream.runCount,
        // The log ends with the run: unless the line was seen enough, wait for the next run (or
        // for the exit, which `bounded` turns into the error).
        Effect.flatMap((seen) =>
          seen >= times ? Effect.void : nextRun(running.startedAt).pipe(Effect.flatMap(seenInRun))
        )
      )
    }
    return nextRun(undefined).pipe(Effect.flatMap(seenInRun))
  }

  const condition = (
    readiness: ContainerSpec.Readiness
  ): Effect.Effect<void, NotReadyError | DockerError> => {
    const text = describe(readiness)
    if (typeof readiness === "string") return firstState(text, (state) => judge(readiness, state))
    if ("all" in readiness) {
      const every = Effect.all(readiness.all.map(condition), { concurrency: "unbounded", discard: true })
      return readiness.timeout === undefined ? every : bounded(text, readiness.timeout, () => every)
    }
    if ("logLine" in readiness) {
      return bounded(text, readiness.timeout, () => logLines(readiness.logLine, readiness.times ?? 1))
    }
    if ("port" in readiness) {
      return bounded(text, readiness.timeout, (lastReason) =>
        poll(lastReason, (id) =>
          Effect.gen(function* () {
            const probes = yield* Probes
            const target = yield* publishedPort(text, id, readiness.port)
            yield* probes.tcp(target.host, target.port).pipe(
              Effect.timeoutOrElse({
                duration: attemptTimeout,
                orElse: () => Effect.fail(`no connection within ${Duration.format(attemptTimeout)}`)
              }),
              Effect.mapError((reason) => new Pending(`${target.host}:${target.port}: ${reason}`))
            )
          })
        )
      )
    }
    if ("http" in readiness) {
      const { http: request } = readiness
      return bounded(text, readiness.timeout, (lastReason) =>
        poll(lastReason, (id) =>
          Effect.gen(function* () {
            const probes = yield* Probes
            const target = yield* publishedPort(text, id, request.port)
            const where = `${target.host}:${target.port}${request.path}`
            const status = yield* probes
              .http({ ...target, path: request.path, method: request.method ?? "GET" })
              .pipe(
                Effect.timeoutOrElse({
                  duration: attemptTimeout,
                  orElse: () => Effect.fail(`no answer within ${Duration.format(attemptTimeout)}`)
                }),
                Effect.mapError((reason) => new Pending(`${where}: ${reason}`))
              )
            const expected =
              request.status === undefined ? status >= 200 && status < 300 : status === request.status
            if (!expected) yield* Effect.fail(new Pending(`${where} answered ${status}`))
          })
        )
      )
    }
    return bounded(text, readiness.timeout, (lastReason) =>
      poll(lastReason, (id) =>
        engine.exec(id, readiness.command).pipe(
          Effect.timeoutOrElse({
            duration: commandAttemptTimeout,
            orElse: () => Effect.fail(new Pending(`no exit within ${Duration.format(commandAttemptTimeout)}`))
          }),
          Effect.mapError((error) => (isPending(error) ? error : new Pending(error.message))),
          Effect.flatMap((result): Effect.Effect<void, Pending | NotReadyError> => {
            if (result.exitCode === 0) return Effect.void
            const output = lastLine(`${result.stdout}\n${result.stderr}`)
            const outcome = `exited with code ${result.exitCode}${output === undefined ? "" : `: ${sanitize(output)}`}`
            // 126 and 127: the command cannot run in this container (not found, not executable).
            return result.exitCode === 126 || result.exitCode === 127
              ? failNow(text, `the command ${outcome}`)
              : Effect.fail(new Pending(outcome))
          })
        )
      )
    )
  }

  const readiness = spec.readiness
  if (typeof readiness !== "object") {
    return firstState(describe(readiness), (state) => judge(readiness, state))
  }
  return condition(readiness).pipe(Effect.flatMap(() => SubscriptionRef.get(latest)))
}
