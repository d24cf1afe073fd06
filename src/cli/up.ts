/**
 * Running a fleet: every service at once, each started when its dependencies' conditions hold
 * (`service_started`, `service_healthy`, `service_completed_successfully`), every state and
 * note handed to an {@link Output}. Knows nothing of Docker: a service runs through the
 * `run` function given (the Supervisor's `run` in the CLI).
 *
 * @example
 * ```ts
 * const results = yield* Up.runFleet(fleet, (service) => supervisor.run(toSpec(service)), output, String)
 * const failed = results.some((result) => !result.ok)
 * ```
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Option, Ref, Stream } from "effect"
import type * as Fleet from "./Fleet.js"
import * as View from "./view.js"

/**
 * Where a running fleet reports to: the live table, plain lines or NDJSON.
 *
 * @since 0.1.0
 */
export interface Output {
  readonly state: (service: string, state: View.ViewState) => Effect.Effect<void>
  /** `undefined` clears the note. */
  readonly note: (service: string, note: View.Note | undefined) => Effect.Effect<void>
}

/**
 * How one service ended: `ok` when it exited 0 for good (or was stopped by the user).
 *
 * @since 0.1.0
 */
export interface ServiceResult {
  readonly service: string
  readonly ok: boolean
  readonly reason: string | undefined
}

const CONDITION_TEXT: Readonly<Record<Fleet.DependencyCondition, string>> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed"
}

interface Gates {
  readonly started: Deferred.Deferred<void, string>
  readonly healthy: Deferred.Deferred<void, string>
  readonly completed: Deferred.Deferred<void, string>
}

const gateOf = (gates: Gates, condition: Fleet.DependencyCondition): Deferred.Deferred<void, string> =>
  condition === "service_started"
    ? gates.started
    : condition === "service_healthy"
      ? gates.healthy
      : gates.completed

/**
 * Runs every service of the fleet until each has ended for good. Interrupting it stops and
 * removes what runs (the `run` streams own their containers); each service's row then says
 * `removed`.
 *
 * @since 0.1.0
 */
export const runFleet = <E>(
  fleet: Fleet.Fleet,
  run: (service: Fleet.Service) => Stream.Stream<View.ViewState, E>,
  output: Output,
  describeError: (error: E) => string
): Effect.Effect<ReadonlyArray<ServiceResult>> =>
  Effect.gen(function* () {
    const gates = new Map<string, Gates>()
    for (const service of fleet.services) {
      gates.set(service.name, {
        started: yield* Deferred.make<void, string>(),
        healthy: yield* Deferred.make<void, string>(),
        completed: yield* Deferred.make<void, string>()
      })
    }
    const gatesOf = (name: string): Gates => gates.get(name)!

    const runService = (service: Fleet.Service): Effect.Effect<ServiceResult> => {
      const own = gatesOf(service.name)
      const failGates = (reason: string) =>
        Effect.all(
          [own.started, own.healthy, own.completed].map((gate) => Deferred.fail(gate, reason)),
          {
            discard: true
          }
        )
      const finish = (ok: boolean, reason: string | undefined, note: View.Note | undefined) =>
        Effect.gen(function* () {
          if (note !== undefined) yield* output.note(service.name, note)
          if (!ok) yield* failGates(reason ?? `${service.name} failed`)
          return { service: service.name, ok, reason }
        })

      const lifetime = (ran: Ref.Ref<boolean>) =>
        Effect.gen(function* () {
          for (const dependency of service.dependsOn) {
            const condition = CONDITION_TEXT[dependency.condition]
            yield* output.note(service.name, {
              status: "waiting",
              text: `for ${dependency.service} (${condition})`,
              tone: "info"
            })
            const ready = yield* Effect.result(
              Deferred.await(gateOf(gatesOf(dependency.service), dependency.condition))
            )
            if (ready._tag === "Failure") {
              const reason = `not started: ${ready.failure}`
              return yield* finish(false, reason, { status: "not started", text: ready.failure, tone: "bad" })
            }
          }
          yield* output.note(service.name, undefined)

          const last = yield* run(service).pipe(
            Stream.tap((state) =>
              Effect.gen(function* () {
                yield* Ref.set(ran, true)
                yield* output.state(service.name, state)
                if (state.status === "running") yield* Deferred.succeed(own.started, undefined)
                if (state.health === "healthy") yield* Deferred.succeed(own.healthy, undefined)
                // Running without a health status: there is no healthcheck, so it never becomes
                // healthy (Compose refuses such a dependency too).
                if (state.status === "running" && state.health === "none") {
                  yield* Deferred.fail(own.healthy, `${service.name} has no healthcheck`)
                }
              })
            ),
            Stream.runLast,
            Effect.result
          )
          if (last._tag === "Failure") {
            const reason = describeError(last.failure)
            return yield* finish(false, `${service.name}: ${reason}`, {
              status: "failed",
              text: reason,
              tone: "bad"
            })
          }
          const state = Option.getOrUndefined(last.success)
          if (state?.status === "exited" && state.exitCode === 0) {
            yield* Deferred.succeed(own.started, undefined)
            yield* Deferred.succeed(own.completed, undefined)
            // A dependant waiting for a job to be healthy must not hang once the job is over.
            yield* failGates(`${service.name} exited before it was healthy`)
            return yield* finish(true, undefined, undefined)
          }
          const how = state?.exitCode !== undefined ? `exit ${state.exitCode}` : "ended"
          const detail = state?.error !== undefined ? `: ${View.oneLine(state.error, 120)}` : ""
          return yield* finish(false, `${service.name} failed for good (${how})`, {
            status: undefined,
            text: `failed for good (${how})${detail}`,
            tone: "bad"
          })
        }).pipe(
          // Runs after the stream's own finalizers: the container is gone when this is shown.
          Effect.onInterrupt(() =>
            Effect.flatMap(Ref.get(ran), (hadContainer) =>
              output.note(service.name, {
                status: hadContainer ? "removed" : "not started",
                text: "",
                tone: "info"
              })
            )
          )
        )
      return Effect.flatMap(Ref.make(false), lifetime)
    }

    return yield* Effect.forEach(fleet.services, runService, { concurrency: "unbounded" })
  })

/**
 * The process exit status of a finished fleet: 0 when every service ended well, 1 otherwise.
 *
 * @since 0.1.0
 */
export const exitStatus = (results: ReadonlyArray<ServiceResult>): 0 | 1 =>
  results.every((result) => result.ok) ? 0 : 1
