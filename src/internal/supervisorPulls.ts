/**
 * Single-flight image pulls: concurrent runs of one image share one pull and all see its
 * progress; the pull is interrupted when the last run waiting for it goes away.
 *
 * The seed pulled on every run and went on creating the container when the pull failed;
 * here the pull policy decides whether to pull and a failed pull fails every waiting run.
 *
 * @internal
 */

import { createHash } from "node:crypto"
import {
  Deferred,
  Effect,
  Metric,
  Option,
  RcMap,
  Redacted,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import type { DockerEngineShape, PullProgress, RegistryAuth } from "../DockerEngine.js"
import { DockerError } from "../DockerError.js"

/** @internal */
export type PullPolicy = "always" | "ifMissing" | "never"

/** @internal */
export interface Progress<A> {
  readonly initial: A
  readonly update: (aggregate: A, line: PullProgress) => A
  readonly bytesDone: (aggregate: A) => number
}

interface InFlight<A> {
  /** The aggregate of the running pull; `none` while deciding and when no pull is needed. */
  readonly progress: SubscriptionRef.SubscriptionRef<Option.Option<A>>
  readonly done: Deferred.Deferred<void, DockerError>
}

/** @internal */
export interface Pulls<A> {
  /**
   * Makes the image present as the policy says: emits the aggregated progress while a pull
   * runs (nothing when the image is already there) and ends when the image is present.
   */
  readonly ensure: (image: string, policy: PullPolicy, auth?: RegistryAuth) => Stream.Stream<A, DockerError>
}

/** Bytes pulled, over every image and run. */
export const pullBytes = Metric.counter("effect_docker_pull_bytes", {
  description: "Bytes of image layers downloaded by pulls",
  incremental: true
})

/** @internal */
export const make = <A>(
  engine: DockerEngineShape,
  progress: Progress<A>
): Effect.Effect<Pulls<A>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const pullNow = Effect.fn("Supervisor.pull")(function* (
      image: string,
      auth: RegistryAuth | undefined,
      state: InFlight<A>
    ) {
      yield* Effect.annotateCurrentSpan("image", image)
      yield* engine.pullImage(image, auth === undefined ? undefined : { auth }).pipe(
        Stream.runFoldEffect(
          () => progress.initial,
          (aggregate, line) => {
            const next = progress.update(aggregate, line)
            const downloaded = progress.bytesDone(next) - progress.bytesDone(aggregate)
            return SubscriptionRef.set(state.progress, Option.some(next)).pipe(
              Effect.andThen(downloaded > 0 ? Metric.modify(pullBytes, downloaded) : Effect.void),
              Effect.as(next)
            )
          }
        )
      )
    })

    const isPresent = (image: string) =>
      engine.inspectImage(image).pipe(
        Effect.as(true),
        Effect.catchTag("DockerError", (error) =>
          error.reason === "NotFound" ? Effect.succeed(false) : Effect.fail(error)
        )
      )

    // Runs with other credentials do not share a pull: each is refused or let through by the
    // registry on its own. The key holds a digest of the credentials, never the secret.
    const credentials = new Map<string, RegistryAuth>()
    const credentialKey = (auth: RegistryAuth | undefined): string => {
      if (auth === undefined) return "-"
      const secret =
        "identityToken" in auth ? Redacted.value(auth.identityToken) : Redacted.value(auth.password)
      const who = "identityToken" in auth ? "" : auth.username
      const key = createHash("sha256")
        .update(JSON.stringify([who, secret, auth.serverAddress ?? ""]))
        .digest("hex")
        .slice(0, 16)
      credentials.set(key, auth)
      return key
    }

    // Keyed by policy, credentials and image: the decision to pull is part of what is shared, so
    // a run arriving while another run's pull is in flight joins it instead of deciding again.
    const inFlight = yield* RcMap.make({
      lookup: (key: string) =>
        Effect.gen(function* () {
          const [policyPart = "", authKey = "-"] = key.split(" ", 2)
          const policy = policyPart as "always" | "ifMissing"
          const image = key.slice(policyPart.length + authKey.length + 2)
          const auth = credentials.get(authKey)
          const state: InFlight<A> = {
            progress: yield* SubscriptionRef.make(Option.none<A>()),
            done: yield* Deferred.make<void, DockerError>()
          }
          const work = Effect.gen(function* () {
            if (policy === "ifMissing" && (yield* isPresent(image))) return
            yield* SubscriptionRef.set(state.progress, Option.some(progress.initial))
            yield* pullNow(image, auth, state)
          })
          // Runs in the entry's scope: interrupted when no run waits for it any more.
          yield* work.pipe(Deferred.into(state.done), Effect.forkScoped)
          return state
        }),
      idleTimeToLive: 0
    })

    const ensure = (
      image: string,
      policy: PullPolicy,
      auth?: RegistryAuth
    ): Stream.Stream<A, DockerError> => {
      if (policy === "never") {
        return Stream.fromEffectDrain(
          engine.inspectImage(image).pipe(
            Effect.asVoid,
            Effect.mapError((error) =>
              error.reason === "NotFound"
                ? new DockerError({
                    reason: "NotFound",
                    operation: error.operation,
                    message: `image ${image} is not present and the pull policy is "never"`
                  })
                : error
            )
          )
        )
      }
      return Stream.unwrap(
        Effect.gen(function* () {
          const state = yield* RcMap.get(inFlight, `${policy} ${credentialKey(auth)} ${image}`)
          return SubscriptionRef.changes(state.progress).pipe(
            Stream.filter(Option.isSome),
            Stream.map((aggregate) => aggregate.value),
            Stream.interruptWhen(Deferred.await(state.done))
          )
        })
      )
    }
    return { ensure }
  })
