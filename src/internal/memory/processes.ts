/**
 * A container's process in the in-memory engine: which script a start runs, a start itself,
 * the script as a fiber (logs, health, exit at their times), signals and graceful shutdown,
 * the exit itself (state, `die`, disconnects, waiters, auto-remove), the engine's restart
 * policy (`no`, `always`, `unless-stopped`, `on-failure[:N]`, with Docker's backoff and
 * `RestartCount`) and removal.
 *
 * @internal
 */
import { Clock, Deferred, Effect, FiberMap } from "effect"
import type { WaitResult } from "../../DockerModel.js"
import type { Script, ScriptInput } from "../../MemoryEngine.js"
import { containerAttributes, emit } from "./events.js"
import { endFollowers, writeLogSync } from "./logs.js"
import { connectSync, disconnectSync } from "./networks.js"
import { bindPortsSync, releasePortsSync, resetTmpfsSync } from "./reach.js"
import { type ContainerRecord, millis, nanosToMillis, type Store, type Waiter } from "./store.js"

const isScriptList = (input: ScriptInput): input is ReadonlyArray<Script> => Array.isArray(input)

/**
 * The script this start runs: by container name, else by image; the n-th start runs the n-th
 * script of a list (the last repeats). Counts the start.
 */
export const resolveScript = (store: Store, c: ContainerRecord): Script => {
  const byName = store.containerScripts.get(c.name)
  const key = byName !== undefined ? `container:${c.name}` : `image:${c.imageReference}`
  const input = byName ?? store.imageScripts.get(c.imageReference)
  if (input === undefined) return {}
  const n = store.runCounts.get(key) ?? 0
  store.runCounts.set(key, n + 1)
  if (!isScriptList(input)) return input
  return input[Math.min(n, input.length - 1)] ?? {}
}

/** Sets the health status; a change (other than to `starting`) emits `health_status`. */
export const setHealthSync = (store: Store, c: ContainerRecord, status: string, nowNanos: bigint) => {
  const previous = c.health?.status
  const retries = c.options.healthcheck?.retries ?? 3
  c.health = { status, failingStreak: status === "unhealthy" ? retries : 0 }
  if (previous !== status && status !== "starting") {
    emit(store, nowNanos, "container", `health_status: ${status}`, c.id, containerAttributes(c))
  }
}

/** What a wait answers: the exit code, and the engine's error when there is one. */
export const waitResultOf = (c: ContainerRecord): WaitResult =>
  c.error.length > 0 ? { exitCode: c.exitCode, error: c.error } : { exitCode: c.exitCode }

const resolveWaiters = (c: ContainerRecord, conditions: ReadonlyArray<Waiter["condition"]>) => {
  // A copy: an answered waiter may wait again at once (a restarting container), and a Set's
  // iteration would visit, and answer, that new waiter too.
  for (const waiter of [...c.waiters]) {
    if (conditions.includes(waiter.condition)) {
      Deferred.doneUnsafe(waiter.deferred, Effect.succeed(waitResultOf(c)))
      c.waiters.delete(waiter)
    }
  }
}

/** The container is gone: `destroy`, followers ended, every waiter answered. */
export const removeSync = (store: Store, c: ContainerRecord, nowNanos: bigint) => {
  c.removed = true
  store.containers.delete(c.id)
  endFollowers(c)
  emit(store, nowNanos, "container", "destroy", c.id, containerAttributes(c))
  resolveWaiters(c, ["removed", "next-exit", "not-running"])
}

/** Whether the engine's restart policy starts the container again after this exit (as Docker decides). */
const policyRestarts = (c: ContainerRecord, code: number): boolean => {
  const policy = c.options.restartPolicy
  if (policy === undefined || c.manuallyStopped || c.removed) return false
  switch (policy.name) {
    case "always":
    case "unless-stopped":
      return true
    case "on-failure": {
      const max = policy.maximumRetryCount ?? 0
      return code !== 0 && (max <= 0 || c.restartCount < max)
    }
    default:
      return false
  }
}

/**
 * Starts a run: a fresh process with the next script, network attachments, `start`, and the
 * run's restart monitor (the engine's restart policy acting on its exit).
 */
export const startRun = (store: Store, c: ContainerRecord): Effect.Effect<void> =>
  Effect.gen(function* () {
    const nowNanos = yield* Clock.currentTimeNanos
    const nowMs = nanosToMillis(nowNanos)
    c.run += 1
    const run = c.run
    c.status = "running"
    c.exitCode = 0
    c.oomKilled = false
    c.error = ""
    c.startedMs = nowMs
    c.lastSampleMs = nowMs
    c.cpuTotal = 20_000_000
    store.counters.pid += 1
    c.pid = store.counters.pid
    const exited = Deferred.makeUnsafe<void>()
    c.exited = exited
    c.script = resolveScript(store, c)
    c.health =
      c.healthcheck !== undefined || c.script.health !== undefined
        ? { status: "starting", failingStreak: 0 }
        : undefined
    for (const [networkId, attachment] of c.networks) {
      const network = store.networks.get(networkId)
      if (network !== undefined) connectSync(store, c, network, attachment, nowNanos)
    }
    emit(store, nowNanos, "container", "start", c.id, containerAttributes(c))
    yield* FiberMap.run(store.processes, c.id, processOf(store, c, run, c.script))
    // Docker's restart monitor: `die` → (the delay, in `restarting`) → `start`, same container.
    const restartsThisRun = () => c.run === run && c.status === "restarting" && !c.removed
    yield* Deferred.await(exited).pipe(
      Effect.andThen(
        Effect.suspend(() =>
          restartsThisRun()
            ? Effect.sleep(c.restartDelayMs).pipe(
                Effect.andThen(
                  Effect.suspend(() => {
                    if (!restartsThisRun()) return Effect.void
                    // As at an API start: ports bound again (a random one may change), tmpfs empty.
                    bindPortsSync(store, c)
                    resetTmpfsSync(c)
                    return startRun(store, c)
                  })
                )
              )
            : Effect.void
        )
      ),
      Effect.forkIn(store.scope)
    )
  })

