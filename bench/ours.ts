/**
 * Our side: a Supervisor instance in a scope of its own (so its release can be timed), and
 * containers run through `Supervisor.run`, each watched for the moments the benchmark
 * measures (first `running`, final `exited`).
 */
import { Deferred, Duration, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import type * as ContainerState from "../src/ContainerState.js"
import type { DockerEngine } from "../src/DockerEngine.js"
import * as Supervisor from "../src/Supervisor.js"
import { now } from "./harness.js"
import { image, labels, memoryBytes } from "./reference.js"

/** A Supervisor instance and the release of everything it holds. */
export interface Instance {
  readonly supervisor: Supervisor.SupervisorShape
  /** Closes the instance's scope: stops and removes its containers, then its network. */
  readonly release: Effect.Effect<void>
}

/**
 * Builds a Supervisor for the bench (app `bench`, the run's test label) in a scope that the
 * caller closes with `release`; the enclosing scope closes it too, on failure or Ctrl-C.
 */
export const instance = (
  options?: Omit<Supervisor.Options, "app">
): Effect.Effect<Instance, unknown, DockerEngine | Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.acquireRelease(Scope.make(), (scope, exit) => Scope.close(scope, exit))
    const supervisor = yield* Supervisor.make({ app: "bench", labels: { ...labels }, ...options }).pipe(
      Scope.provide(scope)
    )
    return { supervisor, release: Scope.close(scope, Exit.void) }
  })

/** A container spec with the bench's image and memory limit. */
export const spec = (
  name: string,
  command: ReadonlyArray<string>,
  stopTimeout: Duration.Input = Duration.seconds(10)
): Parameters<Supervisor.SupervisorShape["run"]>[0] => ({
  name,
  image,
  command,
  resources: { memoryBytes },
  stopTimeout
})

/** A container run through `Supervisor.run`, with the moments the bench measures. */
export interface Watched {
  /** `now()` when the first `running` state arrived. */
  readonly running: Deferred.Deferred<number, unknown>
  /** `now()` when the final `exited` state arrived, and that state. */
  readonly exited: Deferred.Deferred<{ readonly at: number; readonly state: ContainerState.ContainerState }>
  /** The container's id, once created. */
  readonly id: () => string | undefined
  /** States received so far. */
  readonly states: () => number
  /** Stats updates received so far (states carrying a CPU figure). */
  readonly statsUpdates: () => number
  /** The consumer: ends when the stream ends (after the final state). */
  readonly fiber: Fiber.Fiber<void, unknown>
}

/**
 * Runs `spec` and consumes its state stream in the current scope (which outlives the
 * Supervisor instance, so the final states of its release are seen too).
 */
export const watch = (
  supervisor: Supervisor.SupervisorShape,
  input: Parameters<Supervisor.SupervisorShape["run"]>[0]
): Effect.Effect<Watched, never, Scope.Scope> =>
  Effect.gen(function* () {
    const running = yield* Deferred.make<number, unknown>()
    const exited = yield* Deferred.make<{
      readonly at: number
      readonly state: ContainerState.ContainerState
    }>()
    let id: string | undefined
    let states = 0
    let statsUpdates = 0
    let sawRunning = false
    const fiber = yield* supervisor.run(input).pipe(
      Stream.runForEach((state) =>
        Effect.suspend(() => {
          const at = now()
          states++
          id = state.id ?? id
          if (state.cpuPercent !== undefined) statsUpdates++
          // Once: every stats sample is a `running` state too, and the consumer is on our account.
          if (state.status === "running" && !sawRunning) {
            sawRunning = true
            return Deferred.succeed(running, at)
          }
          if (state.status === "exited") return Deferred.succeed(exited, { at, state })
          return Effect.void
        })
      ),
      Effect.onError((cause) => Deferred.failCause(running, cause)),
      Effect.forkScoped
    )
    return { running, exited, id: () => id, states: () => states, statsUpdates: () => statsUpdates, fiber }
  })

/** Waits until every watched container is running (a failed run fails this); returns when the last one was. */
export const allRunning = (watched: ReadonlyArray<Watched>) =>
  Effect.forEach(watched, (one) => Deferred.await(one.running)).pipe(
    Effect.map((times) => Math.max(...times)),
    Effect.timeoutOrElse({
      duration: Duration.minutes(3),
      orElse: () => Effect.fail(new Error("containers did not all reach running within 3 minutes"))
    })
  )

/** The final state each consumer saw before its stream ended (`undefined`: none arrived, or the run failed). */
export const finalStates = (watched: ReadonlyArray<Watched>) =>
  Effect.forEach(watched, (one) =>
    Fiber.await(one.fiber).pipe(
      Effect.andThen(Deferred.poll(one.exited)),
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.succeed(undefined),
          onSome: (final) => Effect.map(final, ({ state }) => state)
        })
      )
    )
  )
