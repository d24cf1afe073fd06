/**
 * The named volumes of a Supervisor instance: the engine's name of a spec's volume in its
 * scope (`instance`, `app`, `external`), the labels each scope is created with, the label
 * filters that find them for teardown and `removeStale`, and `removeAppVolumes`.
 */
import { Effect } from "effect"
import type { VolumeScope } from "../ContainerSpec.js"
import type { DockerEngineShape } from "../DockerEngine.js"
import type { DockerError } from "../DockerError.js"
import type { LabelFilter } from "../DockerModel.js"
import type * as Labels from "./labels.js"
import * as Teardown from "./teardown.js"

/** An instance's volume naming and the filters that find its volumes. */
export interface InstanceVolumes {
  /** The engine's name of a spec's named volume in its scope. */
  readonly volumeName: (source: string, scope: VolumeScope) => string
  /** The labels a volume of the scope is created with (`external` ones are never created). */
  readonly volumeLabels: (scope: "instance" | "app") => Readonly<Record<string, string>>
  /** This instance's own volumes (removed when it is released). */
  readonly ofInstance: LabelFilter
  /** Every `instance`-scoped volume of the app (`removeStale` keeps those of live owners). */
  readonly instanceScoped: LabelFilter
}

const scopeLabel = (keys: Labels.LabelKeys): string => `${keys.prefix}volume-scope`

/** The engine's name of an app's shared volume: `<app>_<name>`, as Compose names a project's. */
const appVolumeName = (app: string, name: string): string => `${app}_${name}`

/** The filter that finds an app's shared volumes. */
const appScoped = (keys: Labels.LabelKeys, app: string): LabelFilter => ({
  [keys.app]: app,
  [scopeLabel(keys)]: "app"
})

export const make = (
  keys: Labels.LabelKeys,
  options: {
    readonly app: string
    readonly instanceId: string
    /** The instance's labels (the user's and the library's). */
    readonly labels: Readonly<Record<string, string>>
    /** The user's labels only: an `app` volume outlives the instance, so it has none of its labels. */
    readonly userLabels: Readonly<Record<string, string>> | undefined
  }
): InstanceVolumes => {
  const { app, instanceId, labels } = options
  const scopeKey = scopeLabel(keys)
  const appVolumeLabels = { ...options.userLabels, [keys.app]: app, [scopeKey]: "app" }
  return {
    volumeName: (source, scope) =>
      scope === "instance"
        ? `${app}-${instanceId}-${source}`
        : scope === "app"
          ? appVolumeName(app, source)
          : source,
    volumeLabels: (scope) => (scope === "instance" ? { ...labels, [scopeKey]: "instance" } : appVolumeLabels),
    ofInstance: { [keys.instance]: instanceId, [scopeKey]: "instance" },
    instanceScoped: { [keys.app]: app, [scopeKey]: "instance" }
  }
}

/**
 * Removes the app's shared volumes (those named, or all of them) and counts them. Needs no
 * instance: the app and the label keys find them.
 */
export const removeAppVolumes = (
  engine: DockerEngineShape,
  keys: Labels.LabelKeys,
  app: string,
  names: ReadonlyArray<string> | undefined
): Effect.Effect<number, DockerError> =>
  Effect.gen(function* () {
    const found = yield* engine.listVolumes({ labels: appScoped(keys, app) })
    const wanted = names === undefined ? undefined : new Set(names.map((name) => appVolumeName(app, name)))
    const chosen = found.filter((volume) => wanted === undefined || wanted.has(volume.name))
    yield* Teardown.removeVolumes(engine, chosen, Teardown.requestedVolumeRemoval)
    return chosen.length
  })
