/**
 * When a started container counts as ready: the readiness conditions of a spec (`started`,
 * `healthy`, a log line, `exited`, or the default), judged on the states the lifecycle
 * publishes, and the `NotReadyError` that says why it never will be.
 *
 * @internal
 */
import { Effect, Option, Stream, SubscriptionRef } from "effect"
import type * as ContainerSpec from "../ContainerSpec.js"
import type * as ContainerState from "../ContainerState.js"
import type { DockerEngineShape } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import { NotReadyError } from "./supervisorErrors.js"

type Verdict = "ready" | "waiting" | { readonly outcome: string }

/** Whether a state satisfies a readiness condition, cannot any more, or not yet. @internal */
export const judge = (
  readiness: ContainerSpec.Readiness | undefined,
  state: ContainerState.ContainerState
): Verdict => {
  if (readiness === "exited") return state.status === "exited" ? "ready" : "waiting"
  if (state.status === "exited") return { outcome: `exited with code ${state.exitCode ?? "unknown"}` }
  if (readiness === "started") return state.status === "running" ? "ready" : "waiting"
  if (state.health === "unhealthy") return { outcome: "unhealthy" }
  if (readiness === "healthy") return state.health === "healthy" ? "ready" : "waiting"
  if (readiness === undefined) {
    if (state.status !== "running") return "waiting"
    return state.health === "none" || state.health === "healthy" ? "ready" : "waiting"
  }
  // A log line: the state says only that the container runs; the logs decide.
  return "waiting"
}

const describe = (readiness: ContainerSpec.Readiness | undefined): string => {
  if (readiness === undefined) return "ready"
  if (typeof readiness === "string") return readiness
  return `ready (log line ${String(readiness.logLine)})`
}

const matchesLine = (pattern: string | RegExp, text: string) =>
  typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)

/** The error of a container that will not be ready: what was awaited and what happened instead. @internal */
export const notReady = (
  spec: ContainerSpec.ContainerSpec,
  state: ContainerState.ContainerState,
  outcome: string
): NotReadyError =>
  new NotReadyError({
    component: spec.name,
    image: spec.image,
    ...(state.id === undefined ? {} : { containerId: state.id }),
    readiness: describe(spec.readiness),
    outcome,
    lastLogLines: state.lastLogLines
  })

/**
 * The first published state at which the spec's readiness holds, or a `NotReadyError` at the
 * first one where it cannot any more. A log-line readiness reads the container's logs from
 * its start (a `DockerError` when they cannot be read).
 *
 * @internal
 */
export const whenReady = (
  engine: DockerEngineShape,
  spec: ContainerSpec.ContainerSpec,
  latest: SubscriptionRef.SubscriptionRef<ContainerState.ContainerState>
): Effect.Effect<ContainerState.ContainerState, NotReadyError | DockerError> => {
  const firstState = (verdictOf: (state: ContainerState.ContainerState) => Verdict) =>
    SubscriptionRef.changes(latest).pipe(
      Stream.map((state) => [state, verdictOf(state)] as const),
      Stream.filter(([, verdict]) => verdict !== "waiting"),
      Stream.runHead,
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.die("the state stream ended"),
          onSome: ([state, verdict]) =>
            typeof verdict === "object"
              ? Effect.fail(notReady(spec, state, verdict.outcome))
              : Effect.succeed(state)
        })
      )
    )
  const readiness = spec.readiness
  if (typeof readiness !== "object") return firstState((state) => judge(readiness, state))
  return Effect.gen(function* () {
    const running = yield* firstState((state) =>
      state.status === "running" ? "ready" : judge("started", state)
    )
    const since = running.startedAt === undefined ? undefined : Math.floor(running.startedAt.getTime() / 1000)
    const id = running.id ?? ""
    const line = engine.logs(id, { follow: true, ...(since === undefined ? {} : { since }) }).pipe(
      Stream.filter((line) => matchesLine(readiness.logLine, line.text)),
      Stream.runHead,
      Effect.flatMap(() => SubscriptionRef.get(latest))
    )
    return yield* Effect.raceFirst(
      line,
      firstState((state) => (state.status === "exited" ? judge("started", state) : "waiting"))
    )
  })
}
