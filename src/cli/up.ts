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

/**
 * A replica that ended for good on its own: its container exited (and will not restart) or its
 * run failed (`exitCode` undefined). What `--abort-on-container-exit` and `--wait` look at; a
 * replica never started (a dependency failed) or stopped by the user is not one.
 *
 * @since 0.1.0
 */
export interface Ended extends ServiceResult {
  /** The fleet service (`web` for the replica `web-2`). */
  readonly of: string
  readonly exitCode: number | undefined
}

/**
 * Hooks into a running fleet.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** Called as each replica ends on its own, before the fleet as a whole is over. */
  readonly onEnd?: ((ended: Ended) => Effect.Effect<void>) | undefined
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
 * The rows of a service: its name, or `<service>-1..N` for replicas (`deploy.replicas`, `scale`).
 *
 * @since 0.1.0
 */
export const replicaNames = (service: Fleet.Service): ReadonlyArray<string> =>
  service.replicas <= 1
    ? [service.name]
    : Array.from({ length: service.replicas }, (_, i) => `${service.name}-${i + 1}`)

type Kind = keyof Gates

/** What one replica reports: a service's gate opens once every replica has opened its own. */
interface ReplicaGates {
  readonly succeed: (kind: Kind) => Effect.Effect<void>
  readonly fail: (kind: Kind, reason: string) => Effect.Effect<void>
}

const replicaGates = (
  own: Gates,
  replica: string,
  total: number,
  opened: Readonly<Record<Kind, Set<string>>>
): ReplicaGates => ({
  succeed: (kind) =>
    Effect.suspend(() => {
      opened[kind].add(replica)
      return opened[kind].size === total ? Deferred.succeed(own[kind], undefined) : Effect.void
    }).pipe(Effect.asVoid),
  fail: (kind, reason) => Effect.asVoid(Deferred.fail(own[kind], reason))
})

/**
 * Runs every service of the fleet until each has ended for good, each replica in its own row
 * (a service is started, healthy or completed once all its replicas are). Interrupting it stops
 * and removes what runs (the `run` streams own their containers); each row then says `removed`.
 *
 * @since 0.1.0
 */
export const runFleet = <E>(
  fleet: Fleet.Fleet,
  run: (service: Fleet.Service, replica: string) => Stream.Stream<View.ViewState, E>,
  output: Output,
  describeError: (error: E) => string,
  options: RunOptions = {}
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

    const runReplica = (
      service: Fleet.Service,
      replica: string,
      own: ReplicaGates
    ): Effect.Effect<ServiceResult> => {
      const failGates = (reason: string) =>
        Effect.all(
          (["started", "healthy", "completed"] as const).map((kind) => own.fail(kind, reason)),
          { discard: true }
        )
      const finish = (
        ok: boolean,
        reason: string | undefined,
        note: View.Note | undefined,
        ended?: { readonly exitCode: number | undefined }
      ) =>
        Effect.gen(function* () {
          if (note !== undefined) yield* output.note(replica, note)
          if (!ok) yield* failGates(reason ?? `${replica} failed`)
          if (ended !== undefined && options.onEnd !== undefined) {
            yield* options.onEnd({ service: replica, of: service.name, ok, reason, exitCode: ended.exitCode })
          }
          return { service: replica, ok, reason }
        })

      const lifetime = (ran: Ref.Ref<boolean>) =>
        Effect.gen(function* () {
          for (const dependency of service.dependsOn) {
            const condition = CONDITION_TEXT[dependency.condition]
            yield* output.note(replica, {
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
          yield* output.note(replica, undefined)

          const last = yield* run(service, replica).pipe(
            Stream.tap((state) =>
              Effect.gen(function* () {
                yield* Ref.set(ran, true)
                yield* output.state(replica, state)
                if (state.status === "running") yield* own.succeed("started")
                if (state.health === "healthy") yield* own.succeed("healthy")
                // Running without a health status: there is no healthcheck, so it never becomes
                // healthy (Compose refuses such a dependency too).
                if (state.status === "running" && state.health === "none") {
                  yield* own.fail("healthy", `${service.name} has no healthcheck`)
                }
              })
            ),
            Stream.runLast,
            Effect.result
          )
          if (last._tag === "Failure") {
            const reason = describeError(last.failure)
            return yield* finish(
              false,
              `${replica}: ${reason}`,
              { status: "failed", text: reason, tone: "bad" },
              { exitCode: undefined }
            )
          }
          const state = Option.getOrUndefined(last.success)
          if (state?.status === "exited" && state.exitCode === 0) {
            yield* own.succeed("started")
            yield* own.succeed("completed")
            // A dependant waiting for a job to be healthy must not hang once the job is over.
            yield* failGates(`${replica} exited before it was healthy`)
            return yield* finish(true, undefined, undefined, { exitCode: 0 })
          }
          const how = state?.exitCode !== undefined ? `exit ${state.exitCode}` : "ended"
          const detail = state?.error !== undefined ? `: ${View.oneLine(state.error, 120)}` : ""
          return yield* finish(
            false,
            `${replica} failed for good (${how})`,
            { status: undefined, text: `failed for good (${how})${detail}`, tone: "bad" },
            { exitCode: state?.exitCode }
          )
        }).pipe(
          // Runs after the stream's own finalizers: the container is gone when this is shown.
          Effect.onInterrupt(() =>
            Effect.flatMap(Ref.get(ran), (hadContainer) =>
              output.note(replica, {
                status: hadContainer ? "removed" : "not started",
                text: "",
                tone: "info"
              })
            )
          )
        )
      return Effect.flatMap(Ref.make(false), lifetime)
    }

    const runService = (service: Fleet.Service): Effect.Effect<ReadonlyArray<ServiceResult>> => {
      const names = replicaNames(service)
      const opened = { started: new Set<string>(), healthy: new Set<string>(), completed: new Set<string>() }
      return Effect.forEach(
        names,
        (name) => runReplica(service, name, replicaGates(gatesOf(service.name), name, names.length, opened)),
        { concurrency: "unbounded" }
      )
    }

    const results = yield* Effect.forEach(fleet.services, runService, { concurrency: "unbounded" })
    return results.flat()
  })

/**
 * The process exit status of a finished fleet: 0 when every service ended well, 1 otherwise.
 *
 * @since 0.1.0
 */
export const exitStatus = (results: ReadonlyArray<ServiceResult>): 0 | 1 =>
  results.every((result) => result.ok) ? 0 : 1
