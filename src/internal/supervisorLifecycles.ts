/**
 * The run and start wiring of a Supervisor instance: forking a container's lifecycle into the
 * instance, `run` (its states as a stream, stopped when the consumer goes away) and `start`
 * (awaits readiness, then hands back a {@link ContainerHandle} stopped with its scope).
 */
import { Cause, Effect, Exit, Fiber, FiberSet, Scope, Stream, SubscriptionRef } from "effect"
import * as ContainerSpec from "../ContainerSpec.js"
import * as ContainerState from "../ContainerState.js"
import type { ContainerHandle, RunError } from "../Supervisor.js"
import * as StateMailbox from "./stateMailbox.js"
import * as Address from "./supervisorAddress.js"
import * as Container from "./supervisorContainer.js"
import * as Readiness from "./supervisorReadiness.js"
import * as Teardown from "./teardown.js"

export const make = (
  instance: Container.Instance,
  lifecycles: FiberSet.FiberSet<ContainerState.ContainerState, RunError>,
  options: {
    readonly labelPrefix: string | undefined
    /** The host a published port is reached on. */
    readonly publishedHost: string
  }
) => {
  const engine = instance.engine

  // One host runs one container per spec: replicas are Swarm's (`Supervisor.layerSwarm`).
  const validate = (input: ContainerSpec.Input) =>
    Effect.flatMap(ContainerSpec.validate(input, { labelPrefix: options.labelPrefix }), (spec) =>
      spec.replicas !== undefined && spec.replicas > 1
        ? Effect.fail(
            new ContainerSpec.InvalidSpec({
              field: "replicas",
              message: `a single-host Supervisor runs one container per spec, got ${spec.replicas} replicas: use Supervisor.layerSwarm, or one spec per replica`
            })
          )
        : Effect.succeed(spec)
    )

  /**
   * Forks a container's lifecycle into the instance and registers, in the same uninterruptible
   * step, the finalizer that interrupts it: an interruption in between would leave the
   * container running until the instance closes.
   */
  const forkLifecycle = (
    spec: ContainerSpec.ContainerSpec,
    publish: (state: ContainerState.ContainerState) => Effect.Effect<void>,
    registerInterrupt: (
      fiber: Fiber.Fiber<ContainerState.ContainerState, RunError>
    ) => Effect.Effect<void, never, Scope.Scope>
  ) =>
    Effect.uninterruptible(
      FiberSet.run(lifecycles, Effect.scoped(Container.run(instance, spec, publish))).pipe(
        Effect.tap(registerInterrupt)
      )
    )

  // The lifecycle publishes into the consumer's mailbox itself (no queue and fiber between
  // them: a stats sample a second per container would cross both). A slow consumer: stats-only
  // states coalesce, lifecycle states all wait (bounded). The consumer going away (take,
  // interrupt, scope close) interrupts the lifecycle: it stops and removes, and is waited for.
  const run = (input: ContainerSpec.Input): Stream.Stream<ContainerState.ContainerState, RunError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const mailbox = yield* StateMailbox.make<RunError>()
        yield* Effect.gen(function* () {
          const spec = yield* validate(input)
          const fiber = yield* forkLifecycle(spec, mailbox.offer, (fiber) =>
            Effect.addFinalizer(() => Fiber.interrupt(fiber))
          )
          return yield* Fiber.join(fiber)
        }).pipe(
          Effect.scoped,
          Effect.onExit((exit) =>
            Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
              ? mailbox.end
              : mailbox.failCause(exit.cause)
          ),
          // Now, as the stream starts: the lifecycle begins when the consumer does.
          Effect.forkScoped({ startImmediately: true })
        )
        return mailbox.stream
      })
    )

  const stopGroup = Teardown.makeStopGroups()

  const start = Effect.fn("Supervisor.start")(function* (input: ContainerSpec.Input) {
    const spec = yield* validate(input)
    const latest = yield* SubscriptionRef.make(ContainerState.initial(spec.name, spec.image))
    // The handles of one scope are stopped in parallel, as one group.
    const group = yield* stopGroup(yield* Effect.scope)
    const fiber = yield* forkLifecycle(
      spec,
      (state) => SubscriptionRef.set(latest, state),
      (fiber) => Scope.addFinalizer(group, Fiber.interrupt(fiber))
    )

    // The lifecycle failing (pull, create, ...) before readiness fails `start` with its error.
    const failed = Fiber.await(fiber).pipe(
      Effect.flatMap((exit) =>
        Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? Effect.failCause(exit.cause)
          : Effect.never
      )
    )
    const readyState = yield* Effect.raceFirst(Readiness.whenReady(engine, spec, latest), failed).pipe(
      Effect.catchTag("DockerError", (cause) =>
        Effect.fail(
          Readiness.notReady(
            spec,
            SubscriptionRef.getUnsafe(latest),
            `its logs could not be read: ${cause.message}`
          )
        )
      ),
      Effect.onError(() => Fiber.interrupt(fiber))
    )
    return makeHandle(instance, spec, readyState.id ?? "", latest, fiber, options.publishedHost)
  })

  return { run, start }
}

/** The handle `start` hands back, over the lifecycle's fiber and its latest state. */
const makeHandle = (
  instance: Container.Instance,
  spec: ContainerSpec.ContainerSpec,
  id: string,
  latest: SubscriptionRef.SubscriptionRef<ContainerState.ContainerState>,
  fiber: Fiber.Fiber<ContainerState.ContainerState, RunError>,
  publishedHost: string
): ContainerHandle => ({
  id,
  name: Container.containerName(instance, spec.name),
  state: SubscriptionRef.get(latest),
  states: SubscriptionRef.changes(latest).pipe(
    Stream.takeUntil((state) => state.status === "exited"),
    StateMailbox.buffered
  ),
  stop: Fiber.interrupt(fiber),
  logs: (options) => instance.engine.logs(id, options),
  exec: (command, options) => instance.engine.exec(id, command, options),
  port: (containerPort, protocol = "tcp") =>
    Effect.flatMap(SubscriptionRef.get(latest), (state) => {
      const target = Address.connectTarget(state, spec.ports ?? [], containerPort, protocol, publishedHost)
      return target instanceof Address.PortNotPublished ? Effect.fail(target) : Effect.succeed(target)
    }),
  await: Fiber.await(fiber).pipe(
    Effect.flatMap((exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
      if (Cause.hasInterruptsOnly(exit.cause)) return SubscriptionRef.get(latest)
      return Effect.failCause(exit.cause)
    })
  )
})
