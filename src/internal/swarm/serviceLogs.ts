/**
 * A Swarm service's output with each line's replica: the manager's `serviceLogs` gives the
 * task a line came from (its id and node), not its slot, so the slot is looked up in the
 * service's tasks, once per task not seen yet (a replaced task's replacement is a new id).
 *
 * @internal
 */
import { Effect, Ref, Stream } from "effect"
import type { DockerEngineShape, LogLine, ServiceLogsOptions } from "../../DockerEngine.js"
import type { DockerError } from "../../DockerError.js"

/**
 * `serviceLogs` of one service, each line's `task` with its `slot` where the task has one
 * (a replicated service's; a global service's tasks have none).
 *
 * @internal
 */
export const withSlots = (
  engine: DockerEngineShape,
  service: string,
  options?: ServiceLogsOptions
): Stream.Stream<LogLine, DockerError> =>
  Stream.unwrap(
    Effect.map(Ref.make<ReadonlyMap<string, number | undefined>>(new Map()), (slots) =>
      engine.serviceLogs(service, options).pipe(
        Stream.mapEffect((line) => {
          const task = line.task
          if (task === undefined || task.slot !== undefined) return Effect.succeed(line)
          return Ref.get(slots).pipe(
            Effect.flatMap((known) =>
              known.has(task.taskId)
                ? Effect.succeed(known)
                : engine.listTasks({ services: [service] }).pipe(
                    Effect.map((tasks) => {
                      const next = new Map(known)
                      for (const one of tasks) next.set(one.id, one.slot)
                      // Not listed (gone already): asked once, not on every line.
                      if (!next.has(task.taskId)) next.set(task.taskId, undefined)
                      return next
                    }),
                    Effect.tap((next) => Ref.set(slots, next))
                  )
            ),
            Effect.map((known) => {
              const slot = known.get(task.taskId)
              return slot === undefined ? line : { ...line, task: { ...task, slot } }
            })
          )
        })
      )
    )
  )