/** A `stop` (or kill) of a container waiting to be restarted: it stays exited, and its waiters answer. */
export const stopRestartingSync = (store: Store, c: ContainerRecord, nowNanos: bigint) => {
  c.manuallyStopped = true
  c.status = "exited"
  emit(store, nowNanos, "container", "stop", c.id, containerAttributes(c))
  resolveWaiters(c, ["next-exit", "not-running"])
}

/** The process ended: the state, `die`, network disconnects, waiters, the restart policy, auto-remove. */
export const exitSync = (
  store: Store,
  c: ContainerRecord,
  code: number,
  nowNanos: bigint,
  oomKilled = false,
  error = ""
) => {
  if (c.status !== "running") return
  c.exitCode = code
  c.oomKilled = oomKilled
  c.error = error
  c.finishedMs = nanosToMillis(nowNanos)
  c.pid = 0
  releasePortsSync(c)
  if (policyRestarts(c, code)) {
    // Counted at the exit, as Docker does; the delay doubles, and starts over after a 10 s run.
    // Waiters still answer below: on Docker too a policy restart is a stop.
    c.status = "restarting"
    c.restartCount += 1
    const ranMs = c.finishedMs - (c.startedMs ?? c.finishedMs)
    c.restartDelayMs =
      c.restartDelayMs === 0 || ranMs >= 10_000 ? 100 : Math.min(c.restartDelayMs * 2, 60_000)
  } else {
    c.status = "exited"
  }
  if (oomKilled) emit(store, nowNanos, "container", "oom", c.id, containerAttributes(c))
  emit(store, nowNanos, "container", "die", c.id, containerAttributes(c, { exitCode: String(code) }))
  for (const [networkId, attachment] of c.networks) {
    const network = store.networks.get(networkId)
    if (network !== undefined) disconnectSync(store, c, network, attachment, nowNanos)
  }
  Deferred.doneUnsafe(c.exited, Effect.void)
  resolveWaiters(c, ["next-exit", "not-running"])
  endFollowers(c)
  if (c.options.autoRemove === true && c.status === "exited") removeSync(store, c, nowNanos)
}

/** Delivers a signal to the process: 9 kills; others per the script's `onStopSignal`. */
export const signalSync = (
  store: Store,
  c: ContainerRecord,
  signal: number,
  nowNanos: bigint
): number | undefined => {
  emit(store, nowNanos, "container", "kill", c.id, containerAttributes(c, { signal: String(signal) }))
  if (signal === 9) {
    exitSync(store, c, 137, nowNanos)
    return undefined
  }
  const behaviour = c.script.onStopSignal ?? "exit"
  if (behaviour === "ignore") return undefined
  if (behaviour === "exit") {
    exitSync(store, c, 128 + signal, nowNanos)
    return undefined
  }
  // Graceful shutdown: the caller schedules the exit after this many milliseconds.
  return millis(behaviour.after)
}

/** The exit code of a graceful shutdown: the script's, else 128 + the signal. */
export const gracefulExitCode = (c: ContainerRecord, signal: number): number => {
  const behaviour = c.script.onStopSignal
  return typeof behaviour === "object" && behaviour.exitCode !== undefined ? behaviour.exitCode : 128 + signal
}

/** Exits after `delayMs` unless the run ended meanwhile; returns when it has exited or the delay passed. */
export const exitAfter = (store: Store, c: ContainerRecord, run: number, delayMs: number, code: number) =>
  Effect.raceFirst(
    Effect.sleep(delayMs).pipe(
      Effect.andThen(Clock.currentTimeNanos),
      Effect.flatMap((now) =>
        Effect.sync(() => {
          if (c.run === run) exitSync(store, c, code, now)
        })
      )
    ),
    Deferred.await(c.exited)
  )

/** The process of one run: the script's logs, health and exit, each at its time after the start. */
export const processOf = (store: Store, c: ContainerRecord, run: number, script: Script) => {
  const actions: Array<{ readonly at: number; readonly act: (nowNanos: bigint) => void }> = []
  for (const log of script.logs ?? []) {
    actions.push({
      at: millis(log.at ?? 0),
      act: (now) => writeLogSync(c, log.stream ?? "stdout", log.text, nanosToMillis(now))
    })
  }
  if (script.health !== undefined) {
    for (const step of script.health) {
      actions.push({ at: millis(step.at), act: (now) => setHealthSync(store, c, step.status, now) })
    }
  } else if (c.health !== undefined) {
    // A passing healthcheck turns healthy at its first probe, one interval after the start.
    actions.push({
      at: c.options.healthcheck?.intervalMs ?? 30_000,
      act: (now) => setHealthSync(store, c, "healthy", now)
    })
  }
  const exit = script.exit
  if (exit !== undefined) {
    actions.push({
      at: millis(exit.after),
      act: (now) => exitSync(store, c, exit.code, now, exit.oomKilled === true, exit.error ?? "")
    })
  }
  // Stable: at equal times logs and health come before the exit.
  actions.sort((a, b) => a.at - b.at)
  return Effect.gen(function* () {
    let elapsed = 0
    for (const action of actions) {
      if (action.at > elapsed) {
        yield* Effect.sleep(action.at - elapsed)
        elapsed = action.at
      }
      if (c.run !== run || c.status !== "running") return
      action.act(yield* Clock.currentTimeNanos)
    }
  })
}
