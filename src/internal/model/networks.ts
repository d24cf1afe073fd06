/**
 * The engine's model of the networks and volumes API groups: their inspect values and the
 * options of create, connect, disconnect, list and remove. Re-exported by `DockerModel`; no
 * service and no I/O here.
 */
import { Schema } from "effect"
import { type LabelFilter, Labels } from "./system.js"

/**
 * A network as `inspect` and `list` show it.
 *
 * @category models
 * @since 0.1.0
 */
export const NetworkInspect = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  driver: Schema.String,
  internal: Schema.Boolean,
  labels: Labels,
  /** Attached containers by id (filled by `inspect`; `list` leaves it empty). */
  containers: Schema.Record(Schema.String, Schema.Struct({ name: Schema.String, ipv4Address: Schema.String }))
})
/**
 * @category models
 * @since 0.1.0
 */
export type NetworkInspect = typeof NetworkInspect.Type

/**
 * What to create with `createNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface CreateNetworkOptions {
  readonly name: string
  /** Default `bridge`; `overlay` (on a swarm manager) spans the swarm's nodes. */
  readonly driver?: string
  /** No route to the outside. */
  readonly internal?: boolean
  /**
   * Plain containers (not only service tasks) may join it: an overlay network's option
   * (`docker network create --attachable`).
   */
  readonly attachable?: boolean
  readonly labels?: Readonly<Record<string, string>>
}

/**
 * What `createNetwork` answers.
 *
 * @category models
 * @since 0.1.0
 */
export interface CreatedNetwork {
  readonly id: string
}

/**
 * Options for `connectNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ConnectNetworkOptions {
  /** Names the container answers to on this network. */
  readonly aliases?: ReadonlyArray<string>
}

/**
 * Options for `disconnectNetwork`.
 *
 * @category options
 * @since 0.1.0
 */
export interface DisconnectNetworkOptions {
  readonly force?: boolean
}

/**
 * Options for `listNetworks`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ListNetworksOptions {
  readonly labels?: LabelFilter
  /** Exact names (the engine's own filter matches substrings; this one does not). */
  readonly names?: ReadonlyArray<string>
}

/**
 * A volume as `inspect` and `list` show it.
 *
 * @category models
 * @since 0.1.0
 */
export const VolumeInspect = Schema.Struct({
  name: Schema.String,
  /** `local` unless created with another driver. */
  driver: Schema.String,
  /** Where the volume's data lives on the engine's host. */
  mountpoint: Schema.String,
  labels: Labels,
  /** The driver options it was created with. */
  options: Labels,
  /** `local` or `global`. */
  scope: Schema.String,
  /** ISO time; absent when the driver does not say. */
  createdAt: Schema.optionalKey(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type VolumeInspect = typeof VolumeInspect.Type

/**
 * What to create with `createVolume`. Creating a name that exists with the same driver gives
 * back the existing volume, as the engine does.
 *
 * @category options
 * @since 0.1.0
 */
export interface CreateVolumeOptions {
  /** The engine picks a random 64-hex name when absent. */
  readonly name?: string
  readonly labels?: Readonly<Record<string, string>>
  /** Default `local`. */
  readonly driver?: string
  /** Options for the driver (for `local`: `type`, `device`, `o`, as `mount` takes them). */
  readonly driverOptions?: Readonly<Record<string, string>>
}

/**
 * Options for `listVolumes`.
 *
 * @category options
 * @since 0.1.0
 */
export interface ListVolumesOptions {
  readonly labels?: LabelFilter
}

/**
 * Options for `removeVolume`.
 *
 * @category options
 * @since 0.1.0
 */
export interface RemoveVolumeOptions {
  /**
   * A missing volume is not an error (as the engine does with `force`). A volume in use by a
   * container is refused (`Conflict`) either way.
   */
  readonly force?: boolean
}
