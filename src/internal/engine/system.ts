/**
 * The Engine API's system endpoints: `/_ping`, `/version` and the `/events` stream, and
 * where the engine is.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/System
 * @internal
 */
import { Effect, Result, Schema, Stream } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import type { EventsOptions } from "../../DockerModel.js"
import * as Ndjson from "../ndjson.js"
import * as Wire from "../wire.js"
import { filters, labelFilter, type Transport, unixNanos, unixSeconds } from "./transport.js"

/**
 * The system operations of the engine.
 *
 * @internal
 */
export type System = Pick<DockerEngineShape, "ping" | "version" | "events" | "endpoint">

const decodeEvent = Schema.decodeUnknownResult(Wire.WireEvent)

/**
 * The system endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ endpoint, call, decoded, bytes }: Transport): System => {
  // Values, not functions, so their spans are put on by hand (`Effect.fn` makes functions).
  const ping = call("ping", { method: "GET", path: "/_ping" }).pipe(
    Effect.asVoid,
    Effect.withSpan("DockerEngine.ping")
  )

  const version = decoded(
    "version",
    { method: "GET", path: "/version" },
    Wire.WireVersion,
    Wire.toVersion
  ).pipe(Effect.withSpan("DockerEngine.version"))

  const events = (options?: EventsOptions) =>
    bytes("events", {
      method: "GET",
      path: "/events",
      query: {
        filters: filters({
          label: labelFilter(options?.labels),
          type: options?.types,
          event: options?.actions,
          container: options?.containers
        }),
        since:
          options?.sinceNano !== undefined
            ? unixNanos(options.sinceNano)
            : options?.since === undefined
              ? undefined
              : unixSeconds(options.since),
        until: options?.until === undefined ? undefined : unixSeconds(options.until)
      }
    }).pipe(
      Ndjson.lines("events", (json, line) =>
        Result.map(decodeEvent(json), (wire) => Wire.toEngineEvent(wire, line))
      ),
      Stream.withSpan("DockerEngine.events")
    )

  return { endpoint, ping, version, events }
}
