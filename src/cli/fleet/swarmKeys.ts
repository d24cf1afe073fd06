/**
 * The `deploy` keys only Swarm acts on (`up --swarm`): `placement.constraints` and
 * `update_config`. Read on every run, so that a one-host run can refuse them where they were
 * written (see `Spec.validateAll`) instead of ignoring them.
 *
 * @since 0.3.0
 */
import type { Duration } from "effect"
import type { Node } from "yaml"
import type { UpdateConfig } from "./model.js"
import { readDuration, readInteger, readString, readStringList } from "./values.js"
import { type Context, readKeys, report } from "./yamlNodes.js"

/** Swarm's constraint syntax: `key==value` or `key!=value` (spaces around the operator allowed). */
const CONSTRAINT = /^[^=!]+(==|!=)[^=!]+$/

/** `deploy.placement`: `constraints` only (preferences and max_replicas_per_node are not supported). */
export const readPlacement = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): ReadonlyArray<string> | undefined => {
  let constraints: ReadonlyArray<string> | undefined
  readKeys(ctx, node, keyPath, {
    constraints: (value, p) => {
      const list = readStringList(ctx, value, p)
      if (list === undefined) return
      const bad = list.find((constraint) => !CONSTRAINT.test(constraint))
      if (bad !== undefined)
        report(ctx, value, p, `not a placement constraint: ${bad} (expected key==value or key!=value)`)
      else constraints = list.map((constraint) => constraint.trim())
    }
  })
  return constraints
}

const ORDERS = ["stop-first", "start-first"] as const
const FAILURE_ACTIONS = ["pause", "continue", "rollback"] as const

/** `deploy.update_config`: `parallelism`, `delay`, `order`, `failure_action`. */
export const readUpdateConfig = (
  ctx: Context,
  node: Node | undefined,
  keyPath: string
): UpdateConfig | undefined => {
  let parallelism: number | undefined
  let delay: Duration.Duration | undefined
  let order: UpdateConfig["order"]
  let failureAction: UpdateConfig["failureAction"]
  const before = ctx.problems.length
  readKeys(ctx, node, keyPath, {
    parallelism: (value, p) => {
      parallelism = readInteger(ctx, value, p, 0)
    },
    delay: (value, p) => {
      delay = readDuration(ctx, value, p)
    },
    order: (value, p) => {
      const text = readString(ctx, value, p)
      order = ORDERS.find((known) => known === text)
      if (text !== undefined && order === undefined)
        report(ctx, value, p, `expected one of ${ORDERS.join(", ")}`)
    },
    failure_action: (value, p) => {
      const text = readString(ctx, value, p)
      failureAction = FAILURE_ACTIONS.find((known) => known === text)
      if (text !== undefined && failureAction === undefined)
        report(ctx, value, p, `expected one of ${FAILURE_ACTIONS.join(", ")}`)
    }
  })
  if (ctx.problems.length > before) return undefined
  return {
    ...(parallelism === undefined ? {} : { parallelism }),
    ...(delay === undefined ? {} : { delay }),
    ...(order === undefined ? {} : { order }),
    ...(failureAction === undefined ? {} : { failureAction })
  }
}
