/**
 * The engine's model of the system API group: its `Version`, its `EngineEvent`s and the
 * options of the events stream, and the label shapes every group shares. Re-exported by
 * `DockerModel`; no service and no I/O here.
 */
import { Schema } from "effect"

/** The engine's labels of an object, as decoded. */
export const Labels = Schema.Record(Schema.String, Schema.String)

/**
 * A label filter: `true` matches any value of the key, a string matches exactly.
 *
 * @category options
 * @since 0.1.0
 */
export type LabelFilter = Readonly<Record<string, string | true>>

/**
 * The engine's version, read once from `/version`.
 *
 * @category models
 * @since 0.1.0
 */
export const Version = Schema.Struct({
  version: Schema.String,
  apiVersion: Schema.String,
  minApiVersion: Schema.optionalKey(Schema.String),
  os: Schema.String,
  arch: Schema.String,
  kernelVersion: Schema.optionalKey(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type Version = typeof Version.Type

/**
 * One engine event.
 *
 * @category models
 * @since 0.1.0
 */
export const EngineEvent = Schema.Struct({
  /** `container`, `image`, `network`, `volume`, ... */
  type: Schema.String,
  /** `create`, `start`, `die`, `health_status: healthy`, `connect`, ... */
  action: Schema.String,
  /** The object's id (container id, network id, image reference). */
  actorId: Schema.String,
  /** The object's attributes: labels, `name`, `image`, `exitCode`, `container` for network events. */
  attributes: Labels,
  /** Unix time in seconds. */
  time: Schema.Number,
  /**
   * Unix time in nanoseconds, as a double: exact only to about 256 ns (the engine's value has
   * 19 digits). Use `timeNanoExact` to order, compare or de-duplicate events.
   */
  timeNano: Schema.Number,
  /** Unix time in nanoseconds, exactly as the engine stamped it. */
  timeNanoExact: Schema.BigInt
})
/**
 * @category models
 * @since 0.1.0
 */
export type EngineEvent = typeof EngineEvent.Type

/**
 * Filters for `events`. `since` and `until` are Unix times in seconds (fractions allowed);
 * `sinceNano` is an exact Unix time in nanoseconds, for resuming from an event's
 * `timeNanoExact` without losing or repeating an event.
 *
 * @category options
 * @since 0.1.0
 */
export interface EventsOptions {
  readonly labels?: LabelFilter
  /** `container`, `network`, `image`, ... */
  readonly types?: ReadonlyArray<string>
  /** `create`, `start`, `die`, ... */
  readonly actions?: ReadonlyArray<string>
  /** Only these containers (by id or name). */
  readonly containers?: ReadonlyArray<string>
  /**
   * Unix seconds, fractions allowed. A double is exact only to about 256 ns at today's times,
   * so `event.timeNano / 1e9` can land after the event it came from: resume with `sinceNano`.
   */
  readonly since?: number
  /**
   * Unix time in nanoseconds, exactly (an event's `timeNanoExact`): events stamped at or after
   * it are replayed. Takes the place of `since` when both are given.
   */
  readonly sinceNano?: bigint
  readonly until?: number
}
