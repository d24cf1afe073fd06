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
import { Deferred, Effect, Stream } from "effect"
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
  /**
   * Swarm: `run` is called once per service (not per replica) and its states carry the slot
   * (`task.slot`) that names their row. A row's end is known once the whole run is over.
   */
  readonly oneRunPerService?: boolean | undefined
  /**
   * Swarm (`docker stack deploy`): `depends_on` orders the deployment only. A dependant waits
   * until its dependencies' services exist, whatever the condition written.
   */
  readonly orderingOnly?: boolean | undefined
}

const CONDITION_TEXT: Readonly<Record<Fleet.DependencyCondition, string>> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed"
}

interface Gates {
  /** The service exists (its run reported a first state): what `orderingOnly` waits for. */
  readonly deployed: Deferred.Deferred<void, string>
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

type Kind = Exclude<keyof Gates, "deployed">

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
        deployed: yield* Deferred.make<void, string>(),
        started: yield* Deferred.make<void, string>(),
        healthy: yield* Deferred.make<void, string>(),
        completed: yield* Deferred.make<void, string>()
      })
    }
    const gatesOf = (name: string): Gates => gates.get(name)!

    /**
     * One run of `run` and the rows it reports to: a replica's container on one host (one row),
     * or a whole service on Swarm (a row per slot, `rowOf` the state's). Each row opens its own
     * gates and ends on its own last state once the run is over.
     */
    const runUnit = (
      service: Fleet.Service,
      replica: string,
      rows: ReadonlyArray<{ readonly row: string; readonly gates: ReplicaGates }>,
      rowOf: (state: View.ViewState) => string
    ): Effect.Effect<ReadonlyArray<ServiceResult>> => {
      const failGates = (own: ReplicaGates, reason: string) =>
        Effect.all(
          (["started", "healthy", "completed"] as const).map((kind) => own.fail(kind, reason)),
          { discard: true }
        )
      const finish = (
        row: string,
        own: ReplicaGates,
        ok: boolean,
        reason: string | undefined,
        note: View.Note | undefined,
        ended?: { readonly exitCode: number | undefined }
      ) =>
        Effect.gen(function* () {
          if (note !== undefined) yield* output.note(row, note)
          if (!ok) yield* failGates(own, reason ?? `${row} failed`)
          if (ended !== undefined && options.onEnd !== undefined) {
            yield* options.onEnd({ service: row, of: service.name, ok, reason, exitCode: ended.exitCode })
          }
          return { service: row, ok, reason }
        })
      const forEachRow = <A>(f: (row: string, own: ReplicaGates) => Effect.Effect<A>) =>
        Effect.forEach(rows, ({ row, gates }) => f(row, gates))
      const gatesOfRow = new Map(rows.map(({ row, gates }) => [row, gates] as const))
      const ran = new Set<string>()
      const lastStates = new Map<string, View.ViewState>()

      const lifetime = Effect.gen(function* () {
        for (const dependency of service.dependsOn) {
          const condition = options.orderingOnly === true ? "deployed" : CONDITION_TEXT[dependency.condition]
          yield* forEachRow((row) =>
            output.note(row, {
              status: "waiting",
              text: `for ${dependency.service} (${condition})`,
              tone: "info"
            })
          )
          const gate =
            options.orderingOnly === true
              ? gatesOf(dependency.service).deployed
              : gateOf(gatesOf(dependency.service), dependency.condition)
          const ready = yield* Effect.result(Deferred.await(gate))
          if (ready._tag === "Failure") {
            const reason = `not started: ${ready.failure}`
            yield* Deferred.fail(gatesOf(service.name).deployed, reason)
            return yield* forEachRow((row, own) =>
              finish(row, own, false, reason, { status: "not started", text: ready.failure, tone: "bad" })
            )
          }
        }
        yield* forEachRow((row) => output.note(row, undefined))

        const deployed = gatesOf(service.name).deployed
        const last = yield* run(service, replica).pipe(
          Stream.tap((state) =>
            Effect.gen(function* () {
              yield* Deferred.succeed(deployed, undefined)
              const row = rowOf(state)
              const own = gatesOfRow.get(row)
              if (own === undefined) return
              ran.add(row)
              lastStates.set(row, state)
              yield* output.state(row, state)
              if (state.status === "running") yield* own.succeed("started")
              if (state.health === "healthy") yield* own.succeed("healthy")
              // Running without a health status: there is no healthcheck, so it never becomes
              // healthy (Compose refuses such a dependency too).
              if (state.status === "running" && state.health === "none") {
                yield* own.fail("healthy", `${service.name} has no healthcheck`)
              }
            })
          ),
          Stream.runDrain,
          Effect.result
        )
        if (last._tag === "Failure") {
          const reason = describeError(last.failure)
          yield* Deferred.fail(deployed, reason)
          return yield* forEachRow((row, own) =>
            finish(
              row,
              own,
              false,
              `${row}: ${reason}`,
              { status: "failed", text: reason, tone: "bad" },
              { exitCode: undefined }
            )
          )
        }
        return yield* forEachRow((row, own) =>
          Effect.gen(function* () {
            const state = lastStates.get(row)
            if (state?.status === "exited" && state.exitCode === 0) {
              yield* own.succeed("started")
              yield* own.succeed("completed")
              // A dependant waiting for a job to be healthy must not hang once the job is over.
              yield* failGates(own, `${row} exited before it was healthy`)
              return yield* finish(row, own, true, undefined, undefined, { exitCode: 0 })
            }
            const how = state?.exitCode !== undefined ? `exit ${state.exitCode}` : "ended"
            const detail = state?.error !== undefined ? `: ${View.oneLine(state.error, 120)}` : ""
            return yield* finish(
              row,
              own,
              false,
              `${row} failed for good (${how})`,
              { status: undefined, text: `failed for good (${how})${detail}`, tone: "bad" },
              { exitCode: state?.exitCode }
            )
          })
        )
      }).pipe(
        // Runs after the stream's own finalizers: the container is gone when this is shown.
        Effect.onInterrupt(() =>
          forEachRow((row) =>
            output.note(row, { status: ran.has(row) ? "removed" : "not started", text: "", tone: "info" })
          )
        )
      )
      return lifetime
    }

    const runService = (service: Fleet.Service): Effect.Effect<ReadonlyArray<ServiceResult>> => {
      const names = replicaNames(service)
      const opened = { started: new Set<string>(), healthy: new Set<string>(), completed: new Set<string>() }
      const rows = names.map((row) => ({
        row,
        gates: replicaGates(gatesOf(service.name), row, names.length, opened)
      }))
      if (options.oneRunPerService === true) {
        // A state's slot names its row: slot 2 of `web` is `web-2`, as on one host.
        const rowOf = (state: View.ViewState) =>
          names[(state.task?.slot ?? 1) - 1] ?? names[0] ?? service.name
        return runUnit(service, service.name, rows, rowOf)
      }
      return Effect.map(
        Effect.forEach(rows, (row) => runUnit(service, row.row, [row], () => row.row), {
          concurrency: "unbounded"
        }),
        (results) => results.flat()
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
