/**
 * The Engine API's volume endpoints (`/volumes/...`): create, inspect, list by label and
 * remove, and the engine's volume as the library's `VolumeInspect`.
 *
 * @see https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Volume
 * @internal
 */
import { Effect, Schema } from "effect"
import type { DockerEngineShape } from "../../DockerEngine.js"
import type {
  CreateVolumeOptions,
  ListVolumesOptions,
  RemoveVolumeOptions,
  VolumeInspect
} from "../../DockerModel.js"
import { filters, labelFilter, segment, type Transport } from "./transport.js"

/**
 * The volume operations of the engine.
 *
 * @internal
 */
export type Volumes = Pick<
  DockerEngineShape,
  "createVolume" | "inspectVolume" | "listVolumes" | "removeVolume"
>

const maybe = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))
const StringMap = Schema.Record(Schema.String, Schema.String)

const WireVolume = Schema.Struct({
  Name: Schema.String,
  Driver: Schema.String,
  Mountpoint: Schema.String,
  Labels: maybe(StringMap),
  Options: maybe(StringMap),
  Scope: maybe(Schema.String),
  CreatedAt: maybe(Schema.String)
})

// `Volumes` is null, not empty, when none match.
const WireVolumeList = Schema.Struct({ Volumes: maybe(Schema.Array(WireVolume)) })

const toVolumeInspect = (wire: typeof WireVolume.Type): VolumeInspect => ({
  name: wire.Name,
  driver: wire.Driver,
  mountpoint: wire.Mountpoint,
  labels: wire.Labels ?? {},
  options: wire.Options ?? {},
  scope: wire.Scope ?? "local",
  ...(wire.CreatedAt !== undefined && wire.CreatedAt !== null ? { createdAt: wire.CreatedAt } : {})
})

/**
 * The volume endpoints over `transport`.
 *
 * @internal
 */
export const make = ({ call, decoded }: Transport): Volumes => {
  const createVolume = Effect.fn("DockerEngine.createVolume")(function* (create: CreateVolumeOptions = {}) {
    yield* Effect.annotateCurrentSpan({ name: create.name ?? "" })
    return yield* decoded(
      "createVolume",
      {
        method: "POST",
        path: "/volumes/create",
        body: {
          ...(create.name !== undefined ? { Name: create.name } : {}),
          Driver: create.driver ?? "local",
          DriverOpts: create.driverOptions ?? {},
          Labels: create.labels ?? {}
        }
      },
      WireVolume,
      toVolumeInspect
    )
  })

  const inspectVolume = Effect.fn("DockerEngine.inspectVolume")(function* (name: string) {
    yield* Effect.annotateCurrentSpan({ name })
    return yield* decoded(
      "inspectVolume",
      { method: "GET", path: `/volumes/${segment(name)}` },
      WireVolume,
      toVolumeInspect
    )
  })

  const listVolumes = Effect.fn("DockerEngine.listVolumes")((list?: ListVolumesOptions) =>
    decoded(
      "listVolumes",
      { method: "GET", path: "/volumes", query: { filters: filters({ label: labelFilter(list?.labels) }) } },
      WireVolumeList,
      (answer) => (answer.Volumes ?? []).map(toVolumeInspect)
    )
  )

  const removeVolume = Effect.fn("DockerEngine.removeVolume")(function* (
    name: string,
    remove?: RemoveVolumeOptions
  ) {
    yield* Effect.annotateCurrentSpan({ name })
    yield* call("removeVolume", {
      method: "DELETE",
      path: `/volumes/${segment(name)}`,
      query: { force: remove?.force }
    })
  })

  return { createVolume, inspectVolume, listVolumes, removeVolume }
}
